"""A world full of hostile input for the browser's security tests: markup in data, switch values, reasons,
descriptions, step logs, errors, webhook URLs, key names and query strings; users of every role and of
a second owner; every console page and action, with the role it needs."""
from dataclasses import dataclass
from urllib.parse import quote

from engine.models import Owner, WebhookDelivery
from engine.services.bulk import bulk_job_create
from engine.services.figures import figures_refresh
from engine.services.owners import api_key_create, owner_ensure
from engine.services.schedules import schedule_create, schedule_pause
from engine.steps import Step, register

# Markup that would set window.__xss if it ever ran; shown as text it is harmless. No spaces: it is an
# external id too.
XSS = '<script>window.__xss=1</script><img/src="x"/onerror="window.__xss=1">'
# The part of it every page shows as text, JSON included (which escapes the quotes).
SHOWN = "<script>window.__xss=1</script>"
ROLES = ("viewer", "operator", "admin", "system")
OTHER = "other"
SCHEDULE = "hostile-nightly"  # a schedule's name is plain: its description, data and note carry the markup


@register
class Shouts(Step):
    """Log the input's `note` as a warning and succeed with it as output."""

    type_name = "test/console-shouts"
    config_schema = {"type": "object"}

    def invoke(self, ctx):
        ctx.log.warning(ctx.input.get("note", ""))
        return ctx.succeeded(note=ctx.input.get("note", ""), output={"echo": ctx.input.get("note", "")})


HOSTILE = {"name": "hostile", "description": XSS, "steps": [
    {"name": "shout", "type": "test/console-shouts", "on": {"success": "boom"}},
    {"name": "boom", "type": "util/fail", "config": {"note": XSS}},
]}
# A second version (published last, so in use): the version move's dry run and the rewind page have two to pick.
HOSTILE_V2 = {**HOSTILE, "steps": [{**HOSTILE["steps"][0], "config": {"v": 2}}, HOSTILE["steps"][1]]}


@dataclass
class Hostile:
    """The ids of what the hostile world holds."""

    failed: str
    waiting: str
    cancelled: str
    napping: str
    delivery: str
    key: int
    job: int
    version: str
    version2: str = "v2"
    rewound: str = "tx-rewound"


def build(world):
    """Fill the harness's owner with hostile input (the caller holds the server's lock)."""
    owner = world.owner
    Owner.objects.filter(name=owner).update(description=XSS)
    owner_ensure(name=OTHER)
    version = world.load(HOSTILE)[0]
    failed = world.start("hostile", {"note": XSS}, external_id=XSS)
    waiting = world.start("approval", {"note": XSS})
    cancelled = world.start("approval", {"note": XSS})
    napping = world.start("nap", {"note": XSS})
    world.settle()
    world.set_switch(waiting, "remark", XSS, reason=XSS)
    world.cancel(cancelled, reason=XSS)
    world.set_global_switch("maintenance", XSS, reason=XSS)
    delivery = WebhookDelivery.objects.create(
        tx_id=failed, owner_id=owner, event="transaction.finished", url="https://hooks.example.com/?q=" + XSS,
        payload={"note": XSS}, status="dead", attempts=12, last_error=XSS, created_at=world.now())
    key, _ = api_key_create(owner=owner, name=XSS)
    job = bulk_job_create(action="wake", owners=[owner], filters={"external_id": XSS}, actor="user:otto",
                          reason=XSS)
    schedule_create(owner=owner, name=SCHEDULE, transaction_type="approval", data={"note": XSS}, cron="0 2 * * *",
                    description=XSS, actor="app:test")
    schedule_pause(name=SCHEDULE, actor="user:otto", note=XSS)
    rewound = world.start("approval", {"note": "before"})
    world.settle()
    world.rewind(rewound, to_step="approval", data={"note": XSS}, reason=XSS)
    world.settle()
    version2 = world.load(HOSTILE_V2)[0]
    figures_refresh()
    return Hostile(failed=failed, waiting=waiting, cancelled=cancelled, napping=napping,
                   delivery=str(delivery.delivery_id), key=key.pk, job=job.pk, version=version.version,
                   version2=version2.version, rewound=rewound)


def move_page(h):
    """The dry run of a move of the hostile pipeline's transactions from its first version to its second."""
    return f"/mondat/pipelines/hostile/move/?from_version={h.version}&to_version={h.version2}"


def pages(h, owner):
    """(path, role needed to see it) for every console page, on the hostile world's objects."""
    q = quote(XSS)
    return [
        ("/mondat/", "viewer"),
        ("/mondat/node-groups/", "viewer"),
        (f"/mondat/transactions/?external_id={q}", "viewer"),
        (f"/mondat/transactions/?parent_tx_id={q}&fan_out=1", "viewer"),
        (f"/mondat/transactions/{h.failed}/", "viewer"),
        (f"/mondat/transactions/{h.waiting}/", "viewer"),
        (f"/mondat/transactions/{h.cancelled}/", "viewer"),
        (f"/mondat/transactions/{h.waiting}/status", "viewer"),
        (f"/mondat/transactions/{h.rewound}/", "viewer"),
        (f"/mondat/transactions/{h.failed}/rewind", "operator"),
        (f"/mondat/sleeping/?switch={q}", "viewer"),
        ("/mondat/switches/", "viewer"),
        ("/mondat/failures/", "viewer"),
        ("/mondat/pipelines/", "viewer"),
        ("/mondat/pipelines/hostile/", "viewer"),
        (move_page(h), "operator"),
        (f"/mondat/bulk/move_version/?transaction_type=hostile&external_id={q}&version={h.version}&to_version="
         + h.version2, "viewer"),
        ("/mondat/schedules/", "viewer"),
        (f"/mondat/schedules/{SCHEDULE}/", "viewer"),
        ("/mondat/webhooks/", "viewer"),
        ("/mondat/owners/", "viewer"),
        (f"/mondat/bulk/cancel/?external_id={q}", "viewer"),
        (f"/mondat/bulk/jobs/{h.job}/", "viewer"),
        (f"/mondat/owners/{owner}/secret/", "admin"),
        ("/mondat/pipelines/_load/", "system"),
    ]


def actions(h, owner):
    """(path, form, role needed) for every console action, aimed at the hostile world's objects."""
    tx = "/mondat/transactions/"
    return [
        (f"{tx}{h.waiting}/switch", {"name": "remark", "value": XSS, "reason": XSS}, "operator"),
        (f"{tx}{h.waiting}/wake", {"reason": XSS}, "operator"),
        (f"{tx}{h.waiting}/deadline", {"deadline": "PT1H", "reason": XSS}, "operator"),
        (f"{tx}{h.failed}/webhooks/{h.delivery}/resend", {"reason": XSS}, "operator"),
        (f"{tx}{h.failed}/retry", {"reason": XSS}, "operator"),
        (f"{tx}{h.failed}/rewind", {"to_step": "boom", "reason": XSS, "data": '{"note": "' + XSS + '"}'}, "operator"),
        ("/mondat/pipelines/hostile/move/", {"from_version": h.version, "to_version": h.version2, "reason": XSS},
         "operator"),
        (f"{tx}{h.napping}/cancel", {"reason": XSS}, "operator"),
        ("/mondat/bulk/wake/?transaction_type=nap", {"reason": XSS}, "operator"),
        (f"/mondat/sleeping/{h.napping}/wake", {"reason": XSS}, "operator"),
        ("/mondat/switches/global/", {"owner": owner, "name": "maintenance", "value": XSS, "reason": XSS},
         "operator"),
        (f"/mondat/failures/{h.failed}/retry", {"reason": XSS}, "operator"),
        (f"/mondat/schedules/{SCHEDULE}/pause", {"note": XSS}, "operator"),
        (f"/mondat/schedules/{SCHEDULE}/resume", {"note": XSS}, "operator"),
        (f"/mondat/schedules/{SCHEDULE}/trigger", {"note": XSS}, "operator"),
        ("/mondat/webhooks/resend-dead/", {"reason": XSS}, "operator"),
        (f"/mondat/webhooks/{h.delivery}/resend/", {"reason": XSS}, "operator"),
        (f"/mondat/owners/{owner}/keys/", {"name": XSS}, "admin"),
        (f"/mondat/owners/{owner}/keys/{h.key}/revoke/", {}, "admin"),
        (f"/mondat/owners/{owner}/secret/rotate/", {}, "admin"),
        ("/mondat/pipelines/_load/", {"definition": '{"name": "' + XSS + '"}', "action": "check"}, "system"),
        (f"/mondat/pipelines/hostile/versions/{h.version}/use/", {}, "system"),
        ("/mondat/node-groups/", {"group": "master", "action": "pause"}, "system"),
    ]


def another_owners(h, owner):
    """(method, path, role) of the hostile owner's objects: a user of another owner in that role gets 404."""
    tx = "/mondat/transactions/"
    operator = [
        ("GET", f"{tx}{h.failed}/"),
        ("GET", f"{tx}{h.waiting}/status"),
        ("GET", f"/mondat/bulk/jobs/{h.job}/"),
        ("POST", f"{tx}{h.waiting}/switch"),
        ("POST", f"{tx}{h.waiting}/wake"),
        ("POST", f"{tx}{h.waiting}/cancel"),
        ("POST", f"{tx}{h.waiting}/deadline"),
        ("POST", f"{tx}{h.failed}/retry"),
        ("GET", f"{tx}{h.failed}/rewind"),
        ("POST", f"{tx}{h.failed}/rewind"),
        ("POST", f"{tx}{h.failed}/webhooks/{h.delivery}/resend"),
        ("POST", f"/mondat/sleeping/{h.napping}/wake"),
        ("POST", f"/mondat/failures/{h.failed}/retry"),
        ("POST", f"/mondat/webhooks/{h.delivery}/resend/"),
        ("POST", "/mondat/switches/global/"),
        ("GET", f"/mondat/schedules/{SCHEDULE}/"),
        ("POST", f"/mondat/schedules/{SCHEDULE}/pause"),
        ("POST", f"/mondat/schedules/{SCHEDULE}/resume"),
        ("POST", f"/mondat/schedules/{SCHEDULE}/trigger"),
    ]
    admin = [
        ("GET", f"/mondat/owners/{owner}/secret/"),
        ("POST", f"/mondat/owners/{owner}/keys/"),
        ("POST", f"/mondat/owners/{owner}/keys/{h.key}/revoke/"),
        ("POST", f"/mondat/owners/{owner}/secret/rotate/"),
    ]
    return [(*entry, "operator") for entry in operator] + [(*entry, "admin") for entry in admin]
