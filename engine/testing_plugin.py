"""The pytest plugin of DATP (entry point `pytest11: datp`), so a host project's own tests run with plain
`pytest` once pytest-django knows its settings (DJANGO_SETTINGS_MODULE in pytest.ini or pyproject.toml).

It runs the engine in the test's own process: DATP["DISPATCHER"] = "inline" (work runs when it is
queued, no node needed) and django-q2 in sync mode (django-q2 read Q_CLUSTER when it was imported, so its
switch is set where it keeps it). And it gives the fixture `harness`:

    def test_reserve(harness):
        harness.load(...)
        tx_id = harness.start("shop-order", {"sku": "A1"})
        assert harness.run(tx_id).status == "success"

Turn the in-process switches off with `datp_in_process = false` in the pytest ini options.
"""
import pytest


def pytest_addoption(parser):
    parser.addini("datp_in_process", "Run DATP's engine in the test process (DISPATCHER inline, django-q2 sync).",
                  type="bool", default=True)


def run_in_process(settings):
    """Make `settings` run the engine in this process: DATP's inline dispatcher and django-q2's sync mode."""
    settings.DATP = {**getattr(settings, "DATP", {}), "DISPATCHER": "inline"}
    cluster = getattr(settings, "Q_CLUSTER", None)
    if isinstance(cluster, dict):
        cluster["sync"] = True
    from django_q.conf import Conf  # Why here: it reads the settings when imported, which this module must not

    Conf.SYNC = True


@pytest.fixture(scope="session", autouse=True)
def _datp_in_process(request):
    """Set the engine to run in-process for the whole session, when this is a Django project with DATP."""
    try:
        # Why here: the plugin loads in any pytest run of a venv holding the wheel, Django or not.
        from django.conf import settings
    except ImportError:
        return
    if not request.config.getini("datp_in_process") or not settings.configured:
        return
    from django.apps import apps  # Why here: as django.conf above

    if apps.ready and apps.is_installed("engine"):
        run_in_process(settings)


@pytest.fixture
def harness(db):
    """An engine.testing.Harness for the test, opened and closed around it (in virtual time)."""
    # Why here: both load the models, which wait for pytest-django's Django set-up.
    from engine.runtime import faults
    from engine.testing import Harness

    with Harness() as h:
        yield h
    faults.clear()  # a fault the test installed and did not meet stays out of the next test
