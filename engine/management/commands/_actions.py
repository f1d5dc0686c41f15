"""Shared plumbing of the operator commands: typed errors become clean command errors."""
import json
import os
import pwd

from django.core.management.base import BaseCommand, CommandError

from engine.errors import DatpError


def command_actor():
    try:
        return f"cli:{pwd.getpwuid(os.getuid()).pw_name}"
    except KeyError:
        return "cli"


def parse_value(text):
    """A switch value from the command line: JSON (true, 3, "x", null), or else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


class ActionCommand(BaseCommand):
    """A command that calls one service on one transaction and prints its new status."""

    def add_arguments(self, parser):
        parser.add_argument("tx_id")
        parser.add_argument("--reason", default="")

    def act(self, **options):
        raise NotImplementedError

    def handle(self, *args, **options):
        try:
            result = self.act(actor=command_actor(), **options)
        except DatpError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        self.stdout.write(result)
