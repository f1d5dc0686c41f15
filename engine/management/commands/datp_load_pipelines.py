"""Load pipeline definitions from JSON files or folders: every problem is reported, nothing stored if any."""
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from engine.errors import InvalidPipeline
from engine.services.pipelines import pipelines_publish_all


class Command(BaseCommand):
    help = "Load pipeline definitions (files or folders of *.json); all or nothing."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+")

    def handle(self, *args, **options):
        files = []
        for raw in options["paths"]:
            path = Path(raw)
            if path.is_dir():
                files.extend(sorted(path.glob("*.json")))
            elif path.is_file():
                files.append(path)
            else:
                raise CommandError(f"{raw}: no such file or folder")
        definitions, errors = [], []
        for path in files:
            try:
                definitions.append((str(path), json.loads(path.read_text())))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                errors.append(f"{path}: not valid JSON ({exc})")
        if errors:
            raise CommandError("\n".join(errors) + "\nNothing was stored.")
        try:
            results = pipelines_publish_all(definitions=definitions)
        except InvalidPipeline as exc:
            raise CommandError("\n".join(exc.errors) + "\nNothing was stored.") from exc
        for (label, _), (version, created) in zip(definitions, results, strict=True):
            state = "new version" if created else "unchanged"
            self.stdout.write(f"{version.pipeline_id}: {state} {version.pk[:12]} ({label})")
