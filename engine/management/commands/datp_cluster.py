"""Run a node group's django-q2 cluster that stops itself when its node is gone (datp_node starts it)."""
from engine.runtime.cluster_command import Command  # noqa: F401
