"""The general claim reads the oldest queued transaction of its group through the claim index (tx_claim_idx,
partial on status = 'queued'), not by reading and sorting the whole table: SQLite uses a partial index only
for a condition that matches the index's own, which a one-value IN does not."""
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engine.services.state.claim import _candidates


def test_the_claim_reads_the_claim_index(db):
    with CaptureQueriesContext(connection) as queries:
        _candidates("master")
    (sql,) = [query["sql"] for query in queries.captured_queries]
    assert "\"status\" = 'queued'" in sql and "IN ('queued')" not in sql
    if connection.vendor == "sqlite":  # PostgreSQL also sees that a one-value IN implies the index's condition
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
        assert "USING INDEX tx_claim_idx" in plan and "TEMP B-TREE" not in plan
