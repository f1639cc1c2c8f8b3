"""Pulumi components over the plain-dict builders: each one registers the objects its builder returns.

The objects become typed pulumi-kubernetes resources (so `pulumi preview` diffs them field by field and
the engine orders them by their references); secrets stay Pulumi secrets end to end.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.manifests.common import Manifest, shared_fields

# kind -> resource class. Custom resources (PrometheusRule, ServiceMonitor) go through CustomResource.
KINDS: dict[tuple[str, str], Any] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "Secret"): k8s.core.v1.Secret,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "Service"): k8s.core.v1.Service,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("apps/v1", "StatefulSet"): k8s.apps.v1.StatefulSet,
    ("autoscaling/v2", "HorizontalPodAutoscaler"): k8s.autoscaling.v2.HorizontalPodAutoscaler,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
    ("networking.k8s.io/v1", "Ingress"): k8s.networking.v1.Ingress,
    ("rbac.authorization.k8s.io/v1", "Role"): k8s.rbac.v1.Role,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): k8s.rbac.v1.RoleBinding,
    ("batch/v1", "CronJob"): k8s.batch.v1.CronJob,
}


def register(name: str, manifest: Manifest, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    api_version, kind = manifest["apiVersion"], manifest["kind"]
    shared = shared_fields(manifest)
    if shared:
        # Fields another manager may own (the prescaler's minReplicas): the provider keeps the live value,
        # and leaves the field out of its server-side apply once another manager owns it.
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(ignore_changes=shared))
    body = {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind")}
    if kind == "Secret":
        body["string_data"] = pulumi.Output.secret(body.pop("stringData"))
    resource = KINDS.get((api_version, kind))
    if resource is None:
        return k8s.apiextensions.CustomResource(
            name,
            api_version=api_version,
            kind=kind,
            metadata=body.pop("metadata"),
            spec=body.get("spec"),
            opts=opts,
        )
    return resource(name, **{_snake(k): v for k, v in body.items()}, opts=opts)  # type: ignore[no-any-return]


def _snake(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)


class PeakopsComponent(pulumi.ComponentResource):
    """One group of objects (CampaignApp, EdgeCache, ...) under the type token peakops:k8s:<Name>."""

    TYPE = "Component"
    resources: dict[str, pulumi.CustomResource]

    def __init__(
        self, name: str, manifests: list[Manifest], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"peakops:k8s:{self.TYPE}", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.resources = {}
        for manifest in manifests:
            key = f"{manifest['kind']}/{manifest['metadata']['name']}"
            self.resources[key] = register(
                f"{name}-{manifest['kind'].lower()}-{manifest['metadata']['name']}", manifest, child
            )
        self.register_outputs({"objects": sorted(self.resources)})


class CampaignApp(PeakopsComponent):
    """Deployment, Service, HPA (CPU and requests per second, tuned for spikes), PDB, ServiceAccount."""

    TYPE = "CampaignApp"


class EdgeCache(PeakopsComponent):
    """The Ansible role's nginx config as a ConfigMap; nginx with the SLI exporter sidecar; Service; HPA."""

    TYPE = "EdgeCache"


class Ingress(PeakopsComponent):
    """The public entry: an Ingress of the configured class and, on a cloud, a LoadBalancer Service."""

    TYPE = "Ingress"


class Observability(PeakopsComponent):
    """Generated rules and Alertmanager config; ServiceMonitors with the Prometheus Operator."""

    TYPE = "Observability"


class PreScaling(PeakopsComponent):
    """CronJobs that raise the HPA minimum before each post, under a Role that can patch only that HPA."""

    TYPE = "PreScaling"


class Database(PeakopsComponent):
    """Nothing for an external URL (it lives in the app's Secret); a dev PostgreSQL when asked."""

    TYPE = "Database"


class LoadGenerator(PeakopsComponent):
    """In-cluster Locust master and workers running the campaign plan (opt-in)."""

    TYPE = "LoadGenerator"


class NetworkPolicies(PeakopsComponent):
    """Default deny, then exactly the flows the shop needs."""

    TYPE = "NetworkPolicies"


class Namespace(PeakopsComponent):
    """The namespace, labelled for the restricted Pod Security Standard."""

    TYPE = "Namespace"


COMPONENTS: dict[str, type[PeakopsComponent]] = {
    cls.TYPE: cls
    for cls in (
        Namespace,
        Database,
        CampaignApp,
        PreScaling,
        EdgeCache,
        Ingress,
        NetworkPolicies,
        Observability,
        LoadGenerator,
    )
}
