"""Delete finished transactions older than a duration, and everything that hangs off them, in batches."""
from django.core.management.base import BaseCommand, CommandError

from engine.errors import DatpError
from engine.services.prune import transactions_prune


class Command(BaseCommand):
    help = "Delete transactions that finished more than --older-than (ISO 8601, e.g. P90D) ago."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", required=True)
        parser.add_argument("--batch", type=int, default=500)

    def handle(self, *args, older_than, batch, **options):
        try:
            deleted = transactions_prune(older_than=older_than, batch=batch)
        except DatpError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        self.stdout.write(f"deleted {deleted} transactions")
