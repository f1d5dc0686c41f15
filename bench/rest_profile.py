"""CPU per `POST /api/v1/transactions` in one process, without a web server: the WSGI handler called directly.

    DATABASE_URL=postgresql://.../db .venv/bin/python bench/rest_profile.py [--count 2000] [--profile out.prof]

Sets up the database (migrate, the bench owner, bench-echo3 and an API key, as bench/engine_driver.py's
setup does), then POSTs bench P2's body (`{"transaction_type": "bench-echo3", "data": {}}`, `Authorization:
Bearer <key>`) `--count` times through `datp_site.wsgi.application` with a WSGI environ like gunicorn's,
after 200 of warm-up. Prints one JSON line: CPU ms per POST (time.process_time: this process only, so
PostgreSQL's own CPU is not in it), wall ms per POST, and the statements of one POST as Django counts them
(CaptureQueriesContext) and as the server counts them (pg_stat_statements is not needed: the
connection's own transaction counter, xact_commit of pg_stat_database, before and after).
`--profile out.prof` runs the measured POSTs under cProfile and writes its stats (read them with
`python -m pstats out.prof`, or `--top 40` prints the heaviest functions by own time).

`--served` measures the same POSTs through gunicorn instead, started with `make serve`'s settings (gthread, 2
workers × 32 threads, no keep-alive) on a free port, from 16 connections (bench/rest_load.py, as P2 sends
them): CPU ms per POST of the web workers (their utime + stime from /proc), all of the web server's work.

To compare two checkouts, run it on each alternately, several times, and compare medians (DATP_CHECKOUT
names the checkout whose engine runs; each run prints it):
    for i in 1 2 3 4 5; do for d in ../main .; do DATP_CHECKOUT=$d python bench/rest_profile.py; done; done
"""
import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

# The checkout whose code runs: this one, or DATP_CHECKOUT's (to measure another build with this same script).
ROOT = Path(os.environ.get("DATP_CHECKOUT") or Path(__file__).resolve().parents[1]).resolve()
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "datp_site.settings")

BODY = json.dumps({"transaction_type": "bench-echo3", "data": {}}).encode()


def setup():
    from engine_driver import setup as driver_setup

    return driver_setup(None)["api_key"]


def environ(api_key):
    """A WSGI environ for one POST, as gunicorn builds it (no keep-alive, one request per connection)."""
    return {
        "REQUEST_METHOD": "POST", "SCRIPT_NAME": "", "PATH_INFO": "/api/v1/transactions", "QUERY_STRING": "",
        "RAW_URI": "/api/v1/transactions", "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "50000",
        "HTTP_HOST": "127.0.0.1:8000", "HTTP_ACCEPT_ENCODING": "identity", "HTTP_CONNECTION": "close",
        "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(BODY)),
        "HTTP_AUTHORIZATION": f"Bearer {api_key}", "wsgi.input": io.BytesIO(BODY), "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.multithread": True, "wsgi.multiprocess": True,
        "wsgi.run_once": False, "wsgi.file_wrapper": None, "wsgi.input_terminated": True,
    }


def post(application, api_key):
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    response = application(environ(api_key), start_response)
    body = b"".join(response)
    if hasattr(response, "close"):
        response.close()
    if not statuses[0].startswith("201"):
        raise SystemExit(f"POST answered {statuses[0]}: {body[:300]!r}")
    return body


def commits():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def worker_cpu_seconds(master):
    """The CPU seconds (user + system) of gunicorn's worker processes, children of `master`."""
    total = 0.0
    for task in Path(f"/proc/{master}/task").iterdir():
        for child in (task / "children").read_text().split():
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def served(api_key, count, warmup):
    """POST through gunicorn run as `make serve` runs it; return CPU ms per POST of its workers."""
    import signal
    import socket
    import subprocess
    import urllib.request

    from rest_load import post_many

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "datp_site.wsgi", "--worker-class", "gthread", "--workers", "2",
         "--threads", "32", "--worker-connections", "32", "--keep-alive", "0", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/v1/health", timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        body = json.loads(BODY)
        post_many(url, api_key, warmup, 16, body)
        before = worker_cpu_seconds(server.pid)
        began = time.perf_counter()
        post_many(url, api_key, count, 16, body)
        wall = time.perf_counter() - began
        return {"served_cpu_ms_per_post": round((worker_cpu_seconds(server.pid) - before) * 1000 / count, 3),
                "served_posts_per_second": round(count / wall, 1)}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--profile")
    parser.add_argument("--top", type=int, default=0)
    parser.add_argument("--served", action="store_true")
    options = parser.parse_args()

    import django

    django.setup()
    api_key = setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from datp_site.wsgi import application

    if options.served:
        print(json.dumps({"checkout": str(ROOT), "count": options.count,
                          **served(api_key, options.count, options.warmup)}))
        return
    for _ in range(options.warmup):
        post(application, api_key)
    with CaptureQueriesContext(connection) as captured:
        post(application, api_key)
    statements = [query["sql"].split()[0] for query in captured.captured_queries]

    profiler = None
    if options.profile or options.top:
        import cProfile

        profiler = cProfile.Profile(time.process_time)  # CPU, not the waits on the database
    wall, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    for _ in range(options.count):
        post(application, api_key)
    if profiler:
        profiler.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    result = {"checkout": str(ROOT), "count": options.count, "cpu_ms_per_post": round(cpu * 1000 / options.count, 3),
              "wall_ms_per_post": round(wall * 1000 / options.count, 3), "statements": len(statements),
              "statement_kinds": statements}
    if connection.vendor == "postgresql":
        # xact_commit counts every commit (and every autocommitted statement) of the database.
        # The statistics reach pg_stat_database within a second of each commit: wait them out.
        time.sleep(1.5)
        before = commits()
        for _ in range(50):
            post(application, api_key)
        time.sleep(1.5)
        result["server_transactions_per_post"] = round((commits() - before - 1) / 50, 2)
    if profiler:
        import pstats

        if options.profile:
            profiler.dump_stats(options.profile)
        if options.top:
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(options.top)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
