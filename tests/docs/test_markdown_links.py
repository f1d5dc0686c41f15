"""Every relative link of every Markdown file in the repository points to a file that exists, and a link's
`#anchor` into a Markdown file to one of its headings. A code span that is nothing but a path to a Markdown
file (`spec/api.md`) counts as a link too: that is how the README used to point to files it did not hold."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP = {".git", ".venv", "var", "node_modules", "build", "dist", ".pytest_cache"}

FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)
MD_PATH = re.compile(r"^[\w.-]+(?:/[\w.-]+)*\.md(?:#[\w-]+)?$")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)


def markdown_files():
    """Every *.md of the repository outside tool and build folders."""
    found = []
    for path in sorted(ROOT.rglob("*.md")):
        parts = path.relative_to(ROOT).parts
        if not any(part in SKIP or (part.startswith(".") and part != ".") for part in parts[:-1]):
            found.append(path)
    return found


def slug(heading):
    """Return GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces to '-'."""
    text = re.sub(r"`|\*\*|__", "", heading.strip().lower())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    return {slug(heading) for heading in HEADING.findall(FENCE.sub("", path.read_text()))}


def is_relative(target):
    return not (re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith(("/", "//")))


def links(text):
    """Return (target, kind) of each link: 'link' for Markdown links, 'code' for a code span naming a .md path."""
    text = FENCE.sub("", text)
    found = [(match, "code") for _, match in CODE_SPAN.findall(text) if MD_PATH.match(match.strip())]
    prose = CODE_SPAN.sub("", text)
    found += [(target, "link") for target in INLINE_LINK.findall(prose) + REFERENCE.findall(prose)]
    return found


def broken_links(path):
    """Return a message for each relative link of `path` that points nowhere."""
    problems = []
    for target, kind in links(path.read_text()):
        target = target.strip()
        if not is_relative(target):
            continue
        file_part, _, anchor = target.partition("#")
        if not file_part:
            candidates = [path]
        else:
            bases = [path.parent] + ([ROOT] if kind == "code" else [])
            candidates = [(base / file_part).resolve() for base in bases if (base / file_part).exists()]
        where = f"{path.relative_to(ROOT)}: {target!r}"
        if not candidates:
            problems.append(f"{where} points to a file that does not exist")
        elif anchor and candidates[0].suffix == ".md" and anchor.lower() not in anchors(candidates[0]):
            problems.append(f"{where}: no heading with the anchor #{anchor}")
    return problems


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_a_file_that_exists(path):
    problems = broken_links(path)
    assert not problems, "\n".join(problems)


def test_the_markdown_files_include_the_readme_and_the_docs():
    names = {str(p.relative_to(ROOT)) for p in markdown_files()}
    assert {"README.md", "docs/step-types.md"} <= names
    assert not any(name.startswith((".venv/", "var/")) for name in names)


def test_a_missing_file_a_missing_anchor_and_a_code_span_path_are_caught(tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A title\n\n## The `on` routes\n")
    page = tmp_path / "README.md"
    page.write_text(
        "[ok](docs/a.md) [ok](docs/a.md#the-on-routes) [ok](#top) [web](https://example.com/x.md)\n"
        "[gone](docs/b.md) [bad anchor](docs/a.md#nowhere) see `spec/api.md`, `docs/a.md`\n"
        "```\n[in a fence](nowhere.md)\n```\n# Top\n"
    )
    assert broken_links(page) == [
        "README.md: 'spec/api.md' points to a file that does not exist",
        "README.md: 'docs/b.md' points to a file that does not exist",
        "README.md: 'docs/a.md#nowhere': no heading with the anchor #nowhere",
    ]
