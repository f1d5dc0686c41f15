"""Run one transition twice, from the same starting rows, with DATP["FAST_PATHS"] on and then off, and observe
all it did: every row of every engine table, its result, the NOTIFYs its commits delivered (PostgreSQL; SQLite
has none) and the finished signals; normalised (database ids, transaction ids, tokens) so that agreeing runs
compare equal. On PostgreSQL for every transition's one-statement path; on SQLite for the run core's (claim,
advance, finish: a few plain statements in one database transaction, engine.services.state.lite).

Shared by tests/engine/test_fast_and_general_agree*.py.
"""
import dataclasses
import difflib
import json
import pprint
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.apps import apps
from django.conf import settings
from django.core.management.color import no_style
from django.db import connection, models
from django.test import override_settings

from engine import notices
from engine.errors import DatpError, LeaseLost
from engine.models import JournalEntry, Transaction, WebhookDelivery
from engine.runtime import executor
from engine.services import execution, statements
from engine.services.pipelines import node_group_update
from engine.services.runs import Run
from engine.services.state import advance, cancel_many, claim, finish, start, wake
from engine.signals import transaction_finished
from engine.steps import Step, register
from engine.testing import Harness

# Each transition's one-statement path, known by the text it sends through `statements.rows` (on SQLite, the
# UPDATE of the transactions, which returns rows only where the path writes).
_INSERT_HEAD = start.INSERT_SQL.split("{columns}")[0]
FAST_STATEMENTS = {
    "start": lambda sql: sql.startswith(_INSERT_HEAD),
    "claim": lambda sql: sql in (claim.CLAIM_SQL, claim.CLAIM_SQLITE[1]),
    "advance": lambda sql: sql in (advance.CHECKPOINT_SQL, advance.CHECKPOINT_SQLITE),
    "finish": lambda sql: sql in (finish.FINISH_SQL, finish.FINISH_SQLITE),
    "wake_due": lambda sql: sql == wake.WAKE_DUE_SQL,
    "first_set": lambda sql: sql == wake.FIRST_SET_SQL,
    "cancel_children": lambda sql: sql == cancel_many.CANCEL_QUIET_SQL,
}

# How a row with a database-made id is named instead, alike in both runs: by some of its fields, "#" being
# its place among the rows of the same parent (a transaction's journal, in order). Rows of other tables with
# such ids are compared by their content alone.
NATURAL_KEYS = {
    "callback": ("tx", "name"), "switch": ("tx", "name"), "globalswitch": ("owner", "name"),
    "steprun": ("tx", "seq"), "apikey": ("owner", "name"), "journalentry": ("tx", "#"),
    "callbackupdate": ("callback", "#"), "globalswitchchange": ("switch", "#"),
}
# Random by design, whatever the path (secrets made by the set-up, lease tokens are aliased instead).
RANDOM_COLUMNS = {("owner", "webhook_secret"), ("callback", "token_hash"), ("callback", "token_salt"),
                  ("apikey", "key_hash")}
SENTINEL_CHANNEL = "datp_test_agreement"


@dataclasses.dataclass(frozen=True)
class Case:
    """One starting state of a transition: `build(h)` writes it (the same way in both runs) and returns what
    `act(h, given)` needs; `act` runs the transition once. `takes`: whether the transition's one-statement path
    (`statement`, a key of FAST_STATEMENTS) does the work in this state, or finds it is not its case and falls
    back to the general path."""

    build: Callable
    act: Callable
    statement: str
    takes: bool


def cases(statement, table):
    """pytest.param for each row (name, build, act, takes) of a table of starting states."""
    return [pytest.param(Case(build, act, statement, takes), id=name) for name, build, act, takes in table]


def assert_agree(case):
    """Run `case` with the fast paths on, then off, and assert that both did and sent exactly the same."""
    start_at = datetime.now(UTC).replace(microsecond=0)
    fast = observe(case, fast=True, start_at=start_at)
    general = observe(case, fast=False, start_at=start_at)
    assert general["statements"] == [], "with FAST_PATHS off a one-statement path still ran"
    took = [name for name, matched in fast["statements"] if name == case.statement and matched]
    assert bool(took) is case.takes, (
        f"the {case.statement} statement was expected {'to take' if case.takes else 'not to take'} this case; "
        f"statements run with FAST_PATHS on: {fast['statements']}")
    differ = [section for section in fast if section != "statements" and fast[section] != general[section]]
    assert not differ, "the fast path (-) and the general path (+) differ:\n" + "\n".join(
        _difference(section, fast[section], general[section]) for section in differ)


def _difference(section, fast, general):
    """The lines of `section` that differ (a helper module's asserts are not rewritten by pytest)."""
    lines = difflib.ndiff(pprint.pformat(fast, width=110).splitlines(), pprint.pformat(general, width=110).splitlines())
    return f"{section}:\n" + "\n".join(line for line in lines if line[:1] in "-+?")


def observe(case, *, fast, start_at):
    """Empty the engine's tables, build the case, run its transition (fast paths on or off) and return what
    it did, section by section."""
    _empty_engine_tables()
    with Harness(start_at=start_at) as h:
        given = case.build(h)
        later(h, 7)  # so that a column the transition should write but does not keeps a different time
        overrides = {**settings.DATP, "FAST_PATHS": fast, "DISPATCHER": "django_q"}  # django_q: notices are sent
        with override_settings(DATP=overrides), _ran() as ran, _finished() as signals, _listening() as heard:
            try:
                result = case.act(h, given)
            except (DatpError, LeaseLost) as exc:
                result = {"raised": type(exc).__name__, "code": getattr(exc, "code", None)}
    rows, names = _snapshot()
    seen = {"result": names.plain(result), "notices": sorted(names.plain(heard)),
            "signals": sorted(names.plain(signals)), **rows}
    return {"statements": ran, **seen}


def _empty_engine_tables():
    tables = [model._meta.db_table for model in apps.get_app_config("engine").get_models(include_auto_created=True)]
    with connection.constraint_checks_disabled(), connection.cursor() as cursor:  # SQLite's DELETEs in any order
        for sql in connection.ops.sql_flush(no_style(), tables, reset_sequences=True, allow_cascade=True):
            cursor.execute(sql)


@contextmanager
def _ran():
    """Record (transition, whether it returned rows) for each one-statement path run meanwhile."""
    ran, rows = [], statements.rows

    def recording(sql, params):
        found = rows(sql, params)
        took = any(row and row[0] is not None for row in found)  # a claim of nothing answers one row of NULLs
        ran.extend((name, took) for name, matches in FAST_STATEMENTS.items() if matches(sql))
        return found

    statements.rows = recording
    try:
        yield ran
    finally:
        statements.rows = rows


@contextmanager
def _finished():
    sent = []

    def receiver(sender, tx_id, owner, status, **kwargs):
        sent.append((tx_id, owner, status))

    transaction_finished.connect(receiver, weak=False)
    try:
        yield sent
    finally:
        transaction_finished.disconnect(receiver)


@contextmanager
def _listening():
    """The (channel, payload) of every NOTIFY from this test's connection delivered meanwhile, heard on a
    second connection: the fast statements call pg_notify in SQL, the general paths through engine.notices,
    and both are delivered only when their database transaction commits. Read up to a NOTIFY sent last on
    the same connection (a session's notices arrive in order), so nothing is waited for by the clock.
    SQLite has no NOTIFY: nothing is heard there."""
    if connection.vendor != "postgresql":
        yield []
        return
    params = connection.get_connection_params()
    for name in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(name, None)
    heard = []
    with psycopg.connect(autocommit=True, **params) as listener:
        for channel in (notices.WORK_CHANNEL, notices.FINISHED_CHANNEL, SENTINEL_CHANNEL):
            listener.execute(f'LISTEN "{channel}"')
        connection.ensure_connection()
        pid = connection.connection.info.backend_pid
        yield heard
        assert not connection.in_atomic_block
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [SENTINEL_CHANNEL])
        for notice in listener.notifies(timeout=10):
            if notice.pid != pid:
                continue  # another session on the same database
            if notice.channel == SENTINEL_CHANNEL:
                break
            heard.append((notice.channel, notice.payload))
        else:
            raise AssertionError("the closing NOTIFY never arrived")


class _Names:
    """Stable names for what differs between two equal runs: transaction ids (tx#1.. in order of creation),
    webhook delivery ids, lease tokens, and rows' database ids (their natural keys)."""

    def __init__(self):
        self.aliases = {}
        self.keys = {}

    def text(self, value):
        for raw, alias in self.aliases.items():
            value = value.replace(raw, alias)
        return value

    def plain(self, value):
        if isinstance(value, Run):
            value = {**dataclasses.asdict(value), "run_id": self.keys.get(("steprun", value.run_id), "?")}
        if isinstance(value, dict):
            return {self.plain(key): self.plain(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.plain(item) for item in value]
        if isinstance(value, uuid.UUID):
            value = str(value)
        return self.text(value) if isinstance(value, str) else value


def _snapshot():
    names = _Names()
    created = JournalEntry.objects.filter(kind="created").order_by("id").values_list("tx_id", flat=True)
    others = Transaction.objects.exclude(pk__in=created).order_by("created_at", "id").values_list("id", flat=True)
    for number, tx_id in enumerate([*created, *others], start=1):
        names.aliases[tx_id] = f"tx#{number}"
    for token in Transaction.objects.exclude(lease_token=None).values_list("lease_token", flat=True):
        names.aliases[token] = "<lease>"
    deliveries = sorted(WebhookDelivery.objects.values_list("tx_id", "event", "created_at", "delivery_id"),
                        key=lambda row: (names.text(row[0]), *row[1:3]))
    for number, row in enumerate(deliveries, start=1):
        names.aliases[str(row[3])] = f"delivery#{number}"
    engine_models = list(apps.get_app_config("engine").get_models(include_auto_created=True))
    raw = {model: list(model.objects.order_by("pk").values(*[f.attname for f in model._meta.concrete_fields]))
           for model in engine_models}
    for model in engine_models:
        _name_rows(model, raw, names)
    return {model._meta.model_name: _rows(model, raw[model], names) for model in engine_models}, names


def _has_made_id(model):
    return isinstance(model._meta.pk, models.AutoField | models.BigAutoField | models.SmallAutoField)


def _name_rows(model, raw, names):
    """Give each row of `model` with a database-made id its natural key (before any row refers to it)."""
    fields = NATURAL_KEYS.get(model._meta.model_name)
    if not _has_made_id(model) or fields is None or ((model._meta.model_name, None) in names.keys):
        return
    names.keys[(model._meta.model_name, None)] = True
    places = {}
    for row in raw[model]:
        key = []
        for name in fields:
            if name == "#":
                parent = tuple(key)
                places[parent] = places.get(parent, 0) + 1
                key.append(places[parent])
            else:
                key.append(_value(model, model._meta.get_field(name), row, raw, names))
        names.keys[(model._meta.model_name, row[model._meta.pk.attname])] = tuple(key)


def _value(model, field, row, raw, names):
    value = row[field.attname]
    target = field.related_model if field.is_relation else None
    if target is not None and _has_made_id(target) and value is not None:
        _name_rows(target, raw, names)
        return names.keys.get((target._meta.model_name, value), ("row", value))
    if (model._meta.model_name, field.name) in RANDOM_COLUMNS and value:
        return "<random>"
    return names.plain(value)


def _rows(model, raw_rows, names):
    rows = []
    for row in raw_rows:
        seen = {field.name: _value(model, field, row, {model: raw_rows}, names)
                for field in model._meta.concrete_fields if not (field.primary_key and _has_made_id(model))}
        if _has_made_id(model):
            seen["key"] = names.keys.get((model._meta.model_name, row[model._meta.pk.attname]))
        rows.append(seen)
    return sorted(rows, key=lambda seen: json.dumps(seen, sort_keys=True, default=str))


# Building blocks of starting states ------------------------------------------------------------------------

NODE = "node-a"
LOGS = [{"at": "2030-01-01T00:00:00+00:00", "level": "info", "message": "a line"}]
ONE = {"name": "one", "steps": [{"name": "only", "type": "util/set", "config": {"values": {"done": True}}}]}
TWO = {"name": "two", "steps": [{"name": "first", "type": "util/echo"},
                                {"name": "second", "type": "util/set", "config": {"values": {"done": True}}}]}
ROUTED = {"name": "routed", "steps": [{"name": "check", "type": "util/echo", "on": {"failed": "repair"}},
                                      {"name": "next", "type": "util/echo"}, {"name": "repair", "type": "util/echo"}]}
RETRYING = {"name": "retrying", "steps": [{"name": "flaky", "type": "util/echo",
                                           "retry": {"max_attempts": 3, "backoff": "PT10S"}}]}
FAILING = {"name": "failing", "steps": [{"name": "first", "type": "util/echo"},
                                        {"name": "fail", "type": "util/fail", "config": {"note": "no"}}]}
NAP = {"name": "nap", "steps": [{"name": "nap", "type": "util/sleep", "config": {"duration_field": "nap"}},
                                {"name": "after", "type": "util/echo"}]}
WAITER = {"name": "waiter", "steps": [{"name": "wait", "type": "util/wait-switch",
                                       "config": {"switch": "go", "value": "yes", "timeout": "PT1H"}}]}
GLOBAL_WAITER = {"name": "global-waiter", "steps": [{"name": "wait", "type": "util/wait-switch",
                                                     "config": {"switch": "go", "scope": "global", "timeout": "PT5M"}}]}
KID = {"name": "kid", "transaction_type": False, "steps": [{"name": "k1", "type": "util/echo"},
                                                           {"name": "k2", "type": "util/echo"}]}
PARENT = {"name": "parent", "steps": [{"name": "call", "type": "util/call", "config": {"transaction_type": "kid"}}]}
REPORTER = {"name": "reporter", "steps": [
    {"name": "cb", "type": "util/callback", "config": {"name": "cb", "timeout": "PT1H"}},
    {"name": "call", "type": "util/call", "config": {"transaction_type": "kid", "background": True, "callback": "cb"}},
    {"name": "await", "type": "util/await", "config": {"callback": "cb"}}]}
WEBHOOK = {"webhook": "https://hooks.example.com/datp", "webhook_progress": True}


@register
class Decide(Step):
    """End with the outcome its config names; it declares none, so its routes may name any (the named
    outcomes' cases complete its step with an Outcome of their own)."""

    type_name = "test/agreement-decide"

    def invoke(self, ctx):
        return ctx.outcome(ctx.config.get("outcome", "success"))


DECIDE = {"name": "decide", "steps": [
    {"name": "decide", "type": "test/agreement-decide", "on": {"approved": "pay", "rejected": "end", "*": "other"}},
    {"name": "pay", "type": "util/echo"}, {"name": "other", "type": "util/echo"}]}
UNROUTED = {"name": "unrouted", "steps": [
    {"name": "decide", "type": "test/agreement-decide", "on": {"approved": "pay"}}, {"name": "pay", "type": "util/echo"}]}


def later(h, seconds):
    """Move the harness's clock on by `seconds` without running anything."""
    h.clock.move_to(h.now() + timedelta(seconds=seconds))


def claimed(h, group="master"):
    """Claim the oldest queued transaction of `group`: its Run."""
    run = execution.tx_claim(node_group=group, node=NODE)
    assert run is not None
    return run


def run_one(h, group="master"):
    """Claim the oldest queued transaction of `group` and run it until it leaves this worker."""
    assert executor.drain(node_group=group, node=NODE, max_transactions=1)[0] == 1


def kid(h, *, reporting=False):
    """A child queued by its parent's step (the parent sleeps waiting for it, or, `reporting`, on the
    callback the child reports to); the child's id."""
    h.load(KID, REPORTER if reporting else PARENT)
    h.start("reporter" if reporting else "parent", {"p": 1})
    run_one(h)
    return Transaction.objects.get(parent__isnull=False).pk


def pause(group="master"):
    node_group_update(name=group, paused=True)


def limit(count, group="master"):
    node_group_update(name=group, max_concurrency=count)
