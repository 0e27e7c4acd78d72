"""The documentation holds together: every relative link in README.md, ARCHITECTURE.md,
DEVELOPERS.md and docs/ names a file that exists and, with a `#fragment`, a heading in it; and
every setting of `best_app.config.Settings` has a heading of its own in docs/settings.md.

Settings get one `##` heading each (`## `DB_POOL_SIZE``, anchor `#db_pool_size`), not a row in
a table: a heading is what GitHub (and every Markdown renderer) gives an anchor, so any page, a
log line or a code comment can link to one setting, and this test can prove the link. The page
still opens with a table of every setting and its default, each name linking to its heading;
the link check below proves that table complete and correct.

Anchors follow GitHub's rules: the heading's text without Markdown (backticks, link targets),
lower-cased, every character that is not a letter, digit, space, `-` or `_` dropped, spaces
turned into `-`; a repeated heading gets `-1`, `-2`, ... .
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from best_app.config import Settings
from tests.utils.server import ROOT

SETTINGS_PAGE = ROOT / "docs" / "settings.md"
FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.DOTALL)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def pages() -> list[Path]:
    top = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", ROOT / "DEVELOPERS.md"]
    return [*top, *sorted((ROOT / "docs").rglob("*.md"))]


def _prose(markdown: str) -> str:
    """The text outside fenced code blocks (a link or heading inside one is code, not one)."""
    return FENCE.sub("", markdown)


def anchor(heading: str) -> str:
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(_prose(markdown)):
        base = anchor(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def _anchors_of(path: Path) -> set[str]:
    return anchors(path.read_text()) if path.suffix == ".md" else set()


def broken_links(page: Path) -> list[str]:
    """Each relative link of `page` that names a missing file or a missing heading."""
    text = _prose(page.read_text())
    broken = []
    for target in LINK.findall(CODE_SPAN.sub("", text)):
        if not target or SCHEME.match(target):
            continue
        path, _, fragment = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif fragment and fragment not in _anchors_of(resolved):
            broken.append(f"{target}: no such heading in {resolved.name}")
    return broken


@pytest.mark.parametrize("page", pages(), ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    assert broken_links(page) == []


def test_the_pages_a_newcomer_needs_exist_and_the_readme_stays_short() -> None:
    names = {page.relative_to(ROOT).as_posix() for page in pages()}
    for name in ("api", "settings", "development", "deployment", "operations", "performance"):
        assert f"docs/{name}.md" in names
    assert (ROOT / "README.md").stat().st_size < 10_000


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_has_a_heading(name: str) -> None:
    assert name in anchors(SETTINGS_PAGE.read_text()), f"a `## {name.upper()}` heading"


def test_anchors_follow_githubs_rules() -> None:
    markdown = "# A `FASTPATH`'s tricks: run by run\n## Sizing\n## Sizing\n```\n# not one\n```\n"
    assert anchors(markdown) == {"a-fastpaths-tricks-run-by-run", "sizing", "sizing-1"}
    assert anchor("[`docs/api.md`](docs/api.md) and <b>more</b>") == "docsapimd-and-more"


def test_a_missing_file_or_heading_is_reported(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Here\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Top\n[ok](other.md#here) [self](#top) [web](https://example.com/x#y) `[code](nope.md)`\n"
        "[gone](missing.md) [no heading](other.md#there) ![img](missing.png) [own](#nowhere)\n"
        "```\n[in a block](nope.md)\n```\n"
    )
    assert broken_links(page) == [
        "missing.md: no such file",
        "other.md#there: no such heading in other.md",
        "missing.png: no such file",
        "#nowhere: no such heading in page.md",
    ]
