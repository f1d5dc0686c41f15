"""The Schedules pages: the list of the user's owners' schedules, one schedule's fields, next runs, last runs and
journal, and pause, resume and run now for operators, through the engine's services, as the user."""
import re

import pytest
from django.contrib.messages import get_messages

from engine.errors import InvalidRequest
from engine.models import Schedule, ScheduleEvent, ScheduleRun
from engine.services import schedules
from tests.monitoring.conftest import login, make_user


def html_of(client, path):
    response = client.get(path)
    assert response.status_code == 200, path
    return response.content.decode()


def row(html, name):
    return re.search(rf'<tr id="schedule-{name}">(.*?)</tr>', html, re.DOTALL).group(1)


def section(html, css_id):
    return re.search(rf'<section class="card table-wrap" id="{css_id}">(.*?)</section>', html, re.DOTALL).group(1)


def act(client, name, action, **form):
    return client.post(f"/mondat/schedules/{name}/{action}", form)


def flashed(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def events(name, *kinds):
    found = ScheduleEvent.objects.filter(schedule__name=name).order_by("at", "pk")
    if kinds:
        found = found.filter(kind__in=kinds)
    return [(event.kind, event.actor, event.note) for event in found]


@pytest.fixture
def nightly(world):
    """A schedule of the harness's owner, nightly at 02:00 in Paris, and one of the other owner."""
    world.schedule("nightly", "echo", cron="0 2 * * *", timezone="Europe/Paris", description="the daily report")
    schedules.schedule_create(owner="other", name="theirs", transaction_type="echo", interval="PT15M",
                              actor="app:other")
    return "nightly"


def test_the_list_shows_the_schedules_of_the_users_owners_only(world, nightly, viewer, other_operator,
                                                               system_user):
    html = html_of(viewer, "/mondat/schedules/")
    assert 'href="/mondat/schedules/nightly/"' in html and "theirs" not in html
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row(html, "nightly"), re.DOTALL)
    next_due = Schedule.objects.get(name="nightly").next_due_at
    assert cells[1:5] == ["test", "echo", "<code>0 2 * * *</code>", "Europe/Paris"]
    assert next_due.strftime("%Y-%m-%d %H:%M:%S UTC") in cells[5] and "active" in cells[6] and "none yet" in cells[7]
    theirs = html_of(other_operator, "/mondat/schedules/")
    assert "theirs" in theirs and "nightly" not in theirs and "every <code>PT15M</code>" in theirs
    both = html_of(system_user, "/mondat/schedules/")
    assert 'id="schedule-nightly"' in both and 'id="schedule-theirs"' in both
    assert 'aria-current="page">Schedules</a>' in both


def test_the_list_shows_a_paused_schedule_with_its_note_and_the_last_runs_status(world, viewer):
    world.schedule("hourly", "approval", cron="0 * * * *")
    world.schedule("quiet", "echo", cron="0 * * * *")
    world.advance("PT1H")
    schedules.schedule_pause(name="quiet", actor="user:otto", note="supplier is down")
    [(_, tx_id)] = world.schedule_runs("hourly")
    html = html_of(viewer, "/mondat/schedules/")
    hourly = row(html, "hourly")
    assert f'href="/mondat/transactions/{tx_id}/"' in hourly and 'class="badge s-sleeping">sleeping' in hourly
    quiet = row(html, "quiet")
    assert 'class="badge s-timeout">paused' in quiet and "supplier is down" in quiet
    assert 'class="badge s-success">success' in quiet  # its one run before the pause


def test_the_schedule_page_shows_its_fields_next_runs_last_runs_and_journal(world, viewer):
    world.schedule("every", "echo", cron="0 * * * *", data={"report": "hourly"}, overlap="buffer_one")
    world.advance("PT2H")
    runs = world.schedule_runs("every")
    assert len(runs) == 2
    html = html_of(viewer, "/mondat/schedules/every/")
    assert "<dt>Cron</dt><dd><code>0 * * * *</code></dd>" in html and "<dd>buffer_one</dd>" in html
    assert "&quot;report&quot;: &quot;hourly&quot;" in html
    schedule = Schedule.objects.get(name="every")
    next_rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td></tr>",
                           re.search(r'<table class="next-runs">(.*?)</table>', html, re.DOTALL).group(1))
    due = schedule.next_due_at
    assert len(next_rows) == 5 and next_rows[0] == (due.strftime("%Y-%m-%d %H:%M:%S UTC"),) * 2
    last = section(html, "last-runs")
    for due_at, tx_id in runs:
        assert f'href="/mondat/transactions/{tx_id}/">{tx_id}</a>' in last
        assert due_at.strftime("%Y-%m-%d %H:%M:%S UTC") in last
    assert last.count('class="badge s-success">success') == 2
    journal = section(html, "journal")
    assert "<td>created</td>" in journal and "<td>app:test</td>" in journal


def test_the_journal_shows_the_due_times_that_started_nothing_with_why(world, viewer):
    world.schedule("slow", "approval", cron="0 * * * *")  # its runs sleep until approved: overlap skip
    world.advance("PT2H")
    [(_, first)] = world.schedule_runs("slow")
    journal = section(html_of(viewer, "/mondat/schedules/slow/"), "journal")
    skipped = re.search(r'<tr class="event-skipped">(.*?)</tr>', journal, re.DOTALL).group(1)
    assert "Not started: a run it started is still active (overlap skip)" in skipped and first in skipped


def test_the_local_time_of_each_next_run_is_shown_in_the_schedules_zone(world, nightly, viewer):
    html = html_of(viewer, "/mondat/schedules/nightly/")
    assert "<th>In Europe/Paris</th>" in html
    assert re.search(r"<td>\d{4}-\d\d-\d\d 02:00 CES?T</td>", html)


def test_an_operator_pauses_with_a_note_and_resumes_as_themselves(world, nightly, operator):
    response = act(operator, "nightly", "pause", note="report server migration")
    assert response.status_code == 302 and response["Location"] == "/mondat/schedules/nightly/"
    schedule = Schedule.objects.get(name="nightly")
    assert (schedule.paused, schedule.note, schedule.look_at) == (True, "report server migration", None)
    assert flashed(response) == ["Paused nightly: it starts nothing until it is resumed."]
    html = html_of(operator, "/mondat/schedules/nightly/")
    assert "Note: report server migration" in html and "action-resume" in html and "action-pause" not in html
    response = act(operator, "nightly", "resume", note="migrated")
    schedule.refresh_from_db()
    assert (schedule.paused, schedule.note) == (False, "migrated") and schedule.look_at is not None
    assert events("nightly", "paused", "resumed") == [("paused", "user:otto", "report server migration"),
                                                      ("resumed", "user:otto", "migrated")]


def test_pausing_a_paused_schedule_changes_nothing_and_says_so(world, nightly, operator):
    act(operator, "nightly", "pause", note="first")
    response = act(operator, "nightly", "pause", note="second")
    assert flashed(response)[-1] == "nightly was already paused: nothing changed."
    assert Schedule.objects.get(name="nightly").note == "first" and len(events("nightly", "paused")) == 1


def test_run_now_starts_a_transaction_as_the_user(world, nightly, operator):
    response = act(operator, "nightly", "trigger", note="rerun for finance")
    run = ScheduleRun.objects.get(schedule__name="nightly")
    assert (run.cause, run.actor) == ("trigger", "user:otto")
    assert flashed(response) == [f"Started {run.tx_id}."]
    assert events("nightly", "triggered") == [("triggered", "user:otto", "rerun for finance")]
    world.settle()
    last = section(html_of(operator, "/mondat/schedules/nightly/"), "last-runs")
    assert f'href="/mondat/transactions/{run.tx_id}/"' in last and "<td>trigger</td>" in last


def test_run_now_that_the_overlap_policy_skips_says_why(world, operator):
    world.schedule("slow", "approval", cron="0 2 * * *")
    act(operator, "slow", "trigger")
    world.advance("PT1M")
    response = act(operator, "slow", "trigger")
    said = flashed(response)[-1]
    assert said.startswith("Not started: a run it started is still active (overlap skip)")
    assert ScheduleRun.objects.filter(schedule__name="slow").count() == 1


def test_run_now_twice_in_the_same_moment_starts_one_run(world, nightly, operator):
    act(operator, "nightly", "trigger")
    world.settle()  # the run ends, so the overlap policy lets the next one start
    response = act(operator, "nightly", "trigger")  # the virtual clock has not moved: the same due time
    [run] = ScheduleRun.objects.filter(schedule__name="nightly")
    # the engine answers "existing", or "started" with the run it started already (its external id is the same)
    assert flashed(response)[-1] in (f"A run due at {run.due_at:%Y-%m-%dT%H:%M:%SZ} exists already: nothing more "
                                     "started.", f"Started {run.tx_id}.")


def test_run_now_the_engine_refuses_is_shown_as_an_error(world, nightly, operator):
    world.load({"name": "echo", "transaction_type": False, "steps": [{"name": "echo", "type": "util/echo"}]})
    response = operator.post("/mondat/schedules/nightly/trigger", {"note": "try"}, follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'<li class="msg msg-error">Not started: [^<]+</li>', html)
    assert not ScheduleRun.objects.filter(schedule__name="nightly").exists()
    assert [kind for kind, _, _ in events("nightly", "failed")] == ["failed"]


def test_a_typed_error_from_the_service_is_a_message_not_a_500(world, nightly, operator, monkeypatch):
    def refuse(**kwargs):
        raise InvalidRequest("note: not a note the engine takes.", fields={"note": ["Bad."]})

    monkeypatch.setattr(schedules, "schedule_pause", refuse)
    response = operator.post("/mondat/schedules/nightly/pause", {"note": "x"}, follow=True)
    assert response.status_code == 200
    assert '<li class="msg msg-error">note: not a note the engine takes.</li>' in response.content.decode()
    assert Schedule.objects.get(name="nightly").paused is False


def test_a_viewer_sees_no_action_and_a_viewers_post_is_refused_and_changes_nothing(world, nightly, viewer):
    html = html_of(viewer, "/mondat/schedules/nightly/")
    main = html.split('<main class="page">')[1]
    assert 'method="post"' not in main and "Run now" not in main
    for action in ("pause", "resume", "trigger"):
        assert act(viewer, "nightly", action, note="sneaky").status_code == 403
    schedule = Schedule.objects.get(name="nightly")
    assert (schedule.paused, schedule.note) == (False, "")
    assert events("nightly") == [("created", "app:test", "")]
    assert not ScheduleRun.objects.exists()


def test_a_missing_schedule_or_another_owners_is_a_404(world, nightly, operator, other_operator):
    assert operator.get("/mondat/schedules/nope/").status_code == 404
    assert act(operator, "nope", "pause").status_code == 404
    assert other_operator.get("/mondat/schedules/nightly/").status_code == 404
    for action in ("pause", "trigger"):
        assert act(other_operator, "nightly", action).status_code == 404
    assert Schedule.objects.get(name="nightly").paused is False and not ScheduleRun.objects.exists()


def test_a_system_user_acts_on_any_owners_schedule(world, nightly, system_user):
    act(system_user, "theirs", "pause", note="all hands")
    assert Schedule.objects.get(name="theirs").paused is True
    assert events("theirs", "paused") == [("paused", "user:sys", "all hands")]


def test_what_the_pages_show_is_escaped(world, operator):
    world.schedule("loud", "echo", cron="0 2 * * *", description="<b>bold</b>", data={"x": "<script>1</script>"})
    act(operator, "loud", "pause", note="<img src=x onerror=alert(1)>")
    for path in ("/mondat/schedules/", "/mondat/schedules/loud/"):
        html = html_of(operator, path)
        assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
        assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script>1</script>" not in html_of(operator, "/mondat/schedules/loud/")


def test_the_list_reads_a_bounded_number_of_queries(world, django_assert_max_num_queries):
    for index in range(8):
        world.schedule(f"s-{index}", "echo", cron="*/30 * * * *")
    world.advance("PT1H")
    client = login(make_user("sys2", "system"))
    client.get("/mondat/schedules/")
    with django_assert_max_num_queries(6):
        assert client.get("/mondat/schedules/").status_code == 200
