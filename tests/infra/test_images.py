"""Every image a manifest names is one `make images` builds (infra/images.py, scripts/images.sh)."""

from __future__ import annotations

import re
import subprocess

import yaml

from infra.images import IMAGES, builds, every_workload, named_images
from infra.manifests.prescale import KUBERNETES_VERSION
from peakops.paths import K8S_DIR, REPO_ROOT


def test_every_named_image_has_a_build_and_its_dockerfile_exists() -> None:
    planned = builds(every_workload())  # KeyError for an image nobody builds
    assert {reference.rsplit(":", 1)[0] for reference, _ in planned} == set(IMAGES)
    for _, image in planned:
        assert (REPO_ROOT / image.dockerfile).is_file(), image.dockerfile
        assert image.base in ("python", "debian")
    # The app, its edge with the exporter sidecar, the load generator, PostgreSQL and the prescaler.
    assert len(planned) == 5


def test_the_rendered_overlays_name_only_built_images() -> None:
    """k8s/ retags images per stack (kustomize `images:`): those references are built too."""
    built = {reference for reference, _ in builds(every_workload())}
    for kustomization in K8S_DIR.rglob("kustomization.yaml"):
        for entry in yaml.safe_load(kustomization.read_text()).get("images", []):
            assert f"{entry.get('newName', entry['name'])}:{entry['newTag']}" in built, kustomization


def test_no_workload_pulls_from_a_public_registry() -> None:
    assert all(image.startswith("ghcr.io/peakops/") for image in named_images(every_workload()))


def test_kubectl_is_the_release_the_e2e_cluster_runs() -> None:
    go_mod = (REPO_ROOT / "tests" / "e2e" / "build" / "kubernetes" / "go.mod").read_text()
    assert re.search(rf"^\s*k8s\.io/kubernetes {re.escape(KUBERNETES_VERSION)}\b", go_mod, re.MULTILINE)


def test_make_images_builds_the_list_the_cli_prints() -> None:
    listed = subprocess.run(
        ["bash", "scripts/images.sh", "--list"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == [reference for reference, _ in builds(every_workload())]
