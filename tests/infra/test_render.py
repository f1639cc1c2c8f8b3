"""k8s/ built by kustomize itself is exactly what the builders (and so `pulumi up`) make for each stack."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.render import STACKS, all_manifests
from peakops.paths import K8S_DIR
from tests.support.gotools import go_tool

# The values the renderer's placeholders stand for; kustomize's secretGenerator reads them from secrets.env.
SECRETS = {"PEAKOPS_DATABASE_URL": "from-secrets-env", "PEAKOPS_ADMIN_TOKEN": "from-secrets-env"}


def canonical(objects: list[dict[str, Any]]) -> list[str]:
    """Objects as sorted-key JSON, ordered by kind and name: equal lists are equal objects, byte for byte."""
    return sorted(
        (json.dumps(o, sort_keys=True) for o in objects),
        key=lambda text: (json.loads(text)["kind"], json.loads(text)["metadata"]["name"]),
    )


def as_generated(manifest: dict[str, Any]) -> dict[str, Any]:
    """A builder's Secret as kustomize's secretGenerator writes it: base64 `data`, no `stringData`."""
    if manifest["kind"] != "Secret":
        return manifest
    generated = {k: v for k, v in manifest.items() if k != "stringData"}
    generated["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in manifest["stringData"].items()}
    return generated


@pytest.mark.parametrize("stack", STACKS)
def test_the_overlay_builds_to_exactly_the_stacks_objects(stack: str, tmp_path: Path) -> None:
    k8s = tmp_path / "k8s"
    shutil.copytree(K8S_DIR, k8s)
    (k8s / "base" / "secrets.env").write_text("".join(f"{k}={v}\n" for k, v in SECRETS.items()))
    built = subprocess.run(
        [str(go_tool("kustomize")), "build", str(k8s / "overlays" / stack)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    expected = [as_generated(m) for m in all_manifests(stack)]
    assert canonical(list(yaml.safe_load_all(built))) == canonical(expected)


def test_overlays_patch_only_what_differs() -> None:
    """The dev overlay changes a handful of fields: it holds no copy of a base object."""
    kustomization = yaml.safe_load((K8S_DIR / "overlays" / "dev" / "kustomization.yaml").read_text())
    ops = [op for patch in kustomization["patches"] for op in yaml.safe_load(patch["patch"])]
    assert len(ops) <= 12
    assert all(op["op"] in ("add", "remove", "replace") and op["path"].count("/") >= 2 for op in ops)
    assert {image["newTag"] for image in kustomization["images"]} == {"0.1.0"}
