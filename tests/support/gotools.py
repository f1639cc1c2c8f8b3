"""The Go programs the tests run, built from pinned module releases by scripts/e2e-env.sh into the cache.

    go_tool("kustomize") -> ~/.cache/peakops/e2e/bin/kustomize   (PEAKOPS_CACHE moves the cache)

A missing program fails the test with the command that builds it: `make test` builds what it needs
(sloth, kustomize) before pytest, `make e2e` the rest.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CACHE = Path(os.environ.get("PEAKOPS_CACHE", Path.home() / ".cache" / "peakops"))
BIN_DIR = CACHE / "e2e" / "bin"


def go_tool(name: str) -> Path:
    path = BIN_DIR / name
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: build it with `bash scripts/e2e-env.sh {name}` (make test does)")
    return path
