"""docs/operations.md documents every engine setting (each key of engine.conf.DEFAULTS) and every
environment variable the shipped project's settings read."""
import re
from pathlib import Path

from engine import conf

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "operations.md"
SETTINGS = ROOT / "datp_site" / "settings.py"


def undocumented_keys(text, keys):
    return [key for key in keys if f"`{key}`" not in text]


def environment_variables(source):
    """Return every environment variable `source` reads (os.environ.get, os.environ[...], env_*("...")."""
    return sorted(set(re.findall(r"""(?:environ(?:\.get)?[\[(]|env_\w+\()\s*["']([A-Z][A-Z0-9_]+)["']""", source)))


def test_every_datp_setting_is_documented():
    assert len(conf.DEFAULTS) >= 20
    assert undocumented_keys(DOC.read_text(), conf.DEFAULTS) == []


def test_every_environment_variable_of_the_settings_is_documented():
    variables = environment_variables(SETTINGS.read_text())
    assert {"DATABASE_URL", "DATP_BROKER", "DATP_LEASE_SECONDS", "DJANGO_SECRET_KEY"} <= set(variables)
    assert undocumented_keys(DOC.read_text(), variables) == []


def test_a_new_setting_without_docs_is_caught():
    assert undocumented_keys(DOC.read_text(), {**conf.DEFAULTS, "NEW_KNOB": 1}) == ["NEW_KNOB"]
    assert environment_variables('X = env_bool("DATP_NEW", True)\nY = os.environ["OTHER"]') == ["DATP_NEW", "OTHER"]
