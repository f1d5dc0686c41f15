"""What the test suite needs of this machine: Debian's packages, a private PostgreSQL cluster, and
`make test` itself (both passes, then the example host project from the built wheel). Standard library
only: it runs before the venv exists.

    python3.11 -m tests.machine            # what `make test` runs
    python3.11 -m tests.machine -- CMD...  # CMD with DATABASE_URL naming a private cluster
"""
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Debian package -> how to tell it is installed.
PACKAGES = {
    "postgresql": lambda: pg_bin() is not None,
    "redis-server": lambda: shutil.which("redis-server") is not None,
    "chromium": lambda: shutil.which("chromium") is not None,
}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_bin():
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parts[-3]))
    return found[-1].parent if found else None


class PrivatePostgres:
    """A PostgreSQL cluster of our own in a temporary directory (never a shared one): it may be stopped."""

    def __init__(self, prefix="datp-pg.", settings=None):
        self.settings = dict(settings or {})  # more server settings, as -c name=value (the bench's)
        self.bin = pg_bin()
        if self.bin is None:
            raise RuntimeError("PostgreSQL binaries are missing (apt-get install postgresql)")
        self.dir = Path(tempfile.mkdtemp(prefix=prefix))
        self.port = free_port()
        # initdb refuses to run as root: the cluster then belongs to Debian's `postgres` user.
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            if subprocess.run(["id", self.user], capture_output=True).returncode:
                subprocess.run(["useradd", "--system", "--no-create-home", self.user], check=True)
            shutil.chown(self.dir, self.user)
        self._pg("initdb", "-D", self.dir / "data", "-U", "datp", "--auth=trust", "-E", "UTF8")
        self.start()

    def _pg(self, tool, *args):
        command = [str(self.bin / tool), *map(str, args)]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self):
        more = "".join(f" -c {name}={value}" for name, value in self.settings.items())
        self._pg("pg_ctl", "-D", self.dir / "data", "-l", self.dir / "log", "-w", "-o",
                 f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=300{more}", "start")

    def stop(self, mode="fast"):
        self._pg("pg_ctl", "-D", self.dir / "data", "-m", mode, "-w", "stop")

    @property
    def url(self):
        return f"postgresql://datp@127.0.0.1:{self.port}/postgres"

    def create_database(self, name):
        self._pg("createdb", "-h", "127.0.0.1", "-p", self.port, "-U", "datp", name)
        return f"postgresql://datp@127.0.0.1:{self.port}/{name}"

    def close(self):
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


def ensure_packages(names=tuple(PACKAGES)):
    """Install the missing Debian packages as root or through `sudo -n`; else stop with the command to run."""
    missing = [name for name in names if not PACKAGES[name]()]
    if not missing:
        return
    if os.geteuid() == 0:
        sudo = []
    elif shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        sudo = ["sudo", "-n"]
    else:
        sys.exit(f"make test needs Debian's {' and '.join(missing)}, which this user cannot install. Run:\n"
                 f"    sudo apt-get install -y {' '.join(missing)}\nthen make test again.")
    print(f"Installing Debian's {', '.join(missing)} (apt-get; a few minutes the first time)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    still = [name for name in missing if not PACKAGES[name]()]
    if still:
        sys.exit(f"apt-get ran but {', '.join(still)} is still missing")


@contextlib.contextmanager
def postgres_url(databases=("datp",)):
    """DATABASE_URL when it names a PostgreSQL (the same URL for each of `databases`), else a private cluster's
    databases (stopped and removed on leaving): a URL, or with several names a list of them."""
    outer = os.environ.get("DATABASE_URL", "")
    if outer.startswith("postgres"):
        yield outer if len(databases) == 1 else [outer] * len(databases)
        return
    cluster = PrivatePostgres()
    try:
        urls = [cluster.create_database(name) for name in databases]
        print(f"PostgreSQL: a private cluster on port {cluster.port} ({cluster.dir}), removed at the end", flush=True)
        yield urls[0] if len(databases) == 1 else urls
    finally:
        cluster.close()


def make(target, **env):
    command = [os.environ.get("MAKE", "make"), "--no-print-directory", target]
    return subprocess.run(command, cwd=ROOT, env={**os.environ, **env}).returncode


def beside():
    """Whether the passes run in two streams at once (with two cores or more, unless DATP_TEST_SERIAL is set):
    the PostgreSQL pass in one; the SQLite pass, then the general paths' pass on a database of its own, in the
    other. Much of each pass waits on real node processes and on PostgreSQL, so two streams fill two cores."""
    return (os.cpu_count() or 1) >= 2 and not os.environ.get("DATP_TEST_SERIAL")


def make_logged(target, log, **env):
    """`make(target)` with its output appended to `log` instead of this process's."""
    command = [os.environ.get("MAKE", "make"), "--no-print-directory", target]
    with open(log, "a") as out:
        return subprocess.run(command, cwd=ROOT, env={**os.environ, **env}, stdout=out,
                              stderr=subprocess.STDOUT).returncode


def run_both_passes():
    """The whole suite on SQLite and on PostgreSQL, then the run core's tests on PostgreSQL with the fast paths
    off, then the example host project from the built wheel (make example); each runs even when one before it
    fails. With `beside()`, the SQLite and general passes run in a second stream beside the PostgreSQL pass, and
    their output is printed, whole, after its own."""
    ensure_packages()
    if make("venv"):
        return 1
    results = {}
    if not beside() or os.environ.get("DATABASE_URL", "").startswith("postgres"):
        with postgres_url() as url:
            results = {"SQLite": make("test-sqlite"), "PostgreSQL": make("test-postgres", DATABASE_URL=url),
                       "PostgreSQL, general paths": make("test-postgres-general", DATABASE_URL=url)}
    else:
        with postgres_url(("datp", "datp_general")) as (url, general_url), \
                tempfile.TemporaryDirectory(prefix="datp-test.") as folder:
            print("== two streams: the PostgreSQL pass; the SQLite pass then the general paths' pass, whose output "
                  "follows ==", flush=True)
            log = Path(folder) / "second.log"
            second = threading.Thread(target=lambda: results.update(
                {"SQLite": make_logged("test-sqlite", log),
                 "PostgreSQL, general paths": make_logged("test-postgres-general", log, DATABASE_URL=general_url)}))
            second.start()
            results["PostgreSQL"] = make("test-postgres", DATABASE_URL=url)
            second.join()
            print(log.read_text(), end="", flush=True)
    results["example host project (built wheel)"] = make("example")
    for name, code in results.items():
        print(f"== {name} pass: {'passed' if code == 0 else f'FAILED (exit {code})'}")
    return max(results.values())


def run_with_postgres(command):
    with postgres_url() as url:
        return subprocess.run(command, env={**os.environ, "DATABASE_URL": url}).returncode


def main(argv):
    if argv[:1] == ["--"]:
        ensure_packages(["postgresql"])
        return run_with_postgres(argv[1:])
    if argv:
        sys.exit(__doc__)
    return run_both_passes()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
