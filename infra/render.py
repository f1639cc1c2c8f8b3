"""Render `k8s/` from the same builders the Pulumi program uses: a kustomize base and an overlay per stack.

k8s/base/               every object for the base settings (no secrets: a secretGenerator reads
                        secrets.env, which you write and never commit)
k8s/overlays/<stack>/   the stack's differences, from Pulumi.<stack>.yaml: changed objects as patches,
                        added ones as resources, removed ones as delete patches
k8s/kustomization.yaml  `kubectl apply -k k8s/` deploys the first stack (dev); others are explicit

peakops k8s render            (a drift test fails when k8s/ differs from what this renders)
kubectl apply -k k8s/overlays/dev
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from infra.config import StackConfig, from_stack_file, parse
from infra.manifests import build
from infra.manifests.app import SECRET
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
                {"name": SECRET, "envs": ["secrets.env"], "options": {"disableNameSuffixHash": True}}
            ],
        }
    )
    files["base/secrets.env.example"] = (
        "# Copy to secrets.env (never committed) before `kubectl apply -k`.\n"
        "PEAKOPS_DATABASE_URL=postgresql+asyncpg://shop@db.internal:5432/shop\n"
        "PEAKOPS_ADMIN_TOKEN=change-me\n"
    )
    for stack in stacks:
        config = stack_config(stack)
        objects = _objects(config, plans)
        resources: list[str] = ["../../base"]
        patches: list[dict[str, Any]] = []
        for key, manifest in sorted(objects.items()):
            kind, name = key
            file = _file_name(kind, name)
            if kind == "Namespace" or key not in base:
                resources.append(file)
                files[f"overlays/{stack}/{file}"] = top + dump_yaml(manifest)
                continue
            as_patch = _in_namespace(manifest, base_config.namespace)
            if as_patch != base[key]:
                patches.append({"path": file})
                files[f"overlays/{stack}/{file}"] = top + dump_yaml(as_patch)
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
