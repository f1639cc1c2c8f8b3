"""The floors of the house (docs/architecture.md): who may import whom, and what starting the app loads.

cli/                               top floor: knows every area; nothing imports it
app/  loadtests/  monitors/  infra/   areas: import the ground floor, never each other
peakops/                           ground floor: the shared models; imports no area
"""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from peakops import paths
from peakops.paths import REPO_ROOT
from tests.support.procs import free_port, wait_http_ok

AREAS = ("app", "loadtests", "monitors", "infra")
GROUND = "peakops"
TOP = "cli"
# What each package may import among the project's own packages (besides itself).
ALLOWED: dict[str, set[str]] = {
    GROUND: set(),
    "app": {GROUND},
    "loadtests": {GROUND},
    "monitors": {GROUND},
    "infra": {GROUND},
    TOP: {GROUND, *AREAS},
}
OWN = set(ALLOWED)


def imported_packages(package: str) -> dict[str, set[str]]:
    """Project package -> the files of `package` that import it (absolute imports, lazy ones included)."""
    found: dict[str, set[str]] = {}
    for path in sorted((REPO_ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in OWN and top != package:
                    found.setdefault(top, set()).add(str(path.relative_to(REPO_ROOT)))
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_floor_imports_only_what_is_below_it(package: str) -> None:
    imports = imported_packages(package)
    forbidden = {name: sorted(files) for name, files in imports.items() if name not in ALLOWED[package]}
    assert not forbidden, f"{package}/ imports {forbidden}; allowed: {sorted(ALLOWED[package])}"


def test_no_area_imports_the_cli() -> None:
    importers = {package for package in (GROUND, *AREAS) if TOP in imported_packages(package)}
    assert not importers


def test_the_checker_sees_a_forbidden_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The AST walk finds lazy imports inside functions, not only those at the top of a module."""
    (tmp_path / "peakops").mkdir()
    (tmp_path / "peakops" / "x.py").write_text("def f() -> None:\n    from infra import render\n")
    monkeypatch.setattr(sys.modules[__name__], "REPO_ROOT", tmp_path)
    assert imported_packages("peakops") == {"infra": {"peakops/x.py"}}


def test_serving_the_app_loads_the_app_alone(tmp_path: Path) -> None:
    """`peakops app serve` (the image's entry point), run for real with `-X importtime`: no module of
    another area, and none of the deploy or load-test tools, is ever imported."""
    port = free_port()
    env = {
        **os.environ,
        "PEAKOPS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}",
        "PEAKOPS_DATA_DIR": str(tmp_path),
        "PEAKOPS_CATALOG": str(REPO_ROOT / "tests" / "app" / "catalog.yaml"),
        "PEAKOPS_ADMIN_TOKEN": "architecture-test-token",
    }
    command = [sys.executable, "-X", "importtime", "-m", TOP, "app", "serve", "--port", str(port)]
    # stderr to a file, not a pipe: unread, the importtime log filled the pipe's 64 KiB and the server
    # blocked on its next import before it could listen.
    log = tmp_path / "importtime.log"
    with log.open("w") as sink:
        process = subprocess.Popen(command, env=env, stderr=sink, stdout=subprocess.DEVNULL, text=True)
    try:
        wait_http_ok(f"http://127.0.0.1:{port}/readyz", 30, process)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=40)
    stderr = log.read_text()
    # importtime lines: "import time: self [us] | cumulative | imported package", the name indented.
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }
    assert "app.server" in modules, "the importtime log did not cover the app"
    foreign = {"infra", "monitors", "loadtests", "pulumi", "pulumi_kubernetes", "locust", "ansible"}
    assert not sorted(name for name in modules if name.split(".")[0] in foreign)


def _code_strings(path: Path) -> list[str]:
    """String constants of a module that are code, not docstrings."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_the_default_plan_is_named_once() -> None:
    """Code that picks a campaign plan takes peakops.paths.DEFAULT_PLAN; config files name a plan only where
    they are generated from it (the inventories' peakops_campaign_plan)."""
    name = paths.DEFAULT_PLAN.name
    python = [
        str(path.relative_to(REPO_ROOT))
        for package in (*ALLOWED, "benchmarks")
        for path in sorted((REPO_ROOT / package).rglob("*.py"))
        if any(name in text for text in _code_strings(path))
    ]
    assert python == ["peakops/paths.py"]
    configs = [
        f"{path.relative_to(REPO_ROOT)}: {line.strip()}"
        for pattern in ("ansible/**/*.yml", "Pulumi*.yaml", "monitors/slos/*.yaml", "Makefile", "Dockerfile*")
        for path in sorted(REPO_ROOT.glob(pattern))
        if not path.read_text().startswith("# Generated from")
        for line in path.read_text().splitlines()
        if name in line and not line.lstrip().startswith("#")
    ]
    assert configs == []
