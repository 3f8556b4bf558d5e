"""The docs point at things that exist: every relative link of the README and ``docs/``
resolves (anchors included), every ``make`` target they name is in the Makefile, every
project file they name in backticks is there, and no old module path is left.

Pure: reads files only.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", ROOT / "docker" / "README.md", *(ROOT / "docs").glob("*.md")])
CODE_FOLDERS = "recsys|recsysctl|webapp|spark_jobs|dags|sql|tests|bench|evaluation|docker|docs"

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
MAKE_TARGET = re.compile(r"(?:^|`|&& )make ([a-z][a-z-]*)", re.M)
PROJECT_PATH = re.compile(rf"`((?:{CODE_FOLDERS})/[^`\s<>*=]*)`")
# What the operator's tooling and the evaluation were called before they left recsys/.
OLD_NAMES = {
    "the old CLI (now python -m recsysctl)": re.compile(r"python -m recsys(?![\w.])"),
    "a module now under recsysctl/": re.compile(
        r"(?<![\w/])recsys/(?:stack|demo|simulator|cli|envfile)\b"
    ),
    "the old MovieLens module (now evaluation/)": re.compile(
        r"(?<![\w/])recsys/movielens|spark_jobs/evaluate_movielens"
    ),
}


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def anchors(page: Path) -> set[str]:
    """GitHub's anchors for the page's headings: lower case, punctuation dropped, spaces
    as hyphens."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    headings = re.findall(r"^#{1,6} (.+)$", text, re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def makefile_targets() -> set[str]:
    return set(re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), re.M))


def test_there_are_pages():
    assert {"README.md", "docs/analysts.md", "docs/operating.md"} <= set(map(page_id, PAGES))


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_relative_links_resolve(page):
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading with that anchor")
    assert broken == []


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_make_targets_exist(page):
    named = set(MAKE_TARGET.findall(page.read_text()))
    assert named - makefile_targets() == set()


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_project_files_named_exist(page):
    missing = [p for p in PROJECT_PATH.findall(page.read_text()) if not (ROOT / p).exists()]
    assert missing == []


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_no_old_module_paths(page):
    text = page.read_text()
    found = {why: pattern.findall(text) for why, pattern in OLD_NAMES.items()}
    assert {why: hits for why, hits in found.items() if hits} == {}
