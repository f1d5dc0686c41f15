"""Migration 0009 hashes the callback tokens already stored: whoever holds one can still use it."""
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from engine import tokens
from engine.models import Callback
from engine.services.callbacks import callback_update

BEFORE = [("engine", "0008_list_order_indexes")]


def migrate(targets=None):
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    return executor


@pytest.mark.django_db(transaction=True)
def test_the_migration_hashes_existing_tokens_and_they_keep_working(harness):
    harness.load({"name": "p", "steps": [{"type": "util/wait-switch", "config": {"switch": "go"}}]})
    tx_ids = [harness.start("p") for _ in range(3)]
    harness.settle()
    try:
        executor = migrate(BEFORE)
        old = executor.loader.project_state(BEFORE).apps.get_model("engine", "Callback")
        old.objects.bulk_create(old(tx_id=tx_id, name="default", token=f"old-plain-token-{n}", created_at=harness.now(),
                                    updated_at=harness.now()) for n, tx_id in enumerate(tx_ids))
    finally:
        migrate()
    rows = {row.tx_id: row for row in Callback.objects.all()}
    assert [(rows[tx_id].token_hash, rows[tx_id].token_salt) for tx_id in tx_ids] == [
        (tokens.digest(f"old-plain-token-{n}"), "") for n in range(3)]
    assert callback_update(token="old-plain-token-1", status="progress")["callback"]["status"] == "progress"
    assert Callback.objects.get(tx_id=tx_ids[1]).status == "progress"
