"""Traffic in and between the pods: default deny, then exactly what the shop needs; the public entry.

network_policies(config) -> default deny (ingress and egress), DNS, edge <- anyone, app <- edge,
                            Prometheus -> app and exporter, app -> database and payments,
                            edge -> app, load generator -> edge
public_entry(config)     -> Ingress to the edge (+ a LoadBalancer Service with the cloud's annotations)
"""

from __future__ import annotations

from typing import Any

from infra.config import StackConfig
from infra.manifests.common import Manifest, meta, selector
from peakops.services import APP, EDGE, EXPORTER

PROMETHEUS = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
              "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}  # fmt: skip
LOAD_GENERATOR = "load-generator"

CLOUD_ANNOTATIONS: dict[str, dict[str, str]] = {
    "none": {},
    "aws": {
        "service.beta.kubernetes.io/aws-load-balancer-type": "external",
        "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
        "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
        "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": "true",
    },
    "gcp": {"cloud.google.com/l4-rbs": "enabled", "networking.gke.io/load-balancer-type": "External"},
    "azure": {"service.beta.kubernetes.io/azure-load-balancer-health-probe-request-path": "/edge/healthz"},
}


def _policy(config: StackConfig, name: str, spec: dict[str, Any]) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta(name, config.namespace, "network-policy"),
        "spec": spec,
    }


def _port(port: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port}]


def network_policies(config: StackConfig) -> list[Manifest]:
    app, edge = {"matchLabels": selector(APP.name)}, {"matchLabels": selector(EDGE.name)}
    return [
        _policy(config, "default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        _policy(
            config,
            "allow-dns",
            {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
                        ],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    }
                ],
            },
        ),
        _policy(
            config,
            "edge-ingress",
            {
                "podSelector": edge,
                "policyTypes": ["Ingress"],
                "ingress": [
                    {"ports": _port(EDGE.port)},  # the public entry: ingress controller or load balancer
                    {"from": [PROMETHEUS], "ports": _port(EXPORTER.port)},
                ],
            },
        ),
        _policy(
            config,
            "edge-egress",
            {
                "podSelector": edge,
                "policyTypes": ["Egress"],
                "egress": [{"to": [{"podSelector": app}], "ports": _port(APP.port)}],
            },
        ),
        _policy(
            config,
            "app-ingress",
            {
                "podSelector": app,
                "policyTypes": ["Ingress"],
                "ingress": [
                    {"from": [{"podSelector": edge}], "ports": _port(APP.port)},
                    {"from": [PROMETHEUS], "ports": _port(APP.port)},
                ],
            },
        ),
        _policy(
            config,
            "app-egress",
            {
                "podSelector": app,
                "policyTypes": ["Egress"],
                "egress": [
                    {"ports": _port(5432)},  # PostgreSQL, in or outside the cluster
                    {"ports": _port(443)},  # the payment provider
                ],
            },
        ),
        _policy(
            config,
            "load-generator-egress",
            {
                "podSelector": {"matchLabels": selector(LOAD_GENERATOR)},
                "policyTypes": ["Egress", "Ingress"],
                "egress": [
                    {"to": [{"podSelector": edge}], "ports": _port(EDGE.port)},
                    {
                        "to": [{"podSelector": {"matchLabels": selector(LOAD_GENERATOR)}}],
                        "ports": _port(5557),
                    },
                ],
                "ingress": [
                    {
                        "from": [{"podSelector": {"matchLabels": selector(LOAD_GENERATOR)}}],
                        "ports": _port(5557),
                    }
                ],
            },
        ),
    ]


def public_entry(config: StackConfig) -> list[Manifest]:
    ingress: Manifest = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": meta(
            EDGE.name,
            config.namespace,
            annotations={"nginx.ingress.kubernetes.io/proxy-body-size": "1m"},
        ),
        "spec": {
            "ingressClassName": config.ingress_class,
            "rules": [
                {
                    "host": config.host,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": EDGE.name, "port": {"name": "http"}}},
                            }
                        ]
                    },
                }
            ],
        },
    }
    manifests = [ingress]
    if config.cloud != "none":
        manifests.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": meta(
                    "edge-public", config.namespace, EDGE.name, annotations=CLOUD_ANNOTATIONS[config.cloud]
                ),
                "spec": {
                    "type": "LoadBalancer",
                    "externalTrafficPolicy": "Local",  # keeps the client address for the edge's rate limits
                    "selector": selector(EDGE.name),
                    "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
                },
            }
        )
    return manifests
