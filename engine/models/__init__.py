"""Every table of the engine; one module per area, re-exported here."""
from engine.models.bulk import BulkJob
from engine.models.fanout import FanOut, FanOutItem
from engine.models.figures import FigureMark, MinuteFigure, SleeperFigure, StatusFigure
from engine.models.owners import ApiKey, Owner
from engine.models.pipelines import Node, NodeGroup, Pipeline, PipelineVersion
from engine.models.schedules import Schedule, ScheduleEvent, ScheduleRun
from engine.models.transactions import JournalEntry, StepRun, Transaction
from engine.models.waits import (
    Callback,
    CallbackUpdate,
    GlobalSwitch,
    GlobalSwitchChange,
    Sleeper,
    Switch,
)
from engine.models.webhooks import WebhookDelivery

__all__ = [
    "ApiKey",
    "BulkJob",
    "Callback",
    "CallbackUpdate",
    "FanOut",
    "FanOutItem",
    "FigureMark",
    "GlobalSwitch",
    "GlobalSwitchChange",
    "JournalEntry",
    "MinuteFigure",
    "Node",
    "NodeGroup",
    "Owner",
    "Pipeline",
    "PipelineVersion",
    "Schedule",
    "ScheduleEvent",
    "ScheduleRun",
    "Sleeper",
    "SleeperFigure",
    "StatusFigure",
    "StepRun",
    "Switch",
    "Transaction",
    "WebhookDelivery",
]
