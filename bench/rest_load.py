"""A small load generator: POST the same JSON body from N connections (threads), stdlib only."""
import http.client
import json
import resource
import threading
import time
from urllib.parse import urlsplit


def post_many(url, api_key, count, connections, body, rate=None):
    """POST `body` to /api/v1/transactions `count` times over `connections` threads.

    Returns (transaction ids, per-request latencies in ms, CPU seconds of this process meanwhile).
    Each thread keeps its connection open between requests (HTTP/1.1, as a client library's session does)
    and opens a new one when the server closed it (after its keep-alive, or at once with `--keep-alive 0`).
    Without `rate` each thread sends its next request as soon as the last is answered (as fast as the
    server goes); with `rate` (requests/s) request i is due at i / rate from the start, and its latency
    counts from that moment, so a server that falls behind is charged for the wait (no coordinated omission).
    """
    parts = urlsplit(url)
    payload = json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    ids, latencies, errors = [], [], []
    lock = threading.Lock()
    remaining = [count]
    start = time.perf_counter()

    def worker():
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        while True:
            with lock:
                if remaining[0] <= 0:
                    conn.close()
                    return
                remaining[0] -= 1
                index = count - remaining[0] - 1
            began = time.perf_counter()
            if rate:
                began = start + index / rate
                time.sleep(max(0.0, began - time.perf_counter()))
            try:
                response, data = post(conn)
            except OSError as exc:
                conn.close()
                with lock:
                    errors.append(str(exc))
                continue
            elapsed = (time.perf_counter() - began) * 1000
            with lock:
                if response.status in (200, 201):
                    ids.append(json.loads(data)["tx_id"])
                    latencies.append(elapsed)
                else:
                    errors.append(f"{response.status} {data[:200]!r}")

    def post(conn):
        """POST once on `conn` (http.client reopens it when the server had closed it after its last answer)."""
        conn.request("POST", "/api/v1/transactions", body=payload, headers=headers)
        response = conn.getresponse()
        data = response.read()
        if response.will_close:
            conn.close()
        return response, data

    usage = resource.getrusage(resource.RUSAGE_SELF)
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    after = resource.getrusage(resource.RUSAGE_SELF)
    if errors:
        raise SystemExit(f"{len(errors)} requests failed, first: {errors[0]}")
    return ids, latencies, (after.ru_utime + after.ru_stime) - (usage.ru_utime + usage.ru_stime)
