"""MONDAT's security in a real browser (S3, S5): what each role sees and may do, another owner's objects,
hostile input rendered inert on every page, the security headers on every response, and login rate limiting."""
import re
from datetime import datetime, timedelta, timezone

import pytest
from django.conf import settings
from django.urls import resolve
from playwright.sync_api import expect

from monitoring import urls as console_urls

from engine.access import role_rank
from tests.browser import hostile
from tests.browser.hostile import ROLES, SHOWN, XSS
from tests.headers import header_problems

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# What a page holds of the hostile input: elements it injected, whether it ran, whether it is shown as text.
INSPECT = """(payload) => ({
  injected: document.querySelectorAll('script:not([src]), [onerror], img[src="x"]').length,
  ran: window.__xss !== undefined,
  shown: document.body.innerText.includes(payload)
    || [...document.querySelectorAll('input, textarea')].some((field) => field.value.includes(payload)),
  actions: document.querySelectorAll('main form[method="post"], main form[method="POST"]').length,
})"""
def visit(session, path):
    """Go to `path`; return the response's status and what the page holds of the hostile input."""
    response = session.page.goto(session.server.url + path)
    session.problems.extend(header_problems(path, response.all_headers()))
    return response.status, session.page.evaluate(INSPECT, SHOWN)


def hostile_world(browser):
    with browser.engine():
        built = hostile.build(browser.world)
    users = {role: browser.user(f"{role}-user", role) for role in ROLES}
    return built, users


def csrf_token(session):
    """A valid CSRF token, taken from the log-out form of a page the user can see."""
    session.goto("/mondat/")
    return session.page.locator("input[name=csrfmiddlewaretoken]").first.input_value()


def post(session, path, form, token):
    return session.page.request.post(session.server.url + path, form={**form, "csrfmiddlewaretoken": token},
                                     max_redirects=0).status


def test_every_page_renders_hostile_input_inert_for_every_role_with_the_security_headers(browser):
    built, users = hostile_world(browser)
    owner = browser.world.owner
    dialogs = []
    shown = {}
    for role in ROLES:
        session = browser.as_user(users[role])
        session.page.on("dialog", lambda dialog: dialogs.append(dialog.message) or dialog.dismiss())
        for path, needed in hostile.pages(built, owner):
            status, held = visit(session, path)
            allowed = role_rank(role) >= role_rank(needed)
            assert status == (200 if allowed else 403), (role, path, status)
            assert held["injected"] == 0 and not held["ran"], (role, path, held)
            if allowed:
                shown.setdefault(path, set()).add(held["shown"])
            if role == "viewer":
                assert held["actions"] == 0, f"a viewer finds an action form on {path}"
        export = session.page.request.get(
            f"{browser.server.url}/mondat/pipelines/hostile/versions/{built.version}.json")
        assert export.status == 200 and export.headers["content-type"] == "application/json", (role, export.status)
        session.problems.extend(header_problems("export", export.headers))
    assert not dialogs
    # (the move's dry run lists transaction ids, steps and versions, none of which holds markup)
    quiet = {"/mondat/node-groups/", f"/mondat/owners/{owner}/secret/", "/mondat/pipelines/_load/",
             f"/mondat/transactions/{built.waiting}/status", hostile.move_page(built)}
    assert {path for path, seen in shown.items() if seen != {True}} == quiet


def test_the_flow_drawing_and_the_journal_show_the_markup_as_text(browser):
    built, users = hostile_world(browser)
    session = browser.as_user(users["operator"])
    session.goto(f"/mondat/transactions/{built.cancelled}/")
    expect(session.page.locator("#journal")).to_contain_text(SHOWN)
    session.goto(f"/mondat/transactions/{built.failed}/")
    expect(session.page.locator("main")).to_contain_text(XSS)
    expect(session.page.locator("main details pre").first).to_contain_text(XSS)  # the step's log lines
    session.goto("/mondat/pipelines/hostile/")
    flow = session.page.locator("svg.flow")
    expect(flow.locator("text", has_text="boom")).not_to_have_count(0)
    expect(flow.locator("script, foreignObject, [onerror]")).to_have_count(0)
    expect(session.page.locator("main")).to_contain_text(XSS)


def test_a_viewer_sees_no_action_and_an_operator_cannot_manage_keys(browser):
    built, users = hostile_world(browser)
    for role in ("viewer", "operator"):
        page = browser.as_user(users[role]).page
        page.goto(browser.server.url + "/mondat/owners/")
        expect(page.locator("main")).to_contain_text(XSS)  # the key is listed, by its name
        expect(page.locator('main form[action*="/keys/"], main form[action*="/secret/"]')).to_have_count(0)
        expect(page.get_by_role("link", name="Reveal")).to_have_count(0)
    page = browser.as_user(users["admin"]).page
    page.goto(browser.server.url + "/mondat/owners/")
    expect(page.get_by_role("button", name="Create a key")).to_have_count(1)
    expect(page.get_by_role("button", name="Revoke")).to_have_count(1)
    page.get_by_role("link", name="Reveal").click()  # htmx, under the CSP
    expect(page.locator(".secret code.secret")).to_have_text(re.compile(r"^\S{20,}$"))
    expect(page).to_have_url(re.compile(r"/mondat/owners/$"))


def test_the_tables_name_every_console_url():
    built = hostile.Hostile(failed="tx-a", waiting="tx-b", cancelled="tx-c", napping="tx-d", job=1, key=2,
                            delivery="6f1c5d3e-8a9b-4c2d-9e0f-1a2b3c4d5e6f", version="v1")
    paths = [path for path, _ in hostile.pages(built, "test")] + [path for path, _, _ in hostile.actions(built, "test")]
    # transaction-link only redirects to the transaction page the tables hold
    named = ({resolve(path.partition("?")[0]).url_name for path in paths}
             | {"pipeline_export", "login", "logout", "transaction-link"})
    assert named == {pattern.name for pattern in console_urls.urlpatterns}


def test_a_forged_post_below_the_role_gets_403_and_the_role_itself_may_act(browser):
    built, users = hostile_world(browser)
    owner = browser.world.owner
    sessions = {role: browser.as_user(users[role]) for role in ROLES}
    tokens = {role: csrf_token(session) for role, session in sessions.items()}
    every_action = hostile.actions(built, owner)
    for role in ("viewer", "operator", "admin"):
        for path, form, needed in every_action:
            if role_rank(role) < role_rank(needed):
                assert post(sessions[role], path, form, tokens[role]) == 403, (role, path)
    assert sessions["operator"].page.request.post(browser.server.url + every_action[0][0], form=every_action[0][1],
                                                  max_redirects=0).status == 403  # no CSRF token
    for path, form, needed in every_action:
        status = post(sessions[needed], path, form, tokens[needed])
        assert status in (200, 302, 400), (needed, path, status)


def test_another_owners_objects_answer_404_and_stay_out_of_the_lists(browser):
    built, _ = hostile_world(browser)
    owner = browser.world.owner
    for role in ("operator", "admin"):
        session = browser.as_user(browser.user(f"other-{role}", role, owners=[hostile.OTHER]))
        token = csrf_token(session)
        for method, path, needed in hostile.another_owners(built, owner):
            if role_rank(role) < role_rank(needed):
                continue  # refused for the role already (403), whoever the owner
            if method == "GET":
                status = session.page.goto(browser.server.url + path).status
            else:
                status = post(session, path, {"owner": owner, "reason": "x", "name": "x", "value": "1",
                                              "deadline": "PT1H"}, token)
            assert status == 404, (role, method, path, status)
        for path in ("/mondat/transactions/", "/mondat/sleeping/", "/mondat/failures/", "/mondat/webhooks/",
                     "/mondat/owners/", "/mondat/switches/", "/mondat/schedules/"):
            session.goto(path)
            text = session.page.locator("main").inner_text()
            assert built.failed not in text and built.napping not in text and XSS not in text, path
            assert hostile.SCHEDULE not in text, path


def test_a_locked_out_user_is_told_when_to_try_again(browser):
    browser.user("otto", "operator")
    browser.user("olga", "operator")
    page = browser.page
    failures = 0
    while failures < settings.AXES_FAILURE_LIMIT:
        browser.goto("/mondat/login/")
        page.get_by_label("Username").fill("otto")
        page.get_by_label("Password").fill("not-it")
        page.get_by_role("button", name="Log in").click()
        failures += 1
        if page.locator(".locked").count():
            break
    assert failures == settings.AXES_FAILURE_LIMIT
    page.get_by_label("Username").fill("otto")
    page.get_by_label("Password").fill("pw-otto")
    with page.expect_response(re.compile(r"/mondat/login/$")) as answer:
        page.get_by_role("button", name="Log in").click()
    assert answer.value.status == 429
    locked = page.locator(".locked")
    expect(locked).to_contain_text("Try again after")
    retry_at = datetime.fromisoformat(locked.locator("time").get_attribute("datetime"))
    cool_off = settings.AXES_COOLOFF_TIME
    now = datetime.now(timezone.utc)
    assert now + cool_off - timedelta(minutes=1) <= retry_at <= now + cool_off + timedelta(minutes=1)
    expect(locked.locator("time")).to_have_text(f"{retry_at:%H:%M} UTC")
    browser.shot("login-locked-out")
    # The lock holds that username from this address only: another user logs in.
    page.get_by_label("Username").fill("olga")
    page.get_by_label("Password").fill("pw-olga")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".who .user")).to_have_text("olga")


def test_the_api_its_docs_the_admin_metrics_and_static_files_carry_the_headers_and_work(browser):
    root = browser.user("root", None, owners=[], superuser=True)
    session = browser.as_user(root)
    page = session.page
    response = session.goto("/api/docs/")
    session.problems.extend(header_problems("/api/docs/", response.all_headers()))
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("DATP API")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    for path in ("/admin/", "/admin/engine/transaction/", "/admin/auth/user/add/"):
        response = session.goto(path)
        session.problems.extend(header_problems(path, response.all_headers()))
    expect(page.locator("#content h1")).to_have_text("Add user")
    # Static files are left out: the live server serves them itself, before the middleware (WhiteNoise's own
    # answers are checked in tests/monitoring/test_security_headers.py).
    for path in ("/metrics", "/api/v1/transactions", "/api/schema/", "/api/nowhere"):
        answer = page.request.get(browser.server.url + path)
        assert answer.status in (200, 401, 403, 404), (path, answer.status)
        session.problems.extend(header_problems(path, answer.headers))
    anonymous = browser.page.request.post(browser.server.url + "/api/v1/transactions", data="{}",
                                          headers={"Content-Type": "application/json"})
    assert anonymous.status == 401
    session.problems.extend(header_problems("POST /api/v1/transactions", anonymous.headers))
