"""The DBOS Transact reference: 3-step workflows from 8 client threads, send -> recv and sleep lateness.

Runs in the bench's own venv (var/bench/venv, never the product's):
    var/bench/venv/bin/python bench/ref_dbos.py --db postgresql://... --seconds 5 --what throughput
Prints one JSON object on its last line; times are wall clock (time.time()) so the caller can match
them with its CPU, xid and WAL samples.
"""
import argparse
import json
import resource
import statistics
import threading
import time

from dbos import DBOS, DBOSConfig


@DBOS.step()
def step_one(value):
    return value


@DBOS.step()
def step_two(value):
    return value


@DBOS.step()
def step_three(value):
    return value


@DBOS.workflow()
def three_steps(value):
    return step_three(step_two(step_one(value)))


@DBOS.workflow()
def wait_message():
    DBOS.recv("go", timeout_seconds=60)
    return step_one(time.time())


@DBOS.workflow()
def nap(seconds):
    due = time.time() + seconds
    DBOS.sleep(seconds)
    return step_one(time.time() - due)


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def throughput(seconds, threads):
    """Each thread runs workflows back to back (started directly) until the time is up."""
    done = [0] * threads
    stop_at = time.monotonic() + seconds

    def client(slot):
        while time.monotonic() < stop_at:
            three_steps(slot)
            done[slot] += 1

    three_steps(-1)  # warm up: the first workflow pays for connections and prepared plans
    began, cpu = time.time(), cpu_seconds()
    workers = [threading.Thread(target=client, args=(slot,)) for slot in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    ended = time.time()
    total = sum(done)
    return {"workflows": total, "t0": began, "t1": ended, "per_second": total / (ended - began),
            "client_cpu_seconds": cpu_seconds() - cpu}


def send_recv(samples):
    """Time from send() until the receiving workflow has resumed and begun its next step, in ms."""
    results = []
    for _ in range(samples):
        handle = DBOS.start_workflow(wait_message)
        time.sleep(0.05)
        sent = time.time()
        DBOS.send(handle.workflow_id, True, "go")
        resumed = handle.get_result()
        results.append((resumed - sent) * 1000)
    return summary(results)


def sleep_lateness(samples, seconds):
    handles = [DBOS.start_workflow(nap, seconds + 0.01 * i) for i in range(samples)]
    return summary([handle.get_result() * 1000 for handle in handles])


def summary(values):
    values = sorted(values)

    def at(q):
        return values[min(len(values) - 1, int(q * len(values)))]

    return {"n": len(values), "p50": at(0.5), "p99": at(0.99), "max": values[-1], "mean": statistics.fmean(values)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--what", choices=["throughput", "latency"], default="throughput")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--samples", type=int, default=100)
    options = parser.parse_args()
    config: DBOSConfig = {"name": "datp-bench", "system_database_url": options.db, "log_level": "WARNING"}
    DBOS(config=config)
    DBOS.launch()
    try:
        if options.what == "throughput":
            result = throughput(options.seconds, options.threads)
        else:
            result = {"send_recv_ms": send_recv(options.samples),
                      "sleep_lateness_ms": sleep_lateness(options.samples, 1.0)}
    finally:
        DBOS.destroy(destroy_registry=False)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
