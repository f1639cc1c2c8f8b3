"""Every image the manifests name, and how `make images` builds it.

    named_images(stacks) -> {"ghcr.io/peakops/campaign-app:0.1.0", ...}   from the builders' objects
    IMAGES: repository -> ImageBuild(dockerfile, what its context needs)     how each is built here
    builds(stacks) -> [(reference, ImageBuild)]                              what scripts/images.sh runs

A manifest may name only images this table builds (tests/infra/test_images.py), so a cluster with no
registry (the e2e nodes) has every image it will be asked to run. The bases come from Debian packages
(mmdebstrap), never from a registry: scripts/images.sh.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from infra.manifests import build
from infra.manifests.platform import LOAD_GENERATOR_REPOSITORY, POSTGRES_IMAGE
from infra.manifests.prescale import KUBECTL_IMAGE
from infra.render import stack_config
from peakops.paths import REPO_ROOT
from peakops.plan import load_plan
from peakops.services import APP, EDGE

# A node's sandbox image (every pod's first container, holding its namespaces): built by
# scripts/images.sh from pause.c of the pinned k8s.io/kubernetes release, for the e2e suite's real node.
PAUSE_IMAGE = "registry.k8s.io/pause:3.10.1"
# Not a Kubernetes image: a host of the test fleet (tests/fleet), systemd and sshd on the same Debian
# base; scripts/images.sh builds it from images/fleet-host/Dockerfile.
FLEET_HOST_IMAGE = "localhost/peakops/fleet-host:bookworm"


def _repository(reference: str) -> str:
    return reference.rsplit(":", 1)[0]


@dataclass(frozen=True)
class ImageBuild:
    dockerfile: str  # relative to the repository root, which is the build context
    base: str  # "python" or "debian": the local base image scripts/images.sh passes as the FROM
    binaries: tuple[str, ...] = ()  # Go-built binaries (scripts/e2e-env.sh) copied into the context


IMAGES: dict[str, ImageBuild] = {
    APP.image: ImageBuild("Dockerfile", "python"),  # the app and the edge's exporter sidecar
    EDGE.image: ImageBuild("Dockerfile.edge", "debian"),
    LOAD_GENERATOR_REPOSITORY: ImageBuild("images/loadtest/Dockerfile", "python"),
    _repository(POSTGRES_IMAGE): ImageBuild("images/postgres/Dockerfile", "debian"),
    _repository(KUBECTL_IMAGE): ImageBuild("images/kubectl/Dockerfile", "debian", ("kubectl",)),
}


def _containers(manifest: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = manifest.get("spec", {})
    template = spec.get("jobTemplate", {}).get("spec", spec).get("template", {}).get("spec", {})
    yield from template.get("initContainers", [])
    yield from template.get("containers", [])


def named_images(manifests: Iterable[dict[str, Any]]) -> set[str]:
    """Every image a workload of these objects names (containers and init containers)."""
    return {container["image"] for manifest in manifests for container in _containers(manifest)}


def builds(manifests: Iterable[dict[str, Any]]) -> list[tuple[str, ImageBuild]]:
    """(reference, how to build it) for every image the objects name; KeyError for one nobody builds."""
    return [(reference, IMAGES[_repository(reference)]) for reference in sorted(named_images(manifests))]


def every_workload(stacks: Iterable[str] = ("dev", "prod")) -> list[dict[str, Any]]:
    """The objects of every stack, and each again with its opt-in load generator: what any deploy of
    this repository may ask a cluster to run."""
    found: list[dict[str, Any]] = []
    for stack in stacks:
        config = stack_config(stack)
        plan = load_plan(REPO_ROOT / config.campaign_plan)
        for variant in (config, config.model_copy(update={"load_generator": True})):
            found += [m for manifests in build(variant, plan).values() for m in manifests]
    return found
