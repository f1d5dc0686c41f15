"""Node groups, the nodes serving them, pipelines and their immutable versions."""
from django.db import models


class NodeGroup(models.Model):
    name = models.CharField(primary_key=True, max_length=100)
    description = models.TextField(blank=True, default="")
    paused = models.BooleanField(default=False)
    max_concurrency = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    def __str__(self):
        return self.name


class Node(models.Model):
    node_id = models.CharField(primary_key=True, max_length=100)
    group = models.ForeignKey(NodeGroup, on_delete=models.CASCADE, related_name="nodes")
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    workers = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    # Set when the node was told to stop: its workers claim nothing more.
    stopping = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["group", "last_seen_at"], name="node_group_seen_idx")]

    def __str__(self):
        return self.node_id


class Pipeline(models.Model):
    """A named pipeline; what it does is in the version in use (`current_version`)."""

    name = models.CharField(primary_key=True, max_length=100)
    description = models.TextField(blank=True, default="")
    node_group = models.ForeignKey(NodeGroup, on_delete=models.PROTECT, related_name="pipelines")
    transaction_type = models.BooleanField(default=True)
    current_version = models.ForeignKey(
        "PipelineVersion", null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    def __str__(self):
        return self.name


class PipelineVersion(models.Model):
    """An immutable version: its id is the SHA-256 of its canonical JSON."""

    version = models.CharField(primary_key=True, max_length=64)
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="versions")
    definition = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["pipeline", "created_at"], name="pipever_pipeline_idx")]

    def __str__(self):
        return f"{self.pipeline_id}@{self.version[:12]}"

    @property
    def steps(self):
        return self.definition["steps"]

    def step_index(self, name):
        for index, step in enumerate(self.steps):
            if step["name"] == name:
                return index
        return None
