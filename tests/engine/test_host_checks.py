"""The system checks of a host project's settings (engine/checks_host.py): each missing piece is named, with
the line to add; this project's own settings pass them all."""
import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from engine import checks_host, setup

urlpatterns = []  # ROOT_URLCONF for the test of a site that does not include DATP's URLs


def ids(errors):
    return [error.id for error in errors]


def test_this_projects_settings_pass_every_host_check():
    checks = (checks_host.installed_apps, checks_host.middleware, checks_host.q_cluster, checks_host.schema_class,
              checks_host.spectacular_settings, checks_host.urls, checks_host.templates, checks_host.login_url,
              checks_host.manage_py, checks_host.security_headers, checks_host.authentication_backends)
    found = [error for check in checks for error in check()]
    assert found == []


def test_a_missing_app_is_named_with_the_line_to_add(settings):
    apps = [name for name in settings.INSTALLED_APPS if name not in ("django_q", "drf_spectacular_sidecar")]
    with override_settings(INSTALLED_APPS=apps):
        errors = checks_host.installed_apps()
    assert ids(errors) == ["datp.E010", "datp.E010"]
    assert "'drf_spectacular_sidecar' is not in INSTALLED_APPS" in errors[0].msg
    assert 'Add "django_q" to INSTALLED_APPS' in errors[1].hint


def test_a_missing_api_or_axes_middleware_is_named_with_where_it_goes(settings):
    missing = (setup.API_MIDDLEWARE, setup.AXES_MIDDLEWARE)
    with override_settings(MIDDLEWARE=[name for name in settings.MIDDLEWARE if name not in missing]):
        errors = checks_host.middleware()
    assert ids(errors) == ["datp.E011", "datp.E011"]
    assert errors[0].hint.startswith(f'Insert "{setup.API_MIDDLEWARE}" (engine.setup.API_MIDDLEWARE, one string) '
                                     "into MIDDLEWARE after SecurityMiddleware and before SessionMiddleware")
    assert errors[1].msg == "'axes.middleware.AxesMiddleware' is not in MIDDLEWARE; DATP needs it."
    assert errors[1].hint.startswith(f'Append "{setup.AXES_MIDDLEWARE}" (engine.setup.AXES_MIDDLEWARE, one string)')


def test_the_api_middleware_after_the_session_or_csrf_middleware_is_named(settings):
    middleware = [name for name in settings.MIDDLEWARE if name != setup.API_MIDDLEWARE]
    with override_settings(MIDDLEWARE=[*middleware[:-1], setup.API_MIDDLEWARE, middleware[-1]]):
        errors = checks_host.middleware()
    assert ids(errors) == ["datp.E011"] * 3
    assert [error.msg.split(" comes after ")[1].split()[0] for error in errors] == [
        "'django.contrib.sessions.middleware.SessionMiddleware'", "'django.middleware.common.CommonMiddleware'",
        "'django.middleware.csrf.CsrfViewMiddleware'"]
    assert "refused before anything reads it" in errors[0].msg


def test_a_missing_csrf_middleware_is_named_for_the_console(settings):
    with override_settings(MIDDLEWARE=[name for name in settings.MIDDLEWARE if name != setup.CSRF_MIDDLEWARE]):
        assert [error.msg for error in checks_host.middleware()] == [
            "'django.middleware.csrf.CsrfViewMiddleware' is not in MIDDLEWARE; DATP needs it."]


def test_a_missing_security_header_middleware_or_policy_is_a_warning(settings):
    kept = [name for name in settings.MIDDLEWARE if name != setup.X_FRAME_MIDDLEWARE]
    with override_settings(MIDDLEWARE=kept, CONTENT_SECURITY_POLICY=None):
        warnings = checks_host.security_headers()
    assert [(warning.id, warning.is_serious()) for warning in warnings] == [("datp.W011", False)] * 2
    assert warnings[0].msg.startswith("'django.middleware.clickjacking.XFrameOptionsMiddleware' is not in MIDDLEWARE")
    assert warnings[1].hint == "CONTENT_SECURITY_POLICY = engine.setup.CONTENT_SECURITY_POLICY"


@pytest.mark.parametrize("backends, words", [
    (["django.contrib.auth.backends.ModelBackend"], "is not in AUTHENTICATION_BACKENDS"),
    (["django.contrib.auth.backends.ModelBackend", "axes.backends.AxesStandaloneBackend"],
     "comes after 'django.contrib.auth.backends.ModelBackend'"),
])
def test_axes_backend_missing_or_not_first_is_named_with_the_line_to_add(backends, words):
    with override_settings(AUTHENTICATION_BACKENDS=backends):
        errors = checks_host.authentication_backends()
    assert ids(errors) == ["datp.E019"] and words in errors[0].msg
    assert errors[0].hint == ("AUTHENTICATION_BACKENDS = [*engine.setup.AUTHENTICATION_BACKENDS] "
                              "(or insert 'axes.backends.AxesStandaloneBackend' first in yours)")
    with override_settings(AUTHENTICATION_BACKENDS=["axes.backends.AxesBackend", *backends]):
        assert checks_host.authentication_backends() == []  # a subclass of axes' backend, first


def test_a_missing_session_middleware_is_named_for_the_console(settings):
    session = "django.contrib.sessions.middleware.SessionMiddleware"
    with override_settings(MIDDLEWARE=[name for name in settings.MIDDLEWARE if name != session]):
        assert [error.msg.split()[0] for error in checks_host.middleware()] == [repr(session)]


@pytest.mark.parametrize("value, words", [(None, "Q_CLUSTER is missing"), ("datp", "Q_CLUSTER is not a dict")])
def test_a_missing_or_ill_formed_q_cluster_is_named(value, words):
    with override_settings(Q_CLUSTER=value):
        errors = checks_host.q_cluster()
    assert ids(errors) == ["datp.E012"] and errors[0].msg.startswith(words)
    assert errors[0].hint == "Q_CLUSTER = engine.setup.q_cluster()"


def test_alt_clusters_without_this_node_group_is_named(settings, monkeypatch):
    monkeypatch.setenv("Q_CLUSTER_NAME", "reports")
    with override_settings(Q_CLUSTER={**settings.Q_CLUSTER, "ALT_CLUSTERS": {"master": {}}}):
        errors = checks_host.q_cluster()
        assert ids(errors) == ["datp.E013"] and "'reports'" in errors[0].msg
        with override_settings(Q_CLUSTER=setup.q_cluster()):
            assert checks_host.q_cluster() == []


def test_a_schema_class_other_than_drf_spectaculars_is_named():
    with override_settings(REST_FRAMEWORK={"DEFAULT_AUTHENTICATION_CLASSES": []}):
        errors = checks_host.schema_class()
    assert ids(errors) == ["datp.E014"] and "REST_FRAMEWORK['DEFAULT_SCHEMA_CLASS'] is None" in errors[0].msg
    assert errors[0].hint == 'REST_FRAMEWORK = {..., "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}'


def test_a_different_openapi_setting_is_a_warning():
    with override_settings(SPECTACULAR_SETTINGS={**setup.SPECTACULAR_SETTINGS, "TITLE": "Shop",
                                                 "SCHEMA_PATH_PREFIX": "/shop"}):
        errors = checks_host.spectacular_settings()
    assert [(error.id, error.is_serious()) for error in errors] == [("datp.W010", False)]
    assert errors[0].msg == ("SPECTACULAR_SETTINGS differs from what DATP's OpenAPI document needs: "
                             "'SCHEMA_PATH_PREFIX' is '/shop' (DATP needs '/api/v1').")


def test_missing_openapi_settings_are_one_warning_saying_not_set():
    with override_settings(SPECTACULAR_SETTINGS={"SERVE_PUBLIC": False}):
        errors = checks_host.spectacular_settings()
    assert ids(errors) == ["datp.W010"]
    assert "'SERVE_PUBLIC' is False (DATP needs True); 'SERVE_PERMISSIONS' is not set (DATP needs" in errors[0].msg
    assert "None" not in errors[0].msg and errors[0].msg.count("is not set") == 9
    assert errors[0].hint == "SPECTACULAR_SETTINGS = {**engine.setup.SPECTACULAR_SETTINGS, ...}"
    with override_settings(SPECTACULAR_SETTINGS={}):
        errors = checks_host.spectacular_settings()
    assert [(error.msg, error.hint) for error in errors] == [(
        "SPECTACULAR_SETTINGS is not set; DATP's OpenAPI document needs the entries of "
        "engine.setup.SPECTACULAR_SETTINGS.", "SPECTACULAR_SETTINGS = {**engine.setup.SPECTACULAR_SETTINGS, ...}")]


def test_urls_not_included_are_named_with_the_line_to_add():
    with override_settings(ROOT_URLCONF=__name__):
        errors = checks_host.urls()
        assert checks_host.login_url() == []  # the console's path, though it does not resolve yet
        with override_settings(LOGIN_URL="/accounts/login/"):  # Django's default: named in the same run
            assert ids(checks_host.login_url()) == ["datp.E017"]
    assert ids(errors) == ["datp.E015"]
    assert "/api/v1/health" in errors[0].msg and "/mondat/" in errors[0].msg
    assert 'path("", include("engine.urls"))' in errors[0].hint


def test_templates_without_app_dirs_or_a_context_processor_are_named(settings):
    engine = settings.TEMPLATES[0]
    with override_settings(TEMPLATES=[{**engine, "APP_DIRS": False}]):
        assert ids(checks_host.templates()) == ["datp.E016"]
    processors = [name for name in engine["OPTIONS"]["context_processors"] if "monitoring" not in name]
    with override_settings(TEMPLATES=[{**engine, "OPTIONS": {"context_processors": processors}}]):
        errors = checks_host.templates()
    assert ids(errors) == ["datp.E016", "datp.E016"]
    assert "'monitoring.context_processors.console'" in errors[0].msg


def test_a_login_url_elsewhere_is_named():
    with override_settings(LOGIN_URL="/accounts/login/"):
        errors = checks_host.login_url()
    assert ids(errors) == ["datp.E017"] and errors[0].hint == "LOGIN_URL = '/mondat/login/' (engine.setup.LOGIN_URL)"
    with override_settings(LOGIN_URL="mondat:login"):
        assert checks_host.login_url() == []


def test_a_base_dir_without_manage_py_is_named(tmp_path):
    with override_settings(BASE_DIR=tmp_path):
        errors = checks_host.manage_py()
    assert ids(errors) == ["datp.E018"] and "holds no manage.py" in errors[0].msg


def test_manage_py_check_reports_them(settings):
    settings.Q_CLUSTER = None
    with pytest.raises(SystemCheckError, match="datp.E012"):
        call_command("check")


def test_q_cluster_names_this_node_groups_entry_and_takes_the_broker(monkeypatch):
    monkeypatch.setenv("Q_CLUSTER_NAME", "reports")
    cluster = setup.q_cluster(workers=3)
    assert (cluster["workers"], cluster["ALT_CLUSTERS"], cluster["orm"]) == (3, {"reports": {"workers": 3}}, "default")
    redis = setup.q_cluster(broker="redis", redis_url="redis://cache:6379/1", sync=True)
    assert ("orm" in redis, "broker_class" in redis, redis["redis"], redis["sync"]) == (
        False, False, "redis://cache:6379/1", True)
