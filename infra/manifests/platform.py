"""Observability, the database and the optional load generator.

observability(config) -> PrometheusRule + ServiceMonitors with the Prometheus Operator, ConfigMaps of
                         the generated rules otherwise; the Alertmanager config as a ConfigMap
database(config)      -> nothing for an external URL (it is in the app's Secret); a dev PostgreSQL
load_generator(config)-> Locust master and worker Jobs playing the campaign plan once (opt-in)
"""

from __future__ import annotations

from typing import Any

import yaml

from infra.config import StackConfig
from infra.manifests.common import (
    CONTAINER_SECURITY,
    POD_SECURITY,
    Manifest,
    justify,
    labels,
    meta,
    selector,
)
from infra.manifests.edge import PLAN_FILE, plan_mount, plan_volume
from infra.manifests.network import LOAD_GENERATOR
from peakops.paths import GENERATED_DIR
from peakops.services import APP, EDGE, EXPORTER

# Built here (images/postgres: Debian's PostgreSQL 15, the official image's POSTGRES_* contract), so a
# cluster without a registry runs it too; any registry's postgres:15 takes the same environment.
POSTGRES_IMAGE = "ghcr.io/peakops/postgres:15-bookworm"
POSTGRES = "postgres"
LOAD_GENERATOR_REPOSITORY = f"{APP.image}-loadtest"  # images/loadtest: Locust and the project's loadtests/


def in_cluster_database_url(config: StackConfig) -> str:
    return f"postgresql+asyncpg://shop@{POSTGRES}.{config.namespace}.svc.cluster.local:5432/shop"


def observability(config: StackConfig) -> list[Manifest]:
    alertmanager: Manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta("peakops-alertmanager", config.namespace, "alertmanager"),
        "data": {"alertmanager.yml": (GENERATED_DIR / "alertmanager.yml").read_text()},
    }
    if config.prometheus_operator is not True:  # auto (undecided) renders the portable ConfigMaps
        rules: Manifest = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta("peakops-prometheus-rules", config.namespace, "prometheus"),
            # One key per rule file: mounted as a directory, Prometheus loads rules/*.yml as generated.
            "data": {path.name: path.read_text() for path in sorted((GENERATED_DIR / "rules").glob("*.yml"))},
        }
        return [rules, alertmanager]
    rule = yaml.safe_load((GENERATED_DIR / "prometheusrule.yaml").read_text())
    rule["metadata"]["namespace"] = config.namespace
    monitors = [
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": meta(name, config.namespace, name),
            "spec": {
                "selector": {"matchLabels": selector(target)},
                "endpoints": [{"port": port, "path": "/metrics", "interval": "15s"}],
            },
        }
        for name, target, port in ((APP.name, APP.name, "http"), (EXPORTER.name, EDGE.name, "metrics"))
    ]
    return [rule, *monitors, alertmanager]


def database(config: StackConfig) -> list[Manifest]:
    if not config.in_cluster_postgres:
        return []
    pod_labels = labels(POSTGRES)
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta(POSTGRES, config.namespace),
            "spec": {
                "clusterIP": "None",
                "selector": selector(POSTGRES),
                "ports": [{"name": "postgres", "port": 5432, "targetPort": 5432, "protocol": "TCP"}],
            },
        },
        justify(
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": meta(POSTGRES, config.namespace),
                "spec": {
                    "serviceName": POSTGRES,
                    "replicas": 1,
                    "selector": {"matchLabels": selector(POSTGRES)},
                    "template": {
                        "metadata": {"labels": pod_labels},
                        "spec": {
                            "automountServiceAccountToken": False,
                            "securityContext": {
                                **POD_SECURITY,
                                "runAsUser": 999,
                                "runAsGroup": 999,
                                "fsGroup": 999,
                            },
                            "containers": [
                                {
                                    "name": POSTGRES,
                                    "image": POSTGRES_IMAGE,
                                    "imagePullPolicy": "IfNotPresent",
                                    # Dev only: no password; only the app may reach it (NetworkPolicy).
                                    "env": [
                                        {"name": "POSTGRES_USER", "value": "shop"},
                                        {"name": "POSTGRES_DB", "value": "shop"},
                                        {"name": "POSTGRES_HOST_AUTH_METHOD", "value": "trust"},
                                        {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"},
                                    ],
                                    "ports": [{"name": "postgres", "containerPort": 5432, "protocol": "TCP"}],
                                    "readinessProbe": {
                                        "exec": {"command": ["pg_isready", "-U", "shop"]},
                                        "periodSeconds": 5,
                                    },
                                    "livenessProbe": {
                                        "exec": {"command": ["pg_isready", "-U", "shop"]},
                                        "periodSeconds": 15,
                                    },
                                    "resources": {
                                        "requests": {"cpu": "250m", "memory": "256Mi"},
                                        "limits": {"cpu": "1", "memory": "1Gi"},
                                    },
                                    "securityContext": {
                                        **CONTAINER_SECURITY,
                                        "runAsUser": 999,
                                        "runAsGroup": 999,
                                    },
                                    "volumeMounts": [
                                        {"name": "data", "mountPath": "/var/lib/postgresql/data"},
                                        {"name": "run", "mountPath": "/run/postgresql"},
                                        {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - an emptyDir
                                    ],
                                }
                            ],
                            "volumes": [{"name": "run", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}],
                        },
                    },
                    "volumeClaimTemplates": [
                        {
                            "metadata": {"name": "data"},
                            "spec": {
                                "accessModes": ["ReadWriteOnce"],
                                "resources": {"requests": {"storage": "5Gi"}},
                            },
                        }
                    ],
                },
            },
            "CKV_K8S_43",
            "CKV_K8S_15",
            "CKV_K8S_40",
        ),
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta("postgres-ingress", config.namespace, "network-policy"),
            "spec": {
                "podSelector": {"matchLabels": selector(POSTGRES)},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [{"podSelector": {"matchLabels": selector(APP.name)}}],
                        "ports": [{"protocol": "TCP", "port": 5432}],
                    }
                ],
            },
        },
    ]


# A run is a Job, not a Deployment: a headless Locust master exits when the plan's traffic ends, and a
# Deployment would restart it and replay the campaign for as long as it exists.
LOCUST_WAIT_FOR_WORKERS_S = 300  # the master gives up (exit 1) if its workers never all connect


def _locust(config: StackConfig, role: str, args: list[str], pods: int) -> Manifest:
    pod_labels = {**labels(LOAD_GENERATOR), "peakops.dev/locust-role": role}
    container: dict[str, Any] = {
        "name": f"locust-{role}",
        "image": f"{LOAD_GENERATOR_REPOSITORY}:{config.image_tag}",
        "imagePullPolicy": "IfNotPresent",
        "command": ["locust", "-f", "/opt/peakops/loadtests/locustfile.py", *args],
        "resources": {"requests": {"cpu": "1", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        "securityContext": dict(CONTAINER_SECURITY),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, plan_mount()],  # noqa: S108 - an emptyDir
    }
    if role == "master":
        container["ports"] = [{"name": "locust", "containerPort": 5557, "protocol": "TCP"}]
        # Ready once it listens for workers: the Service sends them only to a master that takes them.
        container["readinessProbe"] = {"tcpSocket": {"port": 5557}, "periodSeconds": 5}
        container["livenessProbe"] = {"tcpSocket": {"port": 5557}, "periodSeconds": 15}
    job: Manifest = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta(f"locust-{role}", config.namespace, LOAD_GENERATOR),
        "spec": {
            "parallelism": pods,
            "completions": pods,
            # The master's exit code is the run's verdict (Locust exits 1 on failures): never rerun it.
            # A worker that lost its master before the run began may retry.
            "backoffLimit": 0 if role == "master" else 3 * pods,
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "securityContext": dict(POD_SECURITY),
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {}}, plan_volume()],
                },
            },
        },
    }
    # A load test runs for as long as its plan says: `pulumi up` must not wait for it to complete.
    job["metadata"].setdefault("annotations", {})["pulumi.com/skipAwait"] = "true"
    return justify(job, "CKV_K8S_43", "CKV_K8S_15")


def load_generator(config: StackConfig) -> list[Manifest]:
    """The campaign plan played once by Locust in the cluster against the edge's Service: a master Job
    (its exit code is the verdict, its log the report) and `loadGeneratorWorkers` worker pods, which take
    the plan and options from the master. `loadGeneratorOptions` are added to the master's command line
    (Locust's and peakops' own: `--test-seconds 10m`, `--peak-arrivals 200`, ...). A new run: delete the
    Jobs (or `pulumi up --replace` them)."""
    if not config.load_generator:
        return []
    target = f"http://{EDGE.name}.{config.namespace}.svc.cluster.local"
    plan = PLAN_FILE
    master_args = ["--master", "--headless", "--host", target, "--plan", plan,
                   "--expect-workers", str(config.load_generator_workers),
                   "--expect-workers-max-wait", str(LOCUST_WAIT_FOR_WORKERS_S),
                   *config.load_generator_options]  # fmt: skip
    return [
        _locust(config, "master", master_args, 1),
        _locust(
            config,
            "worker",
            ["--worker", "--master-host", "locust-master", "--plan", plan],
            config.load_generator_workers,
        ),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta("locust-master", config.namespace, LOAD_GENERATOR),
            "spec": {
                "selector": {**selector(LOAD_GENERATOR), "peakops.dev/locust-role": "master"},
                "ports": [{"name": "locust", "port": 5557, "targetPort": 5557, "protocol": "TCP"}],
            },
        },
    ]
