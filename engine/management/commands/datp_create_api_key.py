"""Create an API key for an owner (created if needed) and print it, alone, on standard output."""
from django.core.management.base import BaseCommand, CommandError

from engine.errors import DatpError
from engine.services.owners import api_key_create


class Command(BaseCommand):
    help = "Create an API key; prints only the key on stdout (it is shown once: store it)."

    def add_arguments(self, parser):
        parser.add_argument("--owner", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--system", action="store_true", help="may publish pipelines and change node groups")

    def handle(self, *args, owner, name, system, **options):
        try:
            _, raw = api_key_create(owner=owner, name=name, system=system)
        except DatpError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        self.stdout.write(raw)
