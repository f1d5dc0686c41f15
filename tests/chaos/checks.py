"""What must hold after a fault, checked against the database and the run log (inside the agent).

- every transaction ended as its pipeline dictates, none is stuck;
- no step execution overlaps another of the same transaction (a killed execution ends when its
  process was killed; a paused process does not run while it is stopped);
- no step run executed twice with the same identity (visit, retry, attempt);
- each lost step run was run again once, with the attempt one higher, and was recovered within the
  lease (measured from the kill);
- a killed worker lost at most the transactions of one batch (DATP["BATCH_MAX"]: a worker claims and runs
  several at once under load; before issue 20, one).
"""
import math
from collections import Counter, defaultdict

from engine import conf
from engine.models import StepRun, Transaction
from engine.states import TX_TERMINAL

TERMINAL = {str(status) for status in TX_TERMINAL}
RECOVERY_SLACK_SECONDS = 2.5


def parse_runlog(path):
    """Return [(tx, step, what, key, pid, t)], key = (tx, step, visit, retry, attempt)."""
    lines = []
    try:
        text = open(path).read()
    except FileNotFoundError:
        return lines
    for raw in text.splitlines():
        parts = raw.split()
        if len(parts) != 8:
            continue
        tx, step, what = parts[:3]
        fields = dict(part.split("=", 1) for part in parts[3:])
        key = (tx, step, fields["visit"], int(fields["retry"]), int(fields["attempt"]))
        lines.append((tx, step, what, key, int(fields["pid"]), float(fields["t"])))
    return lines


def _intervals(start, end, paused):
    """[start, end] without the windows in which the process was stopped."""
    pieces = [(start, end)]
    for stop_at, resume_at in paused:
        cut = []
        for low, high in pieces:
            if resume_at <= low or stop_at >= high:
                cut.append((low, high))
                continue
            if low < stop_at:
                cut.append((low, stop_at))
            if resume_at < high:
                cut.append((resume_at, high))
        pieces = cut
    return pieces


def executions(lines, kills, pauses, unrecorded_death_at=math.inf):
    """Per transaction, each execution as (key, pid, [intervals]); an execution that never ended lasts
    until its process was killed, or for ever if nobody killed it (until `unrecorded_death_at`, when a fault
    killed processes the harness did not: a node's own process and, its orphaned cluster, with it)."""
    started, ended = {}, {}
    for tx, step, what, key, pid, t in lines:
        if what == "start":
            started.setdefault((key, pid), t)
        elif what == "end":
            ended[(key, pid)] = t
    per_tx = defaultdict(list)
    for (key, pid), t in started.items():
        end = ended.get((key, pid), kills.get(pid, unrecorded_death_at))
        per_tx[key[0]].append((key, pid, _intervals(t, end, pauses.get(pid, ()))))
    return per_tx


def overlaps(per_tx):
    found = []
    for tx, runs in per_tx.items():
        for i, (key_a, pid_a, spans_a) in enumerate(runs):
            for key_b, pid_b, spans_b in runs[i + 1:]:
                if any(a0 < b1 and b0 < a1 for a0, a1 in spans_a for b0, b1 in spans_b):
                    found.append([tx, key_a[1], key_a[4], pid_a, key_b[1], key_b[4], pid_b])
    return found


def _pid(node):
    try:
        return int((node or "").rsplit("/", 1)[1])
    except (IndexError, ValueError):
        return None


def verify(*, expected, runlog, kills=None, pauses=None, lease_seconds, tx_ids=None, faults_armed=False,
           max_attempts=3, recovery_slack_seconds=RECOVERY_SLACK_SECONDS, unrecorded_death_at=None):
    """Return the figures and every violation found (empty lists when everything held)."""
    kills = {int(pid): t for pid, t in (kills or {}).items()}
    pauses = {int(pid): windows for pid, windows in (pauses or {}).items()}
    rows = Transaction.objects.all()
    if tx_ids is not None:
        rows = rows.filter(pk__in=tx_ids) | rows.filter(parent_id__in=tx_ids)
    status_of = dict(rows.values_list("pk", "status"))
    pipeline_of = dict(rows.values_list("pk", "pipeline_name"))
    by_status = Counter(status_of.values())
    wrong = [[tx, pipeline_of[tx], status] for tx, status in status_of.items()
             if expected.get(pipeline_of[tx], "success") != status]
    stuck = [tx for tx, status in status_of.items() if status not in TERMINAL]

    lines = [line for line in parse_runlog(runlog) if line[0] in status_of]
    starts = Counter(line[3] for line in lines if line[2] == "start")
    doubles = [list(key) for key, count in starts.items() if count > 1]
    overlapping = overlaps(executions(lines, kills, pauses, unrecorded_death_at or math.inf))

    runs = defaultdict(list)
    for run in StepRun.objects.filter(tx_id__in=list(status_of)).order_by("tx_id", "seq").values(
            "tx_id", "seq", "step", "status", "attempt", "node", "started_at", "ended_at"):
        runs[run["tx_id"]].append(run)
    lost, bad_rerun, unexplained, recovery, latencies = 0, [], [], [], []
    lost_per_pid = Counter()
    for tx, tx_runs in runs.items():
        for index, run in enumerate(tx_runs):
            if run["status"] != "lost":
                continue
            lost += 1
            pid = _pid(run["node"])
            lost_per_pid[pid] += 1
            if not (pid in kills or pid in pauses or faults_armed):
                unexplained.append([tx, run["step"], run["attempt"], run["node"]])
            following = tx_runs[index + 1] if index + 1 < len(tx_runs) else None
            if following is None:
                if not (status_of[tx] == "internal_error" and run["attempt"] >= max_attempts):
                    bad_rerun.append([tx, run["step"], run["attempt"], None])
            elif following["step"] != run["step"] or following["attempt"] != run["attempt"] + 1:
                bad_rerun.append([tx, run["step"], run["attempt"], [following["step"], following["attempt"]]])
            if pid in kills and run["ended_at"] is not None:
                late = run["ended_at"].timestamp() - kills[pid]
                latencies.append(late)
                if late > lease_seconds + recovery_slack_seconds:
                    recovery.append([tx, run["step"], round(late, 2)])
    batch = conf.get("BATCH_MAX")
    beyond_batch = [pid for pid, count in lost_per_pid.items() if count > batch and pid in kills]
    return {
        "transactions": len(status_of),
        "by_status": dict(sorted(by_status.items())),
        "executions": sum(starts.values()),
        "lost_runs": lost,
        "recovery_max_seconds": round(max(latencies), 2) if latencies else None,
        "recovery_allowed_seconds": lease_seconds + recovery_slack_seconds,
        "violations": {
            "wrong_status": wrong[:20], "stuck": stuck[:20], "double_executions": doubles[:20],
            "overlapping_executions": overlapping[:20], "bad_reruns": bad_rerun[:20],
            "unexplained_lost_runs": unexplained[:20], "slow_recovery": recovery[:20],
            "pid_lost_more_than_a_batch": beyond_batch[:20],
        },
    }
