"""The edge cache on Kubernetes: the Ansible role's nginx config, rendered from the same template, with
the SLI exporter as a sidecar tailing its access log.

    edge_cache(config) -> [ConfigMap nginx.conf, Deployment (nginx + exporter), Service, HPA]
"""

from __future__ import annotations

from typing import Any

import jinja2
import yaml

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
    spread,
)
from peakops.paths import REPO_ROOT
from peakops.plan import CampaignPlan
from peakops.services import APP, EDGE, EXPORTER

ROLE = REPO_ROOT / "ansible" / "roles" / "edge_cache"
EDGE_DIR = "/var/lib/peakops-edge"
CONFIG_MAP = "edge-nginx"
# The campaign plan the stack was deployed with, for the exporter's campaign window and in-cluster Locust:
# images carry code, never a campaign.
PLAN_CONFIG_MAP = "campaign-plan"
PLAN_DIR = "/etc/peakops/campaign"
PLAN_FILE = f"{PLAN_DIR}/plan.yaml"


def nginx_conf(**overrides: Any) -> str:
    """The role's template with its own defaults and generated vars, set for a container."""
    variables: dict[str, Any] = {
        **yaml.safe_load((ROLE / "defaults" / "main.yml").read_text()),
        **yaml.safe_load((ROLE / "vars" / "main.yml").read_text()),
        "ansible_managed": "Rendered by infra/manifests/edge.py from the edge_cache role's nginx.conf.j2",
        "edge_cache_service_manager": "container",
        "edge_cache_bind_address": "0.0.0.0",
        "edge_cache_port": EDGE.port,
        "edge_cache_dir": EDGE_DIR,
        # The Service's short name: resolved through the pod's DNS search path in its own namespace, so the
        # config is the same in every stack (the namespace is the overlay's, not the config's).
        "edge_cache_origin": f"{APP.name}:80",
        "edge_cache_user": "peakops",  # the image's user (Dockerfile.edge)
        # The purge token would sit in a ConfigMap: purging is off in the cluster (roll the pods).
        "edge_cache_purge_token": "",
        **overrides,
    }
    environment = jinja2.Environment(trim_blocks=True, undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701 - nginx config, not HTML
    return environment.from_string((ROLE / "templates" / "nginx.conf.j2").read_text()).render(variables)


def plan_config_map(config: StackConfig, plan: CampaignPlan) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(PLAN_CONFIG_MAP, config.namespace, "campaign"),
        "data": {"plan.yaml": plan.to_yaml()},
    }


def plan_volume() -> dict[str, Any]:
    return {"name": "campaign", "configMap": {"name": PLAN_CONFIG_MAP}}


def plan_mount() -> dict[str, Any]:
    return {"name": "campaign", "mountPath": PLAN_DIR, "readOnly": True}


def config_map(config: StackConfig) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(CONFIG_MAP, config.namespace, EDGE.name),
        "data": {"nginx.conf": nginx_conf()},
    }


def deployment(config: StackConfig) -> Manifest:
    shared = [{"name": "edge", "mountPath": EDGE_DIR}]
    nginx = container(
        EDGE,
        config.image_tag,
        command=["nginx", "-c", "/etc/peakops/nginx.conf", "-p", EDGE_DIR],
        volumeMounts=[*shared, {"name": "config", "mountPath": "/etc/peakops", "readOnly": True}],
    )
    exporter = container(
        EXPORTER,
        config.image_tag,
        args=[
            f"--web.listen-address=0.0.0.0:{EXPORTER.port}",
            f"--edge.access-log={EDGE_DIR}/logs/access.json",
            f"--synthetic.target-url=http://127.0.0.1:{EDGE.port}",
            f"--campaign.plan={PLAN_FILE}",
        ],
        volumeMounts=[{"name": "edge", "mountPath": EDGE_DIR, "readOnly": True}, plan_mount()],
    )
    exporter["ports"] = [{"name": "metrics", "containerPort": EXPORTER.port, "protocol": "TCP"}]
    prepare = container(
        EDGE,
        config.image_tag,
        name="prepare-dirs",
        command=["mkdir", "-p", *(f"{EDGE_DIR}/{d}" for d in ("logs", "cache", "tmp"))],
        volumeMounts=shared,
    )
    for key in ("ports", "readinessProbe", "livenessProbe"):
        prepare.pop(key)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(EDGE.name, config.namespace),
        "spec": {
            "selector": {"matchLabels": selector(EDGE.name)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
            "template": {
                "metadata": {
                    "labels": labels(EDGE.name),
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(EXPORTER.port),
                    },
                },
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": dict(POD_SECURITY),
                    "topologySpreadConstraints": spread(EDGE.name),
                    "initContainers": [prepare],
                    "containers": [nginx, exporter],
                    "volumes": [
                        {"name": "edge", "emptyDir": {}},
                        {"name": "config", "configMap": {"name": CONFIG_MAP}},
                        plan_volume(),
                    ],
                },
            },
        },
    }


def service(config: StackConfig) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(EDGE.name, config.namespace),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(EDGE.name),
            "ports": [
                {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                {"name": "metrics", "port": EXPORTER.port, "targetPort": "metrics", "protocol": "TCP"},
            ],
        },
    }


def edge_cache(config: StackConfig, plan: CampaignPlan) -> list[Manifest]:
    return [
        config_map(config),
        plan_config_map(config, plan),
        justify(deployment(config), "CKV_K8S_43", "CKV_K8S_15"),
        service(config),
        hpa(EDGE.name, config.namespace, EDGE.name, config.edge_replicas, [cpu_metric(70)]),
    ]
