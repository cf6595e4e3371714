"""Imports point one way: webapp -> workers -> analysis. analysis imports no web or queue code."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = ("dash", "celery", "redis", "flask", "kombu")


def test_analysis_imports_no_web_or_queue_code():
    modules = sorted(p.stem for p in (REPO / "analysis").glob("*.py") if p.stem != "__main__")
    code = (
        "import sys\n"
        + "".join(f"import analysis.{m}\n" for m in modules if m != "__init__")
        + f"bad = sorted({{m.split('.')[0] for m in sys.modules}} & set({FORBIDDEN!r}))\n"
        + "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"analysis imported {out.stdout.strip()}"
    assert len(modules) >= 15  # every module was imported, not an empty list


def test_no_forbidden_import_statements_in_source():
    offenders = []
    for path in (REPO / "analysis").glob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            words = line.strip().replace(",", " ").split()
            if len(words) >= 2 and words[0] in ("import", "from") and words[1].split(".")[0] in FORBIDDEN:
                offenders.append(f"{path.name}: {line.strip()}")
    assert offenders == []


def test_workers_import_no_dash_or_webapp():
    modules = sorted(p.stem for p in (REPO / "workers").glob("*.py") if p.stem not in ("__main__", "__init__"))
    code = (
        "import sys\n"
        + "".join(f"import workers.{m}\n" for m in modules)
        + "bad = sorted({m.split('.')[0] for m in sys.modules} & {'dash', 'webapp', 'plotly', 'flask'})\n"
        + "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"workers imported {out.stdout.strip()}"
    assert {"client", "tasks", "registry", "launcher"} <= set(modules)
    offenders = []
    for path in (REPO / "workers").glob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            words = line.strip().replace(",", " ").split()
            if len(words) >= 2 and words[0] in ("import", "from") and words[1].split(".")[0] in ("dash", "webapp"):
                offenders.append(f"{path.name}: {line.strip()}")
    assert offenders == []


ALLOCATOR_SPY = """
import importlib.abc, os, sys
seen = []
class Spy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "polars" and not seen:
            seen.append(os.environ.get("_RJEM_MALLOC_CONF"))
sys.meta_path.insert(0, Spy())
import {module}
print(seen[0] if seen else "polars not loaded")
"""


def test_polars_allocator_options_are_set_before_polars_loads():
    """polars' jemalloc reads _RJEM_MALLOC_CONF once, when polars loads: every entry point (the worker's task
    module, the CLI, the web app, a bare analysis import) sets analysis.POLARS_ALLOCATOR before that, and a value
    already in the environment wins."""
    import os

    from analysis import POLARS_ALLOCATOR

    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    for module in ("workers.tasks", "workers.storage", "analysis.pipeline", "analysis.cli", "webapp.app"):
        out = subprocess.run([sys.executable, "-c", ALLOCATOR_SPY.format(module=module)], cwd=REPO, env=env,
                             capture_output=True, text=True, check=True)
        assert out.stdout.strip() == POLARS_ALLOCATOR, (module, out.stdout, out.stderr[-2000:])
    out = subprocess.run([sys.executable, "-c", ALLOCATOR_SPY.format(module="workers.tasks")], cwd=REPO,
                         env={**env, "_RJEM_MALLOC_CONF": "narenas:2"}, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "narenas:2"
