"""`make chaos`: every chaos scenario at full size against real processes, one at a time, each bounded,
with a printed report per scenario. PostgreSQL: the server in DATABASE_URL, else a private cluster.

    python -m tests.chaos.run [--only 1,7] [--short]
"""
import argparse
import os
import shutil
import sys
import time
import traceback

from tests.chaos import scenarios_fanout as fanout
from tests.chaos import scenarios_faults as faults
from tests.chaos import scenarios_load as load
from tests.chaos import scenarios_schedules as schedules
from tests.machine import PrivatePostgres
from tests.chaos.world import World, bounded

SCENARIOS = [
    (1, faults.sigkill, 420), (2, faults.sigstop, 120), (3, faults.sigterm, 120),
    (4, faults.database_restart, 240), (5, load.several_nodes, 300), (6, faults.crashing_step, 180),
    (7, faults.concurrent_switch, 180), (8, load.volume, 900), (9, load.webhooks, 180), (10, load.calendar, 60),
    (11, load.make_run_interrupted, 300), (12, load.redis_broker, 420), (13, fanout.big_map, 600),
    (14, schedules.schedules, 300),
]


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default="", help="comma-separated scenario numbers")
    parser.add_argument("--short", action="store_true", help="the sizes make test uses")
    options = parser.parse_args(argv)
    wanted = {int(n) for n in options.only.split(",") if n}
    outer = os.environ.get("DATABASE_URL", "")
    private = None
    if not outer.startswith("postgres"):
        private = PrivatePostgres()
        outer = private.url
    print(f"chaos: PostgreSQL at {outer.rsplit('@', 1)[-1]}{' (private cluster)' if private else ''}", flush=True)
    began, failed = time.monotonic(), []
    try:
        for number, scenario, seconds in SCENARIOS:
            if wanted and number not in wanted:
                continue
            world = World(outer)
            try:
                with bounded(seconds):
                    reports = scenario(world, "short" if options.short else "full")
                for report in reports if isinstance(reports, list) else [reports]:
                    print(report.render(), flush=True)
            except Exception as exc:  # a scenario's failure is reported and the run goes on
                failed.append(number)
                print(f"== {number}. {scenario.__name__}: FAILED (logs in {world.workdir})\n"
                      f"{traceback.format_exc()[-3000:]}", flush=True)
            finally:
                world.close()
            if number not in failed:
                shutil.rmtree(world.workdir, ignore_errors=True)
    finally:
        if private is not None:
            private.close()
    print(f"chaos: {len(failed) or 'no'} scenario(s) failed {failed or ''}in {time.monotonic() - began:.0f} s",
          flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
