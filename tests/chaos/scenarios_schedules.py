"""Chaos scenario of issue 21: schedules due every 2 s on two nodes, nodes SIGKILLed around the due times (one,
or both for a few seconds), and every due time still started exactly once, caught up after the downtime."""
import random
import time
from datetime import UTC, datetime

from tests.chaos.report import Report, no_violations
from tests.chaos.scenarios_faults import ALL_SUCCESS

SIZES = {"short": (30, 28), "full": (30, 120)}  # schedules, seconds of kills
EVERY = 2  # seconds between due times
PREFIX = "ch-sched-"
# A kill lands this many seconds before to after a due time: the nodes look at the schedules at the due time and
# start the 30 runs one after another, so most kills interrupt a look (a run started and committed, the next
# one's database transaction rolled back with the process).
KILL_OFFSETS = (-0.2, 0.4)
BOTH_DOWN_SECONDS = (2.0, 5.0)  # every third kill takes both nodes down this long: their due times are caught up
SETTLED_SECONDS = 4  # a due time this much older than the last kill must have started
# A step run lost with both nodes down is recovered only once a node is back up and its lease has expired: the
# downtime and a node's start (seconds on a loaded machine) come on top of the lease (scenario 1 bounds recovery).
RECOVERY_SLACK_SECONDS = BOTH_DOWN_SECONDS[1] + 10
# Once in the whole run (the first look of any node that writes), a node's process kills itself inside a look, after
# it wrote its starts and before its commit: the look rolls back, and its due times start once all the same (by the
# other node, or by this one restarted).
FAULTS = "schedule_after_write:kill:once"
ORPHAN_SECONDS = 1.0  # a cluster stops itself within 0.5 s of its node's death (engine/runtime/cluster_command.py)


def _next_due(anchor, after):
    """The first due time (epoch seconds) after `after`."""
    return anchor + max(0, int((after - anchor) // EVERY) + 1) * EVERY


def _wait_until(moment):
    time.sleep(max(0.0, moment - time.time()))


def _kill_around_due_times(system, nodes, anchor, seconds, rng):
    """Kill one node or both, alternately, around a due time until `seconds` have passed; start them again (both
    after a downtime). Return what was done."""
    ended_at, done = time.time() + seconds, []
    while time.time() < ended_at:
        for index, node in enumerate(nodes):  # a node the look fault killed (FAULTS) comes back like the others
            if node.poll() is not None:
                nodes[index] = system.start_node(workers=2)
        due = _next_due(anchor, time.time() + 0.5)
        offset = rng.uniform(*KILL_OFFSETS)
        _wait_until(due + offset)
        both = len(done) % 3 == 2
        victims = [0, 1] if both else [len(done) % 2]
        for index in victims:
            system.kill_node(nodes[index])
        down = rng.uniform(*BOTH_DOWN_SECONDS) if both else 0.0
        time.sleep(down)
        for index in victims:
            nodes[index] = system.start_node(workers=2)
        done.append({"due": due, "offset": round(offset, 2), "nodes": len(victims), "down": round(down, 1)})
        time.sleep(rng.uniform(0.5, 2.0))  # the next kill is one or two due times later
    return done


def _settled(system, cutoff):
    """The schedules' facts once every due time up to `cutoff` has started and its transaction ended, else None."""
    found = system.call("schedule_facts", prefix=PREFIX, cutoff=cutoff)
    return found if not found["missing_count"] and not found["unfinished"] else None


def schedules(world, size):
    """`count` schedules (an interval and a cron with seconds by turns) due every 2 s, overlap allow, catch-up
    window 1 minute, run a 50 ms step on two nodes of 2 workers; a whole node is SIGKILLed around due times, every
    third time both for 2-5 s, for `seconds`. Afterwards every due time of every schedule, from its first to the
    last one older than a few seconds, had exactly one run and one transaction of its external id, which ended
    success; none was noted missed, skipped or failed; the step-level checks of the other scenarios hold."""
    count, seconds = SIZES[size]
    system = world(lease_seconds=4, faults=FAULTS)
    report = Report(f"14. {count} schedules due every {EVERY} s while nodes are killed around their due times",
                    system)
    nodes = [system.start_node(workers=2), system.start_node(workers=2)]
    anchor = datetime.fromisoformat(system.call(
        "schedules_create", prefix=PREFIX, count=count, every=EVERY, transaction_type="ch-echo", lead_seconds=3,
        data={"work": 0.05}, overlap="allow", catchup_window="PT1M")).timestamp()
    seed = time.time_ns()
    kills = _kill_around_due_times(system, nodes, anchor, seconds, random.Random(seed))
    last_kill = max(kill["due"] + kill["offset"] + kill["down"] for kill in kills)
    cutoff_at = _next_due(anchor, last_kill + SETTLED_SECONDS) - EVERY  # the last due time at least so old
    _wait_until(cutoff_at + SETTLED_SECONDS)
    cutoff = datetime.fromtimestamp(cutoff_at, UTC).isoformat()
    found = system.wait_until(lambda: _settled(system, cutoff), 120, "every due time to start and end")
    marker = system.workdir / "fault-schedule_after_write.hit"
    assert marker.exists(), "no look was killed before its commit"
    # The look fault killed a node's own process, which the harness did not record; its cluster's orphan watch
    # kills the workers within half a second, so a step they had begun ends by then.
    figures = system.verify(ALL_SUCCESS, found["tx_ids"], recovery_slack_seconds=RECOVERY_SLACK_SECONDS,
                            faults_armed=True, unrecorded_death_at=marker.stat().st_mtime + ORPHAN_SECONDS)
    problems = {key: found[key] for key in ("missing", "doubled", "unexpected", "mismatched") if found[key]}
    assert not problems, (problems, found["statuses"])
    assert found["statuses"] == {"success": found["due_times"]}, found["statuses"]
    assert found["runs"] == found["due_times"] == count * (round(cutoff_at - anchor) // EVERY + 1), found
    assert not found["not_started_events"], found["not_started_events"]
    assert sum(kill["nodes"] == 2 for kill in kills) >= 2, kills
    both = [kill for kill in kills if kill["nodes"] == 2]
    report.injected(f"{len(kills)} SIGKILLs of whole nodes (node, cluster and workers) {KILL_OFFSETS[0]} to "
                    f"+{KILL_OFFSETS[1]} s around due times, {len(both)} of them of both nodes, down "
                    f"{min(k['down'] for k in both)}-{max(k['down'] for k in both)} s (random seed {seed}); "
                    f"DATP_FAULT={FAULTS} (a look killed after its writes, before its commit)")
    report.figures(figures, due_times=found["due_times"], causes=found["causes"],
                   lateness_seconds=found["lateness_seconds"],
                   due_instants_started_by_two_looks=f"{found['split_looks']} of {found['due_instants']}")
    report.held(no_violations(figures), f"each of the {found['due_times']:,} due times of the {count} schedules "
                f"(first to {cutoff[11:19]}) started exactly one run and one transaction of its external id, all "
                f"ended success; none missed, skipped or doubled (the due times of both nodes' downtime caught up: "
                f"lateness max {found['lateness_seconds']['max']:.1f} s); every lost step re-ran once")
    return report
