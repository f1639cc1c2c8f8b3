"""The campaign_k8s role's filter: leave to another field manager the fields it owns.

    objects | peakops_yield_fields(live_results, field_manager) -> objects

An object lists, in its ``peakops.dev/shared-fields`` annotation (infra/manifests/common.py), the dotted
paths another manager may own at run time: the pre-scale jobs own the app HPA's ``spec.minReplicas`` once
they changed it. For each such path that the live object's managedFields give to another manager and not
to ``field_manager``, the path is removed from what is applied, so server-side apply neither resets the
field nor fails on a conflict. This is what the Pulumi Kubernetes provider does for ``ignore_changes``.
"""

from __future__ import annotations

import copy
from typing import Any

SHARED_FIELDS = "peakops.dev/shared-fields"


def _owns(fields: dict[str, Any], path: list[str]) -> bool:
    node: Any = fields
    for part in path:
        if not isinstance(node, dict) or f"f:{part}" not in node:
            return False
        node = node[f"f:{part}"]
    return True


def _live(results: list[dict[str, Any]], manifest: dict[str, Any]) -> dict[str, Any] | None:
    meta = manifest["metadata"]
    for result in results:
        for resource in result.get("resources", []):
            if (
                resource.get("kind") == manifest["kind"]
                and resource["metadata"]["name"] == meta["name"]
                and resource["metadata"].get("namespace") == meta.get("namespace")
            ):
                return resource
    return None


def _paths(manifest: dict[str, Any]) -> list[str]:
    annotations = manifest.get("metadata", {}).get("annotations", {})
    return [path for path in annotations.get(SHARED_FIELDS, "").split(",") if path]


def _owned(managed: list[dict[str, Any]], parts: list[str], field_manager: str) -> tuple[bool, bool]:
    """(owned by field_manager, owned by another manager)."""
    owners = {m.get("manager") for m in managed if _owns(m.get("fieldsV1", {}), parts)}
    return field_manager in owners, bool(owners - {field_manager})


def yield_fields(
    objects: list[dict[str, Any]], live_results: list[dict[str, Any]], field_manager: str
) -> list[dict[str, Any]]:
    found = []
    for manifest in objects:
        paths = _paths(manifest)
        live = _live(live_results, manifest) if paths else None
        if live is None:
            found.append(manifest)
            continue
        managed = live["metadata"].get("managedFields", [])
        manifest = copy.deepcopy(manifest)
        for path in paths:
            parts = path.split(".")
            ours, theirs = _owned(managed, parts, field_manager)
            if theirs and not ours:
                parent = manifest
                for part in parts[:-1]:
                    parent = parent.get(part, {})
                parent.pop(parts[-1], None)
        found.append(manifest)
    return found


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"peakops_yield_fields": yield_fields}
