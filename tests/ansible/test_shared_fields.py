"""The campaign_k8s role's `peakops_yield_fields` filter, on managedFields as the API server writes them
(the real apiserver: tests/e2e/test_ansible_k8s.py deploys inside a pre-scale window)."""

from __future__ import annotations

import importlib.util
from typing import Any

from infra.manifests.prescale import FIELD_MANAGER
from infra.render import all_manifests
from peakops.paths import ANSIBLE_DIR
from peakops.services import APP

PLUGIN = ANSIBLE_DIR / "roles" / "campaign_k8s" / "filter_plugins" / "shared_fields.py"
_spec = importlib.util.spec_from_file_location("shared_fields", PLUGIN)
assert _spec is not None
assert _spec.loader is not None
shared_fields = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shared_fields)

HPA = next(
    m
    for m in all_manifests("dev")
    if m["kind"] == "HorizontalPodAutoscaler" and m["metadata"]["name"] == APP.name
)


def live(*managers: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    metadata = {
        **HPA["metadata"],
        "managedFields": [{"manager": m, "operation": "Apply", "fieldsV1": f} for m, f in managers],
    }
    return [{"resources": [{**HPA, "metadata": metadata}]}]


SPEC: dict[str, Any] = {"f:spec": {"f:minReplicas": {}, "f:maxReplicas": {}}}
MAX_ONLY: dict[str, Any] = {"f:spec": {"f:maxReplicas": {}}}
MIN_ONLY: dict[str, Any] = {"f:spec": {"f:minReplicas": {}}}


def test_the_app_hpa_shares_its_minimum() -> None:
    assert HPA["metadata"]["annotations"]["peakops.dev/shared-fields"] == "spec.minReplicas"


def test_a_field_the_prescaler_owns_is_left_out() -> None:
    (applied,) = shared_fields.yield_fields(
        [HPA], live(("peakops-ansible", MAX_ONLY), (FIELD_MANAGER, MIN_ONLY)), "peakops-ansible"
    )
    assert "minReplicas" not in applied["spec"]
    assert applied["spec"]["maxReplicas"] == HPA["spec"]["maxReplicas"]
    assert "minReplicas" in HPA["spec"]  # the input is not modified


def test_a_field_still_ours_or_an_object_not_yet_created_is_applied() -> None:
    ours = live(("peakops-ansible", SPEC), (FIELD_MANAGER, MAX_ONLY))
    assert shared_fields.yield_fields([HPA], ours, "peakops-ansible")[0]["spec"] == HPA["spec"]
    assert shared_fields.yield_fields([HPA], [], "peakops-ansible")[0]["spec"] == HPA["spec"]
