"""The rooms import only downward: a test that reads every import (top level and inside
functions) of the project's own code and fails on an arrow pointing the wrong way.

    recsys        the domain: imports nothing of ours above it
    webapp        recsys
    dags          recsys, dags (jobs are submitted by path, never imported)
    spark_jobs    recsys, spark_jobs.common; a job never imports another job
    recsysctl     the operator's tooling: recsys, webapp, itself (nothing imports it back)
    bench, evaluation, tests: anything

It also checks that every ``from <ours> import <name>`` names something that exists, so a
lazy import inside a function cannot go stale after a move.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = ("recsys", "recsysctl", "webapp", "spark_jobs", "dags", "bench", "evaluation", "tests")

# room -> the rooms of ours it may import (itself is always allowed, except between jobs)
ALLOWED = {
    "recsys": set(),
    "webapp": {"recsys"},
    "dags": {"recsys"},
    "spark_jobs": {"recsys"},
    "recsysctl": {"recsys", "webapp"},
}


def _modules(room: str) -> list[Path]:
    return sorted(p for p in (ROOT / room).rglob("*.py") if "__pycache__" not in p.parts)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str, tuple[str, ...]]]:
    """(line, imported module, names taken from it) for every import in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module, tuple(a.name for a in node.names)))
    return found


def _is_job(module: str) -> bool:
    """A spark-submit entry point: a file directly under spark_jobs/ (``common`` is the
    shared package, not a job)."""
    parts = module.split(".")
    return (
        parts[0] == "spark_jobs"
        and len(parts) == 2
        and (ROOT / "spark_jobs" / f"{parts[1]}.py").is_file()
    )


def arrows_out_of_room(room: str) -> list[str]:
    wrong = []
    for path in _modules(room):
        here = _module_name(path)
        for line, module, names in _imports(path):
            target = module.split(".")[0]
            if target not in OURS or target == room and room != "spark_jobs":
                continue
            where = f"{path.relative_to(ROOT)}:{line} imports {module}"
            if target == "spark_jobs" and room == "spark_jobs":
                taken = [module] if module != "spark_jobs" else [f"spark_jobs.{n}" for n in names]
                if any(_is_job(t) and t != here for t in taken):
                    wrong.append(f"{where}: a job is imported (share code through common/)")
            elif target not in ALLOWED[room]:
                wrong.append(f"{where}: {room} may import only {sorted(ALLOWED[room])}")
    return wrong


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_room_imports_only_downward(room):
    assert arrows_out_of_room(room) == []


def test_the_rule_catches_a_wrong_arrow(tmp_path, monkeypatch):
    """The checker itself: a web module importing the tooling and a job importing a job."""
    for room, text in (
        ("webapp", "def f():\n    from recsysctl.stack import kafka\n"),
        ("spark_jobs", "from spark_jobs import play_counters\n"),
    ):
        (tmp_path / room).mkdir()
        (tmp_path / room / "bad.py").write_text(text)
    (tmp_path / "spark_jobs" / "play_counters.py").write_text("def main():\n    pass\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert len(arrows_out_of_room("webapp")) == 1
    assert len(arrows_out_of_room("spark_jobs")) == 1


def test_tooling_package_loads_no_service():
    """Importing the tooling and its stack package imports no service module (checked in a
    fresh interpreter: this test session has imported them already)."""
    code = (
        "import sys, recsysctl, recsysctl.stack;"
        "print(sorted(m for m in sys.modules if m.startswith('recsysctl.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['recsysctl.stack']"


@pytest.mark.parametrize("room", OURS)
def test_every_imported_name_of_ours_exists(room):
    missing = []
    for path in _modules(room):
        for line, module, names in _imports(path):
            if module.split(".")[0] not in OURS or module.startswith("tests"):
                continue
            try:
                imported = importlib.import_module(module)
            except ModuleNotFoundError as err:
                missing.append(f"{path.relative_to(ROOT)}:{line}: {err}")
                continue
            for name in names:
                if name != "*" and not hasattr(imported, name):
                    try:
                        importlib.import_module(f"{module}.{name}")
                    except ModuleNotFoundError:
                        missing.append(f"{path.relative_to(ROOT)}:{line}: {module}.{name}")
    assert missing == []
