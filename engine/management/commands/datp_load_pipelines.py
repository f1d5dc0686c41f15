"""Load pipeline definitions from JSON files or folders: every problem is reported, nothing stored if any."""
from django.core.management.base import BaseCommand, CommandError

from engine.errors import InvalidPipeline
from engine.services.pipeline_files import MissingPath, json_files, read_definitions
from engine.services.pipelines import pipelines_publish_all


class Command(BaseCommand):
    help = "Load pipeline definitions (files or folders of *.json); all or nothing."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+")

    def handle(self, *args, **options):
        try:
            files = json_files(options["paths"])
        except MissingPath as exc:
            raise CommandError(str(exc)) from exc
        definitions, errors = read_definitions(files)
        if errors:
            raise CommandError("\n".join(errors) + "\nNothing was stored.")
        try:
            results = pipelines_publish_all(definitions=definitions)
        except InvalidPipeline as exc:
            raise CommandError("\n".join(exc.errors) + "\nNothing was stored.") from exc
        for (label, _), (version, created) in zip(definitions, results, strict=True):
            state = "new version" if created else "unchanged"
            self.stdout.write(f"{version.pipeline_id}: {state} {version.pk[:12]} ({label})")
