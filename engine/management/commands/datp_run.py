"""`make run`: migrate, load pipelines/, first-run set-up, then serve and run a node per node group."""
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from engine.runtime.launcher import Launcher
from engine.services.setup import demo_setup

BANNER = """
==============================================================================
 DATP is set up. These are shown once: store them.
   MONDAT login: {username} / {password}   (http://{address}/mondat/, admin: /admin/)
   API key of owner '{owner}' (system): {api_key}

 Start a transaction:
   curl -s -X POST http://{address}/api/v1/transactions \\
     -H "Authorization: Bearer {api_key}" -H "Content-Type: application/json" \\
     -d '{{"transaction_type": "example", "data": {{}}, "wait": "PT5S"}}'
==============================================================================
"""


class Command(BaseCommand):
    help = "Run the whole system on this machine until Ctrl-C (what `make run` does)."

    def add_arguments(self, parser):
        parser.add_argument("--address", default="127.0.0.1:8000",
                            help="host:port the web server listens on (make run ADDRESS=...); default %(default)s")
        parser.add_argument("--workers", type=int, default=2,
                            help="workers of the node serving each node group; default %(default)s")
        parser.add_argument("--pipelines", default=str(Path(settings.BASE_DIR) / "pipelines"),
                            help="folder of pipeline definitions (*.json) loaded at start; default %(default)s")

    def handle(self, *args, address, workers, pipelines, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        call_command("datp_load_pipelines", pipelines)
        created = demo_setup()
        if created:
            self.stdout.write(BANNER.format(address=address, **created))
        else:
            self.stdout.write(f"DATP on http://{address}/mondat/ (credentials were printed on the first run).")
        raise SystemExit(Launcher(address=address, workers=workers).run())
