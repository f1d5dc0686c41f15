"""The apps carry their own templates (issue 17: an installable app): every template name the code or a
template names resolves through the apps' template folders alone, with no project-level templates folder."""
import re
from pathlib import Path

import pytest
from django.template.loader import get_template
from django.test import override_settings

ROOT = Path(__file__).resolve().parents[2]
APPS = ("engine", "monitoring")
NAMED = re.compile(r"(?:template_name\s*=\s*|render\(request,\s*|\{%\s*(?:extends|include)\s+|return \[)"
                   r"""["']([\w/.-]+\.html)["']""")


def named_templates():
    """Each template name written in the apps' Python code, their templates, and the site's URL map."""
    sources = [path for app in APPS for pattern in ("*.py", "*.html") for path in (ROOT / app).rglob(pattern)]
    sources.append(ROOT / "datp_site" / "urls.py")
    return sorted({name for path in sources for name in NAMED.findall(path.read_text())})


def test_there_is_no_project_templates_folder():
    assert not (ROOT / "templates").exists()


def test_the_names_are_found():
    names = named_templates()
    assert "monitoring/base.html" in names and "engine/swagger_ui.html" in names and len(names) > 20


@pytest.mark.parametrize("name", named_templates())
def test_each_named_template_resolves_from_the_apps_alone(name, settings):
    templates = [{**settings.TEMPLATES[0], "DIRS": []}]
    with override_settings(TEMPLATES=templates):
        template = get_template(name)
    own = name.split("/")[0] in APPS
    assert Path(template.origin.name).is_relative_to(ROOT / name.split("/")[0]) if own else template.origin.name
