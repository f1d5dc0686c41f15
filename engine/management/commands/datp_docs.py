"""Write the step-types reference from each registered step type's config_schema."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from engine.steps import reference, registry


class Command(BaseCommand):
    help = ("Print a Markdown reference of the registered step types (their settings tables come from "
            "config_schema), or, with --update FILE, rewrite the settings sections of FILE in place.")

    def add_arguments(self, parser):
        parser.add_argument("what", choices=["step-types"], help="what to document (only step-types so far)")
        parser.add_argument("--update", metavar="FILE",
                            help="rewrite the <!-- settings: TYPE --> sections of this Markdown file")
        parser.add_argument("--builtin", action="store_true", help="only the built-in util/* step types")

    def handle(self, *args, **options):
        types = reference.builtin_types() if options["builtin"] else registry.all_types()
        if not options["update"]:
            self.stdout.write(reference.reference(types), ending="")
            return
        path = Path(options["update"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        text = path.read_text()
        updated = reference.update_sections(text, types)
        if updated != text:
            path.write_text(updated)
        missing = sorted(set(types) - set(reference.section_types(updated)))
        self.stdout.write(f"{path}: {'updated' if updated != text else 'already current'}")
        if missing:
            self.stdout.write(f"No settings section for: {', '.join(missing)}")
