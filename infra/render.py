"""Render `k8s/` from the same builders the Pulumi program uses: a kustomize base and an overlay per stack.

k8s/base/               every object for the base settings (no secrets: a secretGenerator reads
                        secrets.env, which you write and never commit)
k8s/overlays/<stack>/   the stack's differences, from Pulumi.<stack>.yaml, and only those: the image tag
                        (kustomize `images:`), each changed object as an RFC 6902 patch of exactly
                        the fields that differ, added objects as resources, removed ones as deletes
k8s/kustomization.yaml  `kubectl apply -k k8s/` deploys the first stack (dev); others are explicit

peakops k8s render            (a drift test fails when k8s/ differs from what this renders)
kubectl apply -k k8s/overlays/dev
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonpatch
import yaml

from infra.config import StackConfig, from_stack_file, parse
from infra.manifests import build
from infra.manifests.app import SECRET, secret
from infra.manifests.common import Manifest
from peakops.generated import dump_yaml, header, write_tree
from peakops.paths import K8S_DIR, REPO_ROOT
from peakops.plan import CampaignPlan, load_plan

STACKS = ("dev", "prod")
COMMAND = "peakops k8s render"
# The base: defaults, a placeholder tag every overlay replaces, secrets from secrets.env.
BASE_VALUES = {"imageTag": "base", "adminToken": "from-secrets-env", "databaseUrl": "from-secrets-env"}


def _key(manifest: Manifest) -> tuple[str, str]:
    return manifest["kind"], manifest["metadata"]["name"]


def _file_name(kind: str, name: str) -> str:
    return f"{kind.lower()}-{name}.yaml"


class Plans(dict[str, CampaignPlan]):
    """Each stack names its plan (`peakops:campaignPlan`); one render reads each plan file once."""

    def __missing__(self, campaign_plan: str) -> CampaignPlan:
        self[campaign_plan] = plan = load_plan(REPO_ROOT / campaign_plan)
        return plan


def _objects(config: StackConfig, plans: Plans) -> dict[tuple[str, str], Manifest]:
    plan = plans[config.campaign_plan]
    found: dict[tuple[str, str], Manifest] = {}
    for manifests in build(config, plan, database_url="from-secrets-env").values():
        for manifest in manifests:
            if _key(manifest) == ("Secret", SECRET):
                continue  # generated from secrets.env by kustomize, never written here
            found[_key(manifest)] = manifest
    return found


def _in_namespace(manifest: Manifest, namespace: str) -> Manifest:
    """A copy in `namespace`. Overlay files carry the base's namespace: kustomize matches a patch to its
    target by kind, name and namespace, and only then moves everything into the overlay's namespace."""
    moved = copy.deepcopy(manifest)
    if "namespace" in moved["metadata"]:
        moved["metadata"]["namespace"] = namespace
    return moved


def _images(manifest: Any) -> set[str]:
    """Every container image ("repository:tag") of an object."""
    if isinstance(manifest, dict):
        found = {manifest["image"]} if isinstance(manifest.get("image"), str) else set()
        return found.union(*(_images(value) for value in manifest.values()))
    if isinstance(manifest, list):
        return set().union(*(_images(item) for item in manifest))
    return set()


def _retagged(manifest: Manifest, tags: dict[str, str]) -> Manifest:
    """A copy with each `repository:base` image moved to `tags[repository]`, as kustomize `images:` does."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                key: f"{value.rpartition(':')[0]}:{tags[value.rpartition(':')[0]]}"
                if key == "image" and isinstance(value, str) and value.rpartition(":")[0] in tags
                else walk(value)
                for key, value in node.items()
            }
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    result: Manifest = walk(manifest)
    return result


def stack_config(stack: str) -> StackConfig:
    data = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text()) or {}
    secrets = {"adminToken": "from-secrets-env", "databaseUrl": "from-secrets-env"}
    return from_stack_file(data, stack, secrets)


def render(stacks: tuple[str, ...] = STACKS) -> dict[str, str]:
    """Relative path under k8s/ -> text."""
    top = header(["infra/manifests/", *(f"Pulumi.{s}.yaml" for s in stacks)], COMMAND)
    base_config = parse(BASE_VALUES, "base")
    plans = Plans()
    base = _objects(base_config, plans)
    files: dict[str, str] = {}
    secret_labels = secret(base_config, "from-secrets-env")["metadata"]["labels"]
    base_resources = []
    for (kind, name), manifest in sorted(base.items()):
        if kind == "Namespace":
            continue  # each overlay names its own
        file = _file_name(kind, name)
        base_resources.append(file)
        files[f"base/{file}"] = top + dump_yaml(manifest)
    files["base/kustomization.yaml"] = top + dump_yaml(
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": base_resources,
            "secretGenerator": [
                {
                    "name": SECRET,
                    "envs": ["secrets.env"],
                    # The labels the builders give the Secret, so the overlay is exactly what Pulumi deploys.
                    "options": {"disableNameSuffixHash": True, "labels": secret_labels},
                }
            ],
        }
    )
    files["base/secrets.env.example"] = (
        "# Copy to secrets.env (never committed) before `kubectl apply -k`.\n"
        "PEAKOPS_DATABASE_URL=postgresql+asyncpg://shop@db.internal:5432/shop\n"
        "PEAKOPS_ADMIN_TOKEN=change-me\n"
    )
    base_tag = base_config.image_tag
    base_repositories = sorted(
        {
            image.rpartition(":")[0]
            for m in base.values()
            for image in _images(m)
            if image.endswith(f":{base_tag}")
        }
    )
    for stack in stacks:
        config = stack_config(stack)
        objects = _objects(config, plans)
        resources: list[str] = ["../../base"]
        patches: list[dict[str, Any]] = []
        tags = {repository: config.image_tag for repository in base_repositories}
        for key, manifest in sorted(objects.items()):
            kind, name = key
            file = _file_name(kind, name)
            if kind == "Namespace" or key not in base:
                resources.append(file)
                files[f"overlays/{stack}/{file}"] = top + dump_yaml(manifest)
                continue
            # The difference from the base, once kustomize has set the namespace and the image tags.
            difference = jsonpatch.make_patch(
                _retagged(base[key], tags), _in_namespace(manifest, base_config.namespace)
            ).patch
            if difference:
                patches.append({"target": {"kind": kind, "name": name}, "patch": dump_yaml(difference)})
        for key in sorted(set(base) - set(objects)):
            kind, name = key
            if kind == "Namespace":
                continue  # the base's namespace is never applied: kustomize renames into the overlay's
            patches.append(
                {
                    "patch": dump_yaml(
                        {
                            "$patch": "delete",
                            "apiVersion": base[key]["apiVersion"],
                            "kind": kind,
                            "metadata": {"name": name, "namespace": base_config.namespace},
                        }
                    )
                }
            )
        kustomization: dict[str, Any] = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "namespace": config.namespace,
            "resources": resources,
        }
        if config.image_tag != base_tag:
            kustomization["images"] = [
                {"name": repository, "newTag": config.image_tag} for repository in tags
            ]
        if patches:
            kustomization["patches"] = patches
        files[f"overlays/{stack}/kustomization.yaml"] = top + dump_yaml(kustomization)
    files["kustomization.yaml"] = top + dump_yaml(
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": [f"overlays/{stacks[0]}"],
        }
    )
    return files


def all_manifests(stack: str) -> list[Manifest]:
    """Every object the stack's overlay amounts to, for validation (the Secret included)."""
    config = stack_config(stack)
    return [m for manifests in build(config, Plans()[config.campaign_plan]).values() for m in manifests]


def write(out: Path = K8S_DIR) -> bool:
    return write_tree(render(), out)
