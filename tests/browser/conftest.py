"""Browser fixtures: headless Chromium driven by Playwright against pytest-django's live server.

The engine runs in this process in virtual time (the Harness); the live server shares its clock. With
SQLite in memory the server thread shares this thread's connection, so the test holds `server.lock`
whenever it touches the database, and the server takes it around every request.
"""
import json
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import Client

from engine.access import GROUP_NAMES
from tests.api.conftest import PIPELINES
from tests.monitoring.conftest import make_user

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "var" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
WIDE = {"width": 1280, "height": 800}
NARROW = {"width": 400, "height": 800}
TIMEOUT_MS = 10_000


def _missing_tool():
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed: run  .venv/bin/pip install -e '.[dev]'"
    if shutil.which("chromium") is None:
        return ("Chromium is not installed: run  apt-get install chromium  (Debian/Ubuntu), so that `chromium` "
                "is on the PATH.")
    return None


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the session, or the reason there is none (each test then fails with it)."""
    problem = _missing_tool()
    if problem:
        yield problem
        return
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls of the tests are still sync.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS,
                                                 timeout=30_000)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@dataclass
class Server:
    url: str
    lock: threading.RLock


@pytest.fixture
def server(live_server):
    """The live server, serving one request at a time under a lock the test shares."""
    lock = threading.RLock()
    httpd = live_server.thread.httpd
    app = httpd.get_app()

    def locked_app(environ, start_response):
        with lock:
            response = app(environ, start_response)
            try:
                body = b"".join(response)
            finally:
                if hasattr(response, "close"):
                    response.close()
        return [body]

    httpd.set_app(locked_app)
    yield Server(url=live_server.url, lock=lock)
    httpd.set_app(app)


@pytest.fixture
def world(harness, server):
    """The harness with the API's example pipelines and pipelines/example-switch.json loaded."""
    with server.lock:
        for name in GROUP_NAMES:
            # A transactional test flushes the tables, the roles migration's groups with them.
            Group.objects.get_or_create(name=name)
        harness.load(*PIPELINES, json.loads((ROOT / "pipelines" / "example-switch.json").read_text()))
    return harness


class Browser:
    """A page in a fresh browser context, with helpers to log in, go to a path and take screenshots."""

    def __init__(self, chromium, server, world, problems=None):
        self.server = server
        self.world = world
        self.problems = [] if problems is None else problems
        self._chromium = chromium
        self._context = None
        self._page = None
        self._others = []

    def as_user(self, user):
        """Another browser context, logged in as `user`, whose problems count as this one's."""
        other = Browser(self._chromium, self.server, self.world, problems=self.problems)
        other.log_in_as(user)
        self._others.append(other)
        return other

    @property
    def context(self):
        """The browser context, opened on first use (so a missing Chromium fails the test, not its set-up)."""
        if self._context is None:
            if isinstance(self._chromium, str):
                pytest.fail(self._chromium, pytrace=False)
            self._context = self._chromium.new_context(viewport=WIDE, base_url=self.server.url)
            self._context.set_default_timeout(TIMEOUT_MS)
            self._context.set_default_navigation_timeout(TIMEOUT_MS)
        return self._context

    @property
    def page(self):
        if self._page is None:
            self._page = self.context.new_page()
            self._page.on("pageerror", lambda error: self.problems.append(f"JavaScript error: {error}"))
            # A CSP violation ("Refused to execute inline script...") is reported as a console error.
            self._page.on("console", self._check_console)
            self._page.on("response", self._check_response)
        return self._page

    def _check_console(self, message):
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(f"console error on {self._page.url}: {message.text}")

    def _check_response(self, response):
        if response.status >= 500:
            self.problems.append(f"{response.status} from {response.url}")

    def user(self, username, role, owners=None, **kwargs):
        """Create a console user (a member of the harness's owner unless told otherwise)."""
        with self.server.lock:
            return make_user(username, role, [self.world.owner] if owners is None else owners, **kwargs)

    def log_in_as(self, user):
        """Log in without the form: a session made by Django's test client, handed to the browser."""
        with self.server.lock:
            client = Client()
            client.force_login(user)
            session = client.cookies[settings.SESSION_COOKIE_NAME].value
        self.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": self.server.url}])

    def goto(self, path):
        response = self.page.goto(self.server.url + path)
        assert response is not None and response.status < 400, (path, response and response.status)
        return response

    def engine(self):
        """Hold the database for the engine's work between two pages: `with browser.engine(): world.settle()`."""
        return self.server.lock

    def shot(self, name, *, width=None):
        """Save a full-page screenshot to var/screenshots/<name>.png (at `width` px if given)."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        if width is not None:
            self.page.set_viewport_size({"width": width, "height": WIDE["height"]})
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        if width is not None:
            self.page.set_viewport_size(WIDE)
        return path

    def close(self):
        for other in self._others:
            other.close()
        if self._context is not None:
            self._context.close()


@pytest.fixture
def browser(chromium, server, world):
    opened = Browser(chromium, server, world)
    yield opened
    problems = list(opened.problems)
    opened.close()
    assert not problems, problems
