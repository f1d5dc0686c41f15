"""The production web server under 50 concurrent long polls: gunicorn (gthread) and a real node.

While 50 `?wait=` polls are held, the API still answers at once and, on PostgreSQL, the polls hold
no database connection; when the switches are set every poll replies `success` well before its wait.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from tests.runtime.conftest import ROOT, System

POLLS = 50
WAIT_SECONDS = 20

pytestmark = pytest.mark.nodes


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served(tmp_path):
    """A system with one node and gunicorn as `make serve` runs it, on a free port."""
    system = System(tmp_path, lease_seconds=30)
    port = free_port()
    log = open(tmp_path / "gunicorn.log", "w")
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "datp_site.wsgi", "--worker-class", "gthread", "--workers", "2",
         "--threads", "32", "--worker-connections", "32", "--keep-alive", "0", "--bind", f"127.0.0.1:{port}",
         "--no-control-socket"],
        cwd=ROOT, env=system.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    system.start_node(workers=4)
    system.base = f"http://127.0.0.1:{port}/api/v1"
    try:
        system.wait_for(lambda: get(system.base + "/health", timeout=2)[0] == 200, timeout=30, interval=0.2,
                        what="gunicorn to answer")
        yield system
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=30)
        system.close()


def request(url, key=None, timeout=30, method="GET", body=None):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    data = None
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers, method=method),
                                    timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except OSError:
        return None, None


def get(url, key=None, timeout=30):
    return request(url, key, timeout)


def database_connections(system):
    """PostgreSQL backends on the system's database (our own probe excluded)."""
    with psycopg.connect(system.env["DATABASE_URL"], autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                            "AND pid <> pg_backend_pid()").fetchone()[0]


def test_fifty_long_polls_leave_the_api_responsive_hold_no_connections_and_reply_when_finished(served):
    key = served.drive("key")
    tx_ids = served.drive("start", "rt-switch", POLLS)
    served.wait_for(lambda: set(served.statuses(tx_ids).values()) == {"sleeping"}, what="every transaction asleep")
    postgres = served.env["DATABASE_URL"].startswith("postgres")
    baseline = database_connections(served) if postgres else 0

    replies, lock = {}, threading.Lock()

    def poll(tx_id):
        started = time.monotonic()
        status, body = get(f"{served.base}/transactions/{tx_id}?wait=PT{WAIT_SECONDS}S", key, timeout=60)
        with lock:
            replies[tx_id] = (status, body and body["status"], time.monotonic(), time.monotonic() - started)

    with ThreadPoolExecutor(POLLS) as pool:
        for tx_id in tx_ids:
            pool.submit(poll, tx_id)
        time.sleep(2)  # wall clock on purpose: real processes, the polls must be held by now
        assert not replies, f"{len(replies)} polls replied before anything finished"

        health_seconds, connections = [], []
        for _ in range(5):
            started = time.monotonic()
            assert get(served.base + "/health", timeout=5)[0] == 200
            health_seconds.append(time.monotonic() - started)
            if postgres:
                connections.append(database_connections(served))
            time.sleep(0.2)
        assert max(health_seconds) < 1.0, health_seconds
        assert not replies
        if postgres:
            assert max(connections) - baseline < 15, (baseline, connections)

        switched = {}

        def switch(tx_id):
            switched[tx_id] = time.monotonic()
            assert request(f"{served.base}/transactions/{tx_id}/switches/go", key, method="PUT",
                           body={"value": True})[0] == 200

        with ThreadPoolExecutor(8) as setters:
            list(setters.map(switch, tx_ids))
    # the pool has joined: every poll replied
    after_switch = [replies[tx_id][2] - switched[tx_id] for tx_id in tx_ids]
    slowest = max(reply[3] for reply in replies.values())
    print(f"health max {max(health_seconds):.3f}s; connections baseline {baseline}, during {connections}; "
          f"switch to reply max {max(after_switch):.2f}s; slowest poll {slowest:.2f}s")
    assert {reply[:2] for reply in replies.values()} == {(200, "success")}
    assert max(after_switch) < 5, after_switch
