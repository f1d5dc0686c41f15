"""Chaos scenarios of load and surroundings: several nodes and groups, volume with restarts, webhook
receivers misbehaving, calendar arithmetic in a DST time zone, `make run` interrupted, Redis as the broker."""
import http.server
import random
import signal
import subprocess
import sys
import threading
import time

from tests.chaos.harness import ROOT
from tests.chaos.report import Report, no_violations
from tests.chaos.scenarios_faults import ALL_SUCCESS, _mix, _settle, _wait_running, database_restart
from tests.machine import free_port


def several_nodes(world, size):
    """R4: two then three nodes on a group, children across two groups, max_concurrency, pause and resume."""
    short = size == "short"
    system = world(lease_seconds=5, groups={"beta": {}, "gamma": {"max_concurrency": 2}})
    report = Report("5. Several nodes", system)
    for _ in range(3):
        system.start_node("master", workers=2)
    system.start_node("beta", workers=2)
    system.start_node("gamma", workers=2)
    system.start_node("gamma", workers=2)
    ids = system.call("start", pipeline="ch-work", count=60 if short else 400, data={"work": 0.01})
    ids += system.call("start", pipeline="ch-cross", count=10 if short else 60, data={"work": 0.01})
    limited = system.call("start", pipeline="ch-limited", count=20 if short else 60, data={"work": 0.2})
    peak = 0
    while any(key.endswith(("queued", "running")) for key in system.call("counts", tx_ids=limited)):
        peak = max(peak, len(system.call("running", group="gamma")))
        time.sleep(0.05)
    system.call("group", name="gamma", paused=True)
    ordered = system.call("start", pipeline="ch-limited", count=12, data={"work": 0.05})
    time.sleep(2)
    held = system.call("counts", tx_ids=ordered)
    system.call("group", name="gamma", paused=False)
    counts = _settle(system, ids + limited + ordered, 300, flip=False)
    claims = sorted((min(started_times(system, tx)), index) for index, tx in enumerate(ordered))
    displacement = max(abs(rank - index) for rank, (_, index) in enumerate(claims))
    figures = system.verify(ALL_SUCCESS, ids + limited + ordered)
    assert peak <= 2, f"gamma ran {peak} transactions at once with max_concurrency 2"
    assert held == {"ch-limited:queued": 12}, held
    assert displacement <= 2, f"resume broke the queue order by {displacement} places"
    workers = len({run_node for run_node in worker_names(system, ids[:30])})
    report.injected("3 nodes on master, 1 on beta (children of master's parents), 2 on gamma (max_concurrency 2); "
                    "gamma paused with 12 queued, then resumed")
    report.figures(figures, counts, gamma_peak_running=peak, resume_order_displacement=displacement,
                   master_workers_seen=workers)
    report.held(no_violations(figures), "no double execution; nothing stuck; max_concurrency held at every sample; "
                "a paused group kept its queue and resumed in order")
    return report


def started_times(system, tx_id):
    for line in system.runlog.read_text().splitlines():
        if line.startswith(f"{tx_id} a start"):
            yield float(line.rsplit("t=", 1)[1])


def worker_names(system, tx_ids):
    for tx_id in tx_ids:
        for run in system.call("runs", tx_id=tx_id):
            yield run["node"]


def volume(world, size):
    """R7: many transactions, 20 % sleeping on switches flipped in random order from several processes,
    nodes restarted twice (one SIGTERM, one SIGKILL)."""
    total = 1000 if size == "short" else 10000
    system = world(lease_seconds=5)
    report = Report("8. Volume with restarts", system)
    nodes = [system.start_node(workers=3), system.start_node(workers=3)]
    quick = system.call("start", pipeline="ch-echo", count=total * 8 // 10)  # one step: the run stays bounded
    waiting = system.call("start", pipeline="ch-switch", count=total // 5)
    system.wait_until(lambda: len(system.call("sleeping_on", switch="go")) >= len(waiting) // 2, 600, "sleepers")
    random.shuffle(waiting)
    flippers = [subprocess.Popen([sys.executable, "-m", "tests.chaos.flip", *chunk], cwd=ROOT, env=system.env,
                                 stdout=subprocess.DEVNULL, stderr=open(system.workdir / "flip.log", "a"))
                for chunk in (waiting[i::3] for i in range(3))]
    system.others.extend(flippers)
    time.sleep(3)
    code, _ = system.stop_node(nodes[0])
    nodes[0] = system.start_node(workers=3)
    _wait_running(system, nodes[1])
    system.kill_node(nodes[1])
    nodes[1] = system.start_node(workers=3)
    for flipper in flippers:
        assert flipper.wait(timeout=900) == 0, "a switch flipper failed"
    counts = system.wait_finished(900, quick + waiting)
    figures = system.verify(ALL_SUCCESS, quick + waiting, faults_armed=True)
    assert counts == {"ch-echo:success": len(quick), "ch-switch:success": len(waiting)}, counts
    report.injected(f"{total} transactions, {len(waiting)} sleeping on switches flipped in random order by 3 "
                    "processes; a node restarted with SIGTERM (exit code %s), another with SIGKILL" % code)
    report.figures(figures, counts)
    report.held(no_violations(figures), "every one finished; counts by status match the pipelines")
    return report


class Receiver(http.server.ThreadingHTTPServer):
    """A webhook receiver whose behaviour a scenario sets per path: fail N times, answer slowly, or accept."""

    def __init__(self):
        self.plan, self.calls, self.times = {}, {}, {}
        super().__init__(("127.0.0.1", free_port()), _Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        calls = self.server.calls[self.path] = self.server.calls.get(self.path, 0) + 1
        self.server.times.setdefault(self.path, []).append(time.monotonic())
        kind, count = self.server.plan.get(self.path, ("ok", 0))
        if kind == "slow" and calls <= count:
            time.sleep(12)  # past the 10 s webhook timeout
        status = 500 if kind == "fail" and calls <= count else 200
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


def webhooks(world, size):
    """R8: receiver down, slow (past the timeout) and answering 500: retried with backoff, ends delivered or
    dead, and no node is blocked meanwhile."""
    system = world(lease_seconds=5)
    report = Report("9. Webhook receiver down, slow and failing", system)
    system.start_node(workers=2)
    receiver = Receiver()
    base = f"http://127.0.0.1:{receiver.server_port}"
    receiver.plan = {**{f"/fail/{n}": ("fail", 3) for n in range(3)}, "/slow": ("slow", 1)}
    down_port = free_port()
    ids = []
    for n in range(3):  # a path each: every delivery is answered 500 three times, then 200
        ids += system.call("start", pipeline="ch-echo", count=1, webhook=f"{base}/fail/{n}")
    ids += system.call("start", pipeline="ch-echo", count=1, webhook=f"{base}/slow")
    ids += system.call("start", pipeline="ch-echo", count=2, webhook=f"http://127.0.0.1:{down_port}/down")
    time.sleep(1)
    began = time.monotonic()
    busy = system.call("start", pipeline="ch-work", count=20, data={"work": 0.05})
    _settle(system, busy, 60, flip=False)
    others_done = time.monotonic() - began
    late = http.server.ThreadingHTTPServer(("127.0.0.1", down_port), _Handler)
    late.plan, late.calls, late.times = {}, {}, {}
    threading.Thread(target=late.serve_forever, daemon=True).start()
    system.wait_until(lambda: set(system.call("webhooks")) <= {"delivered", "dead"}, 120, "every delivery to end")
    deliveries = system.call("webhooks")
    late.shutdown()
    receiver.shutdown()
    figures = system.verify(ALL_SUCCESS, ids + busy)
    assert deliveries["delivered"]["n"] == 6 and set(deliveries) == {"delivered"}, deliveries
    assert receiver.calls == {"/fail/0": 4, "/fail/1": 4, "/fail/2": 4, "/slow": 2}, receiver.calls
    gaps = [[round(b - a, 1) for a, b in zip(times, times[1:])] for path, times in sorted(receiver.times.items())
            if path.startswith("/fail/")]
    # backoff 1, 2, 4 s, and never held up by the slow receiver's 10 s meanwhile
    assert all(low - 0.2 <= gap <= low + 4 for row in gaps for low, gap in zip((1, 2, 4), row)), gaps
    assert others_done < 30, f"other transactions waited {others_done:.1f}s behind a slow receiver"
    report.injected("3 deliveries answered 500 three times, 1 answered after 12 s (timeout 10 s), 2 to a port "
                    "closed for a while (ending `dead` takes 12 attempts over ~34 min of backoff: tests/engine checks it in "
                    "virtual time)")
    report.figures(figures, system.call("counts", tx_ids=ids + busy), deliveries=deliveries,
                   receiver_calls=receiver.calls, seconds_between_attempts=gaps,
                   others_finished_seconds=round(others_done, 1))
    report.held(no_violations(figures), "failed attempts were retried after 1, 2, 4 s and delivered, never "
                "held up by the slow receiver; 20 other transactions finished meanwhile")
    return report


def calendar(world, size):
    """R9: P1M from 31 January, leap days, a DST change, computed by processes in a non-UTC time zone."""
    system = world(lease_seconds=5, env={"TZ": "America/New_York"})
    report = Report("10. Calendar", system)
    cases = system.call("calendar")
    wrong = [case for case in cases if case["got"] != case["want"]]
    system.start_node(workers=1)
    ids = system.call("start", pipeline="ch-echo", count=1)
    _settle(system, ids, 60, flip=False)
    assert not wrong, wrong
    report.injected("server processes with TZ=America/New_York; durations added across month ends, leap days, "
                    "a year and the March and November DST changes")
    report.figures({"transactions": len(cases)}, cases=len(cases))
    report.held(True, "every wake time equals the UTC calendar arithmetic: " +
                "; ".join(f"{case['from']} + {case['duration']} = {case['got']}" for case in cases[:4]))
    return report


def make_run_interrupted(world, size):
    """R10: `make run` stopped with Ctrl-C and started again, several times, with work in flight."""
    system = world(lease_seconds=5)
    report = Report("11. make run interrupted with Ctrl-C", system)
    rounds = 3 if size == "short" else 5
    ids = system.call("start", pipeline="ch-work", count=80, data={"work": 0.3})
    ids += system.call("start", pipeline="ch-long-sleep", count=10)
    stops = []
    for _ in range(rounds):
        launcher = system._popen([sys.executable, "manage.py", "datp_run", "--address",
                                  f"127.0.0.1:{free_port()}"], "make-run")
        time.sleep(6)
        began = time.monotonic()
        launcher.send_signal(signal.SIGINT)
        stops.append((launcher.wait(timeout=120), round(time.monotonic() - began, 1)))
    final = system._popen([sys.executable, "manage.py", "datp_run", "--address", f"127.0.0.1:{free_port()}"],
                          "make-run")
    counts = _settle(system, ids, 180, flip=False)
    final.send_signal(signal.SIGINT)
    stops.append((final.wait(timeout=120), 0))
    figures = system.verify(ALL_SUCCESS, ids, faults_armed=True)
    assert all(code == 0 for code, _ in stops), stops
    report.injected(f"{rounds} x SIGINT to `manage.py datp_run` 6 s after it started, with 90 transactions in flight")
    report.figures(figures, counts, stops=stops)
    report.held(no_violations(figures), "each Ctrl-C stopped everything and exited 0; started again on the same data "
                "it finished every transaction")
    return report


class QueueSampler:
    """The peak length of a Redis list, sampled 5 times a second on a thread until stop()."""

    def __init__(self, url, key):
        import redis

        self.client, self.key, self.peak, self.running = redis.from_url(url), key, 0, True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self):
        import redis

        while self.running:
            try:
                self.peak = max(self.peak, self.client.llen(self.key))
            except redis.RedisError:  # the scenario restarts it
                pass
            time.sleep(0.2)

    def stop(self):
        self.running = False
        self.thread.join(timeout=5)
        return self.peak


def redis_broker(world, size):
    """R12: the kill and database-restart scenarios with Redis as the django-q2 broker, Redis killed too."""
    system = world(lease_seconds=4, broker="redis")
    report = Report("12. Redis as the broker: nodes and Redis killed", system)
    nodes = [system.start_node(workers=2), system.start_node(workers=2)]
    ids = _mix(system, 3 if size == "short" else 20)
    sampler = QueueSampler(system.redis.url, "django_q:master:q")
    _wait_running(system, nodes[0])
    system.kill_node(nodes[0])
    system.redis.kill()
    time.sleep(2)
    system.redis.start()
    nodes[0] = system.start_node(workers=2)
    counts = _settle(system, ids, 300)
    peak = sampler.stop()
    figures = system.verify(ALL_SUCCESS, ids, faults_armed=True)
    # drains queued per worker, not per tick: 4 workers' drains, their successors and a top-up
    assert peak <= 20, f"the Redis queue grew to {peak} drains"
    report.injected("a node SIGKILLed and redis-server killed (its queue lost) and started again empty")
    report.figures(figures, counts, redis_queue_peak=peak)
    report.held(no_violations(figures), "the database stayed the only truth: nothing lost, nothing doubled; the "
                f"nodes counted drains in Redis (queue peak {peak} for 4 workers)")
    restart = database_restart(world, size, broker="redis")
    return [report, restart]


