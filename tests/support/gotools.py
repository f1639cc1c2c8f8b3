"""The Go programs the tests run, built from pinned module releases by scripts/e2e-env.sh into the cache.

    go_tool("kustomize") -> ~/.cache/peakops/e2e/bin/kustomize   (PEAKOPS_CACHE moves the cache)

A missing program fails the test with the command that builds it: `make test` builds what it needs
(sloth, kustomize) before pytest, `make e2e` the rest.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

CACHE = Path(os.environ.get("PEAKOPS_CACHE", Path.home() / ".cache" / "peakops"))
BIN_DIR = CACHE / "e2e" / "bin"


def go_tool(name: str) -> Path:
    path = BIN_DIR / name
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: build it with `bash scripts/e2e-env.sh {name}` (make test does)")
    return path


def go_module_dir(build: str, module: str) -> Path:
    """The source of a module pinned in tests/e2e/build/<build>/go.mod, from the Go module cache that
    scripts/e2e-env.sh fills (e.g. Sloth's own example specs)."""
    go_mod = Path(__file__).resolve().parents[1] / "e2e" / "build" / build / "go.mod"
    match = re.search(rf"^\s*{re.escape(module)} (v\S+)", go_mod.read_text(), re.MULTILINE)
    if match is None:
        pytest.fail(f"{go_mod} pins no version of {module}")
    # The module cache spells capitals as "!" and the lower-case letter.
    escaped = re.sub(r"[A-Z]", lambda m: "!" + m.group(0).lower(), module)
    path = CACHE / "e2e" / "go" / "mod" / f"{escaped}@{match.group(1)}"
    if not path.is_dir():
        pytest.fail(f"{path} is missing: download it with `bash scripts/e2e-env.sh {build}` (make test does)")
    return path
