"""The Pulumi program, callable from `__main__.py` and from the unit tests (with mocks)."""

from __future__ import annotations

import os
from typing import Any

import pulumi

from infra.components import COMPONENTS, PeakopsComponent
from infra.config import KEYS, SECRET_KEYS, ConfigError, StackConfig, parse
from infra.manifests import build
from peakops.paths import REPO_ROOT
from peakops.plan import load_plan


def read_config() -> StackConfig:
    """Every `peakops:*` key of the stack, unknown ones included, so a typo fails here."""
    stack = pulumi.get_stack()
    prefix = "peakops:"
    values = {
        key.removeprefix(prefix): value
        for key, value in {
            **pulumi.runtime.config.get_config_env(),
            **pulumi.runtime.config.CONFIG.get(),
        }.items()
        if key.startswith(prefix)
    }
    config = pulumi.Config("peakops")
    typed = {}
    for key, raw in values.items():
        if key in SECRET_KEYS:
            typed[key] = raw  # the value itself; it goes into the Secret as a Pulumi secret
        elif key in KEYS:
            typed[key] = config.get_object(key) if raw.strip()[:1] in "[{" else _scalar(raw)
        else:
            typed[key] = raw  # unknown: parse() names it
    return parse(typed, stack)


def _scalar(raw: str) -> object:
    lowered = raw.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(raw)
    except ValueError:
        return raw


# Settings that may say `auto`: each is decided by whether the cluster serves an API group.
AUTO_GROUPS = {
    "prometheus_operator": "monitoring.coreos.com",  # the Prometheus Operator's CRDs
    "app_rps_metric": "custom.metrics.k8s.io",  # a custom metrics adapter (prometheus-adapter)
}


def served_api_groups() -> set[str]:
    """The API groups the cluster serves (aggregated ones included), asked through the same kubeconfig
    the Kubernetes provider uses. No reachable cluster (a unit test, a preview without credentials)
    serves nothing, and says so."""
    from kubernetes import client
    from kubernetes import config as kubeconfig

    try:
        # The path KUBECONFIG names now: the client reads its default once, at its first import, so a
        # process that switches clusters (the Automation API, a test run) would ask the old one.
        kubeconfig.load_kube_config(config_file=os.environ.get("KUBECONFIG"))  # type: ignore[no-untyped-call]
        groups = client.ApisApi().get_api_versions().groups
    except Exception as exc:
        pulumi.log.warn(f"peakops: no cluster reachable ({type(exc).__name__}): each 'auto' setting is false")
        return set()
    return {group.name for group in groups}


def decide_auto(config: StackConfig) -> StackConfig:
    if not config.undecided:
        return config
    served = served_api_groups()  # one question to the cluster, however many settings ask
    decided: dict[str, Any] = {field: AUTO_GROUPS[field] in served for field in config.undecided}
    return config.model_copy(update=decided)


def run() -> dict[str, PeakopsComponent]:
    try:
        config = read_config()
    except ConfigError as exc:
        raise pulumi.RunError(str(exc)) from None
    config = decide_auto(config)
    plan = load_plan(REPO_ROOT / config.campaign_plan)
    groups = build(config, plan)
    provider_opts = pulumi.ResourceOptions()
    components: dict[str, PeakopsComponent] = {}
    namespace = COMPONENTS["Namespace"]("peakops", groups.pop("Namespace"), provider_opts)
    after_namespace = pulumi.ResourceOptions(depends_on=[namespace])
    for kind, manifests in groups.items():
        if manifests:
            components[kind] = COMPONENTS[kind](kind.lower(), manifests, after_namespace)
    components["Namespace"] = namespace
    pulumi.export("namespace", config.namespace)
    pulumi.export("host", config.host)
    pulumi.export("objects", {kind: sorted(c.resources) for kind, c in components.items()})
    return components
