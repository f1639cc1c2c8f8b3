"""Kubernetes manifests as plain dicts: no Pulumi import, so the Pulumi components and the renderer of
`k8s/` build exactly the same objects.

    build(config, plan) -> {"CampaignApp": [...], "EdgeCache": [...], "Ingress": [...], ...}
"""

from __future__ import annotations

from infra.config import StackConfig
from infra.manifests.app import campaign_app
from infra.manifests.common import Manifest
from infra.manifests.edge import edge_cache
from infra.manifests.network import network_policies, public_entry
from infra.manifests.platform import database, in_cluster_database_url, load_generator, observability
from infra.manifests.prescale import prescale
from peakops.plan import CampaignPlan


def namespace(config: StackConfig) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": config.namespace,
            "labels": {
                "app.kubernetes.io/part-of": "peakops",
                # Pod Security Admission: every pod here must meet the restricted profile.
                "pod-security.kubernetes.io/enforce": "restricted",
            },
        },
    }


def build(
    config: StackConfig, plan: CampaignPlan, database_url: str | None = None
) -> dict[str, list[Manifest]]:
    url = database_url or config.database_url or in_cluster_database_url(config)
    return {
        "Namespace": [namespace(config)],
        "Database": database(config),
        "CampaignApp": campaign_app(config, url),
        "PreScaling": prescale(config, plan),
        "EdgeCache": edge_cache(config, plan),
        "Ingress": public_entry(config),
        "NetworkPolicies": network_policies(config),
        "Observability": observability(config),
        "LoadGenerator": load_generator(config),
    }
