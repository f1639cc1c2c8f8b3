"""Shared pieces of the manifest builders: labels, metadata, the hardened container and pod settings."""

from __future__ import annotations

from typing import Any

from peakops.services import Probe, Resources, Service

Manifest = dict[str, Any]
PART_OF = "peakops"
NON_ROOT_UID = 10001


def labels(component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": component, "app.kubernetes.io/part-of": PART_OF}


def selector(component: str) -> dict[str, str]:
    """The subset of labels a selector uses: stable for the life of the workload."""
    return {"app.kubernetes.io/name": component}


def meta(name: str, namespace: str, component: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": labels(component or name), **extra}


def probe(spec: Probe, port: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": spec.path, "port": port},
        "periodSeconds": spec.period_seconds,
        "timeoutSeconds": spec.timeout_seconds,
        "failureThreshold": spec.failure_threshold,
    }


def resources(spec: Resources) -> dict[str, Any]:
    return {
        "requests": {"cpu": spec.cpu_request, "memory": spec.memory_request},
        "limits": {"cpu": spec.cpu_limit, "memory": spec.memory_limit},
    }


CONTAINER_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": NON_ROOT_UID,
    "runAsGroup": NON_ROOT_UID,
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
    "privileged": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}

POD_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": NON_ROOT_UID,
    "runAsGroup": NON_ROOT_UID,
    "fsGroup": NON_ROOT_UID,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def container(
    service: Service,
    tag: str,
    *,
    name: str | None = None,
    env: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A container of a service: pinned image, probes, requests and limits, locked-down security."""
    spec: dict[str, Any] = {
        "name": name or service.name,
        "image": f"{service.image}:{tag}",
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": service.port, "protocol": "TCP"}],
        "readinessProbe": probe(service.readiness, service.port),
        "livenessProbe": probe(service.liveness, service.port),
        "resources": resources(service.resources),
        "securityContext": dict(CONTAINER_SECURITY),
    }
    if service.command:
        spec["command"] = list(service.command)
    if env:
        spec["env"] = env
    spec.update(extra)
    return spec


def spread(component: str) -> list[dict[str, Any]]:
    """Across zones when there are zones, and never two replicas on one node while others are free."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector(component)},
        }
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]


SHARED_FIELDS = "peakops.dev/shared-fields"


def share_fields(manifest: Manifest, *paths: str) -> Manifest:
    """Mark fields (dotted paths, e.g. ``spec.minReplicas``) that another field manager may own at run time.

    Every deployer reads the annotation and, when the live object's managedFields give such a field to
    another manager and not to the deployer, leaves it out of what it applies: Pulumi through
    ``ignore_changes`` (its provider drops a field owned by another manager from the server-side apply),
    the Ansible role through its ``peakops_yield_fields`` filter. Server-side apply then neither resets the
    field nor reports a conflict. Until another manager takes the field, the declared value applies.
    """
    annotations = manifest["metadata"].setdefault("annotations", {})
    annotations[SHARED_FIELDS] = ",".join(paths)
    return manifest


def shared_fields(manifest: Manifest) -> list[str]:
    value = manifest.get("metadata", {}).get("annotations", {}).get(SHARED_FIELDS, "")
    return [path for path in value.split(",") if path]


def hpa(
    name: str, namespace: str, target: str, bounds: tuple[int, int], metrics: list[dict[str, Any]]
) -> Manifest:
    """autoscaling/v2 tuned for a spike that lands within a minute: up fast, down slowly."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta(name, namespace),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": bounds[0],
            "maxReplicas": bounds[1],
            "metrics": metrics,
            "behavior": {
                # No stabilisation up: double, or add 4 pods, every 15 s, whichever is more.
                "scaleUp": {
                    "stabilizationWindowSeconds": 0,
                    "selectPolicy": "Max",
                    "policies": [
                        {"type": "Percent", "value": 100, "periodSeconds": 15},
                        {"type": "Pods", "value": 4, "periodSeconds": 15},
                    ],
                },
                # Influencer posts come in waves: hold capacity 5 min, then shed 10% a minute.
                "scaleDown": {
                    "stabilizationWindowSeconds": 300,
                    "selectPolicy": "Min",
                    "policies": [{"type": "Percent", "value": 10, "periodSeconds": 60}],
                },
            },
        },
    }


def cpu_metric(percent: int) -> dict[str, Any]:
    return {
        "type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": percent}},
    }


# checkov findings we accept, each with its reason; `justify` writes them where checkov reads them
# (metadata annotations), so the reason travels with the object.
JUSTIFIED = {
    "CKV_K8S_43": "images are pinned by version tag; no registry can be reached to resolve digests here",
    "CKV_K8S_15": "IfNotPresent with pinned tags: a spike's scale-up must not wait on the registry",
    "CKV_K8S_38": "the prescaler's kubectl needs its token to patch the HPA (its Role allows only that)",
    "CKV_K8S_35": "the app reads PEAKOPS_* settings from its environment; the Secret is mounted only here",
    "CKV_K8S_40": "the dev PostgreSQL image runs as its own postgres user (999)",
}


def justify(manifest: Manifest, *checks: str) -> Manifest:
    annotations = manifest["metadata"].setdefault("annotations", {})
    for index, check in enumerate(checks, start=1):
        annotations[f"checkov.io/skip{index}"] = f"{check}={JUSTIFIED[check]}"
    return manifest
