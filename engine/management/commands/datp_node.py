"""Run a node: a django-q2 cluster for one node group plus the engine's loops, until SIGTERM."""
from django.core.management.base import BaseCommand

from engine import conf
from engine.runtime.node import Node


class Command(BaseCommand):
    help = "Run a DATP node for one node group (python manage.py datp_node --group master --workers 4)."

    def add_arguments(self, parser):
        parser.add_argument("--group", default=conf.get("DEFAULT_NODE_GROUP"),
                            help="the node group to serve (default: DATP DEFAULT_NODE_GROUP, master)")
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--grace", type=float, default=None, help="seconds running steps get on SIGTERM")
        parser.add_argument("--metrics-port", type=int, default=None,
                            help="serve this node's own figures for Prometheus on 127.0.0.1:PORT/metrics")

    def handle(self, *args, group, workers, grace, metrics_port, **options):
        self.stdout.write(f"DATP node for node group {group!r} with {workers} workers; SIGTERM or Ctrl-C stops it "
                          "after its running steps finish.")
        self.stdout.flush()
        code = Node(group=group, workers=workers, grace_seconds=grace, metrics_port=metrics_port).run()
        if code:
            raise SystemExit(code)
