"""The example host project (examples/shop) against the BUILT WHEEL, as a user would run it (make example;
make test runs it as its last pass): build the wheel, install it with pytest and pytest-django in a venv of
its own under var/example/, then in examples/shop: manage.py check, migrate, its own pytest, and a transaction
end to end through its own runserver and node over REST. Standard library only.

    .venv/bin/python -m tests.example_run
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from tests.machine import free_port

ROOT = Path(__file__).resolve().parents[1]
SHOP = ROOT / "examples" / "shop"
WORK = ROOT / "var" / "example"
VENV = WORK / "venv"
PY = VENV / "bin" / "python"


class StepFailed(Exception):
    """A step of the example pass failed; the message holds what it printed."""


def run(*command, cwd=SHOP, env=None, timeout=300):
    """Run `command`, returning its standard output; raise StepFailed with all its output when it fails."""
    done = subprocess.run([str(part) for part in command], cwd=cwd, env=env or shop_env(), capture_output=True,
                          text=True, timeout=timeout)
    if done.returncode:
        raise StepFailed(f"{' '.join(map(str, command))} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done.stdout


def shop_env():
    """The environment of the shop's commands: its own venv, its own var folder, nothing of this repository."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "VIRTUAL_ENV")
           and not name.startswith("DATP_")}
    return {**env, "SHOP_VAR_DIR": str(WORK / "run"), "PATH": f"{VENV / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"}


def build_and_install():
    """Build the wheel from this checkout and install it (and pytest) into var/example/venv."""
    dist = WORK / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, ROOT, cwd=ROOT, env=dict(os.environ))
    shutil.rmtree(ROOT / "build", ignore_errors=True)  # setuptools' leftovers
    wheel = next(dist.glob("datp_django-*.whl"))
    check_contents(wheel)
    if not PY.exists():
        run(sys.executable, "-m", "venv", VENV, cwd=ROOT)
    run(PY, "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel, "pytest>=8", "pytest-django>=4.8",
        cwd=ROOT)
    run(PY, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--force-reinstall", "--no-deps", wheel,
        cwd=ROOT)
    where = run(PY, "-c", "import engine, monitoring; print(engine.__file__, monitoring.__file__)").split()
    if any(not path.startswith(str(VENV)) for path in where):
        raise StepFailed(f"the shop imports DATP from {where}, not from the installed wheel")
    return wheel


def check_contents(wheel):
    """The wheel holds the two apps with their templates, static files and migrations, and nothing else."""
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.startswith("datp_django-")}
    wanted = ["monitoring/templates/monitoring/base.html", "engine/templates/engine/swagger_ui.html",
              "monitoring/static/monitoring/mondat.css", "engine/static/engine/swagger_ui.css",
              "engine/migrations/0001_initial.py", "engine/management/commands/datp_node.py"]
    missing = [name for name in wanted if name not in names]
    if tops != {"engine", "monitoring"} or missing:
        raise StepFailed(f"the wheel holds {sorted(tops)} (wanted engine and monitoring); missing: {missing}")


def request(method, url, key, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Authorization": f"Bearer {key}",
                                                                         "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_for_health(base, server, deadline):
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise StepFailed(f"runserver exited {server.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/api/v1/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise StepFailed("runserver did not answer /api/v1/health within 30 s")


def stop(processes):
    """SIGTERM each main process (the node stops its own clusters) and wait; SIGKILL after 20 s."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def end_to_end():
    """Start the shop's runserver and node, start a shop-order over REST, poll it to success, stop both."""
    run(PY, "manage.py", "datp_load_pipelines", "shop/pipelines/shop-order.json")
    key = run(PY, "manage.py", "datp_create_api_key", "--owner", "shop", "--name", f"example-{time.time_ns()}").strip()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    logs = {name: open(WORK / f"{name}.log", "w") for name in ("runserver", "node")}
    processes = [subprocess.Popen([str(PY), "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"], cwd=SHOP,
                                  env=shop_env(), stdout=logs["runserver"], stderr=subprocess.STDOUT),
                 subprocess.Popen([str(PY), "manage.py", "datp_node", "--workers", "1"], cwd=SHOP, env=shop_env(),
                                  stdout=logs["node"], stderr=subprocess.STDOUT)]
    try:
        wait_for_health(base, processes[0], time.monotonic() + 30)
        for page in ("/mondat/login/", "/api/docs/"):  # rendered from the wheel's templates
            try:
                with urllib.request.urlopen(f"{base}{page}", timeout=30) as response:
                    if b"</html>" not in response.read():
                        raise StepFailed(f"GET {page} answered no page")
            except urllib.error.HTTPError as exc:
                raise StepFailed(f"GET {page} answered {exc.code}: {exc.read()[:2000]!r}") from exc
        code, body = request("POST", f"{base}/api/v1/transactions", key,
                             {"transaction_type": "shop-order", "data": {"sku": "A1", "quantity": 1}})
        if code != 201 and code != 200:
            raise StepFailed(f"POST /api/v1/transactions answered {code}: {body}")
        tx_id, deadline = body["tx_id"], time.monotonic() + 60
        while body.get("status") not in ("success", "failed", "aborted", "cancelled", "timeout"):
            if time.monotonic() > deadline or processes[1].poll() is not None:
                raise StepFailed(f"{tx_id} did not finish within 60 s (node exit {processes[1].poll()}): {body}")
            code, body = request("GET", f"{base}/api/v1/transactions/{tx_id}?wait=PT5S", key)
            if code != 200:
                raise StepFailed(f"GET /api/v1/transactions/{tx_id} answered {code}: {body}")
        if body["status"] != "success" or not body.get("data", {}).get("ready_to_ship"):
            raise StepFailed(f"{tx_id} ended {body['status']}: {body}")
        return tx_id
    finally:
        stop(processes)
        for log in logs.values():
            log.close()


def main():
    started = time.monotonic()
    timings = []

    def step(name, action, *args):
        began = time.monotonic()
        print(f"== example: {name}", flush=True)
        result = action(*args)
        timings.append(f"{name} {time.monotonic() - began:.1f} s")
        return result

    try:
        shutil.rmtree(WORK / "run", ignore_errors=True)
        for name in ("runserver", "node"):  # a failure shows only this run's logs
            (WORK / f"{name}.log").unlink(missing_ok=True)
        step("build the wheel and install it", build_and_install)
        step("manage.py check", run, PY, "manage.py", "check", "--fail-level", "WARNING")
        step("manage.py migrate", run, PY, "manage.py", "migrate", "--no-input")
        print(step("pytest", run, PY, "-m", "pytest", "-q", "-p", "no:cacheprovider").strip().splitlines()[-1])
        tx_id = step("a transaction through runserver and the node", end_to_end)
    except StepFailed as exc:
        for name in ("runserver", "node"):
            path = WORK / f"{name}.log"
            if path.exists():
                print(f"--- {name} log ---\n{path.read_text()[-4000:]}")
        print(f"== example pass FAILED: {exc}", flush=True)
        return 1
    print(f"== example pass: {tx_id} ended success; {', '.join(timings)}; "
          f"{time.monotonic() - started:.1f} s in all", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
