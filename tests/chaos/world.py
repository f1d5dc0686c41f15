"""Make the world a scenario runs in: a System on a database of its own, on the outer PostgreSQL (or
SQLite), or on a private cluster it may restart; with Redis as the broker if asked. Closing stops all."""
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path

from tests.chaos.harness import RedisServer, System
from tests.machine import PrivatePostgres


class World:
    def __init__(self, outer_url=None, workdir=None):
        self.outer_url = outer_url
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="datp-chaos."))
        self._closing = []

    def __call__(self, *, lease_seconds=5, faults="", private=False, broker="orm", env=None, groups=None):
        postgres = redis = None
        outer = self.outer_url
        if private:
            postgres = PrivatePostgres()
            self._closing.append(postgres.close)
            outer = postgres.url
        if broker == "redis":
            redis = RedisServer(self.workdir)
            self._closing.append(redis.close)
        system = System(self.workdir / f"s{len(self._closing)}", outer_url=outer, lease_seconds=lease_seconds,
                        broker=broker, redis_url=redis.url if redis else None, faults=faults, groups=groups,
                        env=env)
        system.postgres, system.redis = postgres, redis
        self._closing.append(system.close)
        return system

    def close(self):
        while self._closing:
            self._closing.pop()()


class OutOfTime(Exception):
    pass


@contextmanager
def bounded(seconds):
    """Raise OutOfTime in the main thread once `seconds` have passed."""
    def expire(signum, frame):
        raise OutOfTime(f"the scenario ran past its bound of {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(int(seconds))
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
