"""The campaign app: ServiceAccount, Secret, Deployment, Service, HPA, PDB.

campaign_app(config) -> [ServiceAccount, Secret, Deployment, Service, HorizontalPodAutoscaler,
                         PodDisruptionBudget]
"""

from __future__ import annotations

from typing import Any

from infra.config import StackConfig
from infra.manifests.common import (
    POD_SECURITY,
    Manifest,
    container,
    cpu_metric,
    hpa,
    justify,
    labels,
    meta,
    selector,
    share_fields,
    spread,
)
from peakops.services import APP, APP_DRAIN_SECONDS, APP_TERMINATION_GRACE_SECONDS

SECRET = "campaign-app-secrets"  # noqa: S105 - the Secret's name, not its value
RPS_METRIC = "peakops_http_requests_per_second"  # from peakops_http_requests_total via prometheus-adapter


def secret(config: StackConfig, database_url: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta(SECRET, config.namespace, APP.name),
        "type": "Opaque",
        "stringData": {"PEAKOPS_DATABASE_URL": database_url, "PEAKOPS_ADMIN_TOKEN": config.admin_token},
    }


def deployment(config: StackConfig) -> Manifest:
    env: list[dict[str, Any]] = [
        {"name": name, "valueFrom": {"secretKeyRef": {"name": SECRET, "key": name}}}
        for name in ("PEAKOPS_DATABASE_URL", "PEAKOPS_ADMIN_TOKEN")
    ]
    env += [
        {"name": "PEAKOPS_SHUTDOWN_DRAIN_SECONDS", "value": str(APP_DRAIN_SECONDS)},
        {"name": "PEAKOPS_DATA_DIR", "value": "/var/lib/peakops"},
    ]
    app = container(
        APP,
        config.image_tag,
        env=env,
        startupProbe={
            "httpGet": {"path": APP.readiness.path, "port": APP.port},
            "periodSeconds": 2,
            "failureThreshold": 30,
        },
        volumeMounts=[
            {"name": "data", "mountPath": "/var/lib/peakops"},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - an emptyDir: the root fs is read-only
        ],
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(APP.name, config.namespace),
        "spec": {
            # No replicas: the HPA owns them (a re-apply must not reset a scaled-up deployment).
            "selector": {"matchLabels": selector(APP.name)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
            "template": {
                "metadata": {
                    "labels": labels(APP.name),
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(APP.port),
                        "prometheus.io/path": APP.metrics_path,
                    },
                },
                "spec": {
                    "serviceAccountName": APP.name,
                    "automountServiceAccountToken": False,
                    "securityContext": dict(POD_SECURITY),
                    "terminationGracePeriodSeconds": APP_TERMINATION_GRACE_SECONDS,
                    "topologySpreadConstraints": spread(APP.name),
                    "containers": [app],
                    "volumes": [{"name": "data", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }


def service(config: StackConfig) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(APP.name, config.namespace),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(APP.name),
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def autoscaler(config: StackConfig) -> Manifest:
    rps = {
        "type": "Pods",
        "pods": {
            "metric": {"name": RPS_METRIC},
            "target": {"type": "AverageValue", "averageValue": str(config.app_rps_target)},
        },
    }
    # Requests per second only where a custom metrics adapter serves them (auto, undecided, renders the
    # portable CPU-only HPA): with a metric missing, the HPA controller would never scale down.
    metrics = [cpu_metric(config.app_cpu_target), *([rps] if config.app_rps_metric is True else [])]
    autoscaler = hpa(APP.name, config.namespace, APP.name, config.app_replicas, metrics)
    # The pre-scale jobs raise and lower the minimum: once they set it, deployers leave it to them.
    return share_fields(autoscaler, "spec.minReplicas")


def disruption_budget(config: StackConfig) -> Manifest:
    # One pod at a time: node drains and rollouts proceed, the rest keep serving.
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta(APP.name, config.namespace),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(APP.name)}},
    }


def service_account(config: StackConfig) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta(APP.name, config.namespace),
        "automountServiceAccountToken": False,
    }


def campaign_app(config: StackConfig, database_url: str) -> list[Manifest]:
    return [
        service_account(config),
        secret(config, database_url),
        justify(deployment(config), "CKV_K8S_43", "CKV_K8S_15", "CKV_K8S_35"),
        service(config),
        autoscaler(config),
        disruption_budget(config),
    ]
