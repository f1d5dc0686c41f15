"""Every kind of response carries the security headers: console pages, the API (its early refusals too),
the Django admin, /metrics and the static files WhiteNoise serves; the admin login is rate limited too."""
import pytest
from django.test import Client, override_settings

from tests.headers import header_problems
from tests.monitoring.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/mondat/login/", "/mondat/", "/admin/login/", "/metrics", "/api/v1/transactions",
                                  "/api/docs/", "/api/nowhere"])
def test_a_response_carries_the_security_headers(path):
    response = Client().get(path)
    assert header_problems(path, {name.lower(): value for name, value in response.headers.items()}) == []


def test_an_oversized_api_request_refused_before_any_view_carries_them(settings):
    settings.DATP = {**settings.DATP, "MAX_PAYLOAD_BYTES": 10}
    response = Client().post("/api/v1/transactions", data="x" * 100, content_type="application/json")
    assert response.status_code == 413
    assert header_problems("413", {name.lower(): value for name, value in response.headers.items()}) == []


def test_a_static_file_from_whitenoise_carries_them():
    with override_settings(WHITENOISE_USE_FINDERS=True, WHITENOISE_AUTOREFRESH=True):
        response = Client().get("/static/monitoring/mondat.js")
        assert response.status_code == 200
        assert header_problems("static", {name.lower(): value for name, value in response.headers.items()}) == []


def test_the_admin_login_goes_through_axes_and_locks_after_the_failure_limit(settings):
    make_user("root", superuser=True)
    client = Client()
    assert client.post("/admin/login/", {"username": "root", "password": "pw-root"}).status_code == 302
    client = Client()
    answers = [client.post("/admin/login/", {"username": "root", "password": "wrong"}).status_code
               for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert answers == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    locked = client.post("/admin/login/", {"username": "root", "password": "pw-root"})
    assert locked.status_code == 429 and b"Try again after" in locked.content


def test_the_schedules_pages_their_actions_and_their_refusals_carry_them(world, operator, viewer):
    world.schedule("nightly", "echo", cron="0 2 * * *")
    answers = {
        "list": operator.get("/mondat/schedules/"),
        "page": operator.get("/mondat/schedules/nightly/"),
        "pause": operator.post("/mondat/schedules/nightly/pause", {"note": "x"}),
        "refused": viewer.post("/mondat/schedules/nightly/resume", {}),
        "missing": operator.get("/mondat/schedules/nope/"),
    }
    assert {name: response.status_code for name, response in answers.items()} == {
        "list": 200, "page": 200, "pause": 302, "refused": 403, "missing": 404}
    for name, response in answers.items():
        assert header_problems(name, {key.lower(): value for key, value in response.headers.items()}) == []
