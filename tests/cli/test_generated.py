"""Generated files match what their sources render today (drift test)."""

from __future__ import annotations

from cli.generate import monitors_tree, single_files
from infra import render
from peakops.context import resolve
from peakops.paths import GENERATED_DIR, K8S_DIR, REPO_ROOT


def test_generated_files_have_not_drifted() -> None:
    for path, expected in single_files(resolve()).items():
        assert path.read_text() == expected, f"{path.relative_to(REPO_ROOT)} is stale: run `peakops generate`"
        assert path.read_text().split("\n", 1)[0].lstrip("#<!- ").startswith("Generated from")


def test_monitors_generated_tree_has_not_drifted() -> None:
    expected = monitors_tree(resolve())
    on_disk = {
        str(p.relative_to(GENERATED_DIR)): p.read_text() for p in GENERATED_DIR.rglob("*") if p.is_file()
    }
    assert sorted(on_disk) == sorted(expected), "files added or missing: run `peakops generate`"
    for name, text in expected.items():
        assert on_disk[name] == text, f"monitors/generated/{name} is stale: run `peakops generate`"
        assert text.startswith("# Generated from")


def test_k8s_tree_has_not_drifted() -> None:
    expected = render.render()
    on_disk = {str(p.relative_to(K8S_DIR)): p.read_text() for p in K8S_DIR.rglob("*") if p.is_file()}
    on_disk.pop("base/secrets.env", None)  # yours, never committed
    assert sorted(on_disk) == sorted(expected), "files added or missing: run `peakops k8s render`"
    for name, text in expected.items():
        assert on_disk[name] == text, f"k8s/{name} is stale: run `peakops k8s render`"
