"""The URLs of /api/v1/ (namespace `api`)."""
from django.urls import path

from engine.api.methods import by_method
from engine.api.views.batch import TransactionStartBatchApi
from engine.api.views.callbacks import CallbackGetApi, CallbackUpdateApi
from engine.api.views.deadlines import TransactionUpdateApi
from engine.api.views.global_switches import GlobalSwitchListApi, GlobalSwitchSetApi
from engine.api.views.listing import TransactionByExternalIdApi, TransactionListApi
from engine.api.views.node_groups import (
    NodeGroupGetApi,
    NodeGroupListApi,
    NodeGroupUpdateApi,
)
from engine.api.views.pipelines import (
    PipelineGetApi,
    PipelineListApi,
    PipelinePublishApi,
    PipelineUseVersionApi,
)
from engine.api.views.schedules import (
    ScheduleBackfillApi,
    ScheduleCreateApi,
    ScheduleDeleteApi,
    ScheduleGetApi,
    ScheduleListApi,
    SchedulePauseApi,
    ScheduleResumeApi,
    ScheduleTriggerApi,
    ScheduleUpdateApi,
)
from engine.api.views.switches import SwitchClearApi, SwitchListApi, SwitchSetApi
from engine.api.views.system import HealthApi, StepTypeListApi
from engine.api.views.transactions import (
    TransactionCancelApi,
    TransactionFanOutsApi,
    TransactionGetApi,
    TransactionJournalApi,
    TransactionRetryApi,
    TransactionRewindApi,
    TransactionStartApi,
    TransactionStepsApi,
    TransactionWakeApi,
)
from engine.api.views.version_moves import (
    PipelineVersionMoveApi,
    PipelineVersionMoveGetApi,
)

app_name = "api"

TX = "transactions/<str:tx_id>"

urlpatterns = [
    path("transactions", by_method(GET=TransactionListApi, POST=TransactionStartApi), name="transactions"),
    path("transactions/batch", TransactionStartBatchApi.as_view(), name="transactions-batch"),
    path("transactions/by-external-id/<path:external_id>", TransactionByExternalIdApi.as_view(),
         name="transaction-by-external-id"),
    path(TX, by_method(GET=TransactionGetApi, PATCH=TransactionUpdateApi), name="transaction"),
    path(f"{TX}/steps", TransactionStepsApi.as_view(), name="transaction-steps"),
    path(f"{TX}/journal", TransactionJournalApi.as_view(), name="transaction-journal"),
    path(f"{TX}/fan-outs", TransactionFanOutsApi.as_view(), name="transaction-fan-outs"),
    path(f"{TX}/cancel", TransactionCancelApi.as_view(), name="transaction-cancel"),
    path(f"{TX}/wake", TransactionWakeApi.as_view(), name="transaction-wake"),
    path(f"{TX}/retry", TransactionRetryApi.as_view(), name="transaction-retry"),
    path(f"{TX}/rewind", TransactionRewindApi.as_view(), name="transaction-rewind"),
    path(f"{TX}/switches", SwitchListApi.as_view(), name="switches"),
    path(f"{TX}/switches/<str:name>", by_method(PUT=SwitchSetApi, DELETE=SwitchClearApi), name="switch"),
    path("callbacks/<str:token>", by_method(POST=CallbackUpdateApi, GET=CallbackGetApi), name="callback"),
    path("switches", GlobalSwitchListApi.as_view(), name="global-switches"),
    path("switches/<str:name>", by_method(PUT=GlobalSwitchSetApi), name="global-switch"),
    path("pipelines", PipelineListApi.as_view(), name="pipelines"),
    path("pipelines/<str:name>", by_method(GET=PipelineGetApi, PUT=PipelinePublishApi), name="pipeline"),
    path("pipelines/<str:name>/versions/<str:version>/use", PipelineUseVersionApi.as_view(),
         name="pipeline-use-version"),
    path("pipelines/<str:name>/versions/<str:version>/move", PipelineVersionMoveApi.as_view(),
         name="pipeline-version-move"),
    path("pipelines/<str:name>/moves/<str:job_id>", PipelineVersionMoveGetApi.as_view(),
         name="pipeline-version-move-get"),
    path("schedules", by_method(GET=ScheduleListApi, POST=ScheduleCreateApi), name="schedules"),
    path("schedules/<str:name>", by_method(GET=ScheduleGetApi, PATCH=ScheduleUpdateApi, DELETE=ScheduleDeleteApi),
         name="schedule"),
    path("schedules/<str:name>/pause", SchedulePauseApi.as_view(), name="schedule-pause"),
    path("schedules/<str:name>/resume", ScheduleResumeApi.as_view(), name="schedule-resume"),
    path("schedules/<str:name>/trigger", ScheduleTriggerApi.as_view(), name="schedule-trigger"),
    path("schedules/<str:name>/backfill", ScheduleBackfillApi.as_view(), name="schedule-backfill"),
    path("node-groups", NodeGroupListApi.as_view(), name="node-groups"),
    path("node-groups/<str:name>", by_method(GET=NodeGroupGetApi, PATCH=NodeGroupUpdateApi), name="node-group"),
    path("step-types", StepTypeListApi.as_view(), name="step-types"),
    path("health", HealthApi.as_view(), name="health"),
]
