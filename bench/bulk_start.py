"""Time a bulk start of N transactions (POST /api/v1/transactions/batch) against N lone starts
(POST /api/v1/transactions), through Django's test client, interleaved round by round.

    DATABASE_URL=postgresql://... .venv/bin/python bench/bulk_start.py [--items 1000] [--rounds 3]

Runs on a test database of its own (`test_<name>`, created and dropped, as the test suite does), so the
database of DATABASE_URL is not touched. Prints each round and the median per way, in ms.
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "datp_site.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run(args.items, args.rounds)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(items, rounds):
    from django.db import connection
    from rest_framework.test import APIClient

    from engine.services.owners import api_key_create, owner_ensure
    from engine.services.pipelines import pipelines_publish_all

    owner_ensure(name="bench")
    pipelines_publish_all(definitions=[("bench", {"name": "echo", "steps": [{"name": "echo", "type": "util/echo"}]})])
    _, raw = api_key_create(owner="bench", name="bench")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    def batch(n):
        response = client.post("/api/v1/transactions/batch", {"transactions": [
            {"transaction_type": "echo", "data": {"n": i}} for i in range(items)]}, format="json")
        assert response.status_code == 200 and response.json()["created"] == items, response.content[:300]

    def singles(n):
        for i in range(items):
            response = client.post("/api/v1/transactions", {"transaction_type": "echo", "data": {"n": i}},
                                   format="json")
            assert response.status_code == 201, response.content[:300]

    ways = {"batch": batch, "singles": singles}
    batch(0), singles(0)  # warm-up: imports, prepared statements, the pipeline cache
    found = {name: [] for name in ways}
    for n in range(rounds):
        order = list(ways) if n % 2 == 0 else list(reversed(ways))
        for name in order:
            started = time.perf_counter()
            ways[name](n)
            found[name].append((time.perf_counter() - started) * 1000)
        print(f"round {n + 1}: " + ", ".join(f"{name} {found[name][-1]:.0f} ms" for name in ways), flush=True)
    print(f"{connection.vendor}, {items} items, median of {rounds} rounds: " + ", ".join(
        f"{name} {statistics.median(times):.0f} ms ({statistics.median(times) / items:.2f} ms/item)"
        for name, times in found.items()))
    ratio = statistics.median(found["singles"]) / statistics.median(found["batch"])
    print(f"singles / batch: {ratio:.1f}x")


if __name__ == "__main__":
    main()
