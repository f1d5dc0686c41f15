"""Each repeated rule has one home: the console's templates name no URL or limit literally, the input
limits and name patterns are defined once in engine/limits.py, status sets once in engine/states.py."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = sorted(path for app in ("engine", "monitoring") for path in (ROOT / app / "templates").rglob("*.html"))
MODULES = sorted(path for folder in ("engine", "monitoring", "datp_site") for path in (ROOT / folder).rglob("*.py")
                 if "migrations" not in path.parts)


def offending_lines(paths, pattern):
    found = []
    for path in paths:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(pattern, line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return found


@pytest.mark.parametrize("literal", ["/mondat/", "/api/v1", 'maxlength="2000"'])
def test_templates_take_links_from_url_and_limits_from_the_context(literal):
    assert offending_lines(TEMPLATES, re.escape(literal)) == []


def test_representations_build_api_and_console_links_by_url_name():
    representations = [ROOT / "engine" / "tokens.py", *sorted((ROOT / "engine" / "selectors").glob("*.py"))]
    assert offending_lines(representations, r"f[\"'](/api/v1|/mondat/)") == []


def test_console_views_build_their_links_by_url_name():
    views = sorted((ROOT / "monitoring").rglob("*.py"))
    assert offending_lines(views, r"f?[\"']/mondat/") == []


def test_only_engine_limits_defines_the_reason_max():
    assert offending_lines(MODULES, r"^\s*REASON_MAX\s*=") == ["engine/limits.py:4: REASON_MAX = 2000"]


def test_name_patterns_are_written_only_in_engine_limits():
    others = [path for path in MODULES if path != ROOT / "engine" / "limits.py"]
    assert offending_lines(others, r"\[A-Za-z0-9\]\[A-Za-z0-9_|\[a-z0-9\]\[a-z0-9_") == []


def test_status_sets_are_turned_into_values_only_in_engine_states():
    others = [path for path in MODULES if path != ROOT / "engine" / "states.py"]
    assert offending_lines(others, r"str\(\w+\) for \w+ in (TX_|CALLBACK_|\(TxStatus)") == []
