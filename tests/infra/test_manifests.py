"""The builders' objects: Kubernetes' own schemas, the edge config through real nginx, pre-scaling."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from infra.config import parse
from infra.manifests.edge import nginx_conf
from infra.manifests.prescale import FIELD_MANAGER, cron, prescale, raised_periods
from infra.render import STACKS, all_manifests
from peakops.paths import REPO_ROOT
from peakops.plan import load_plan

# The Kubernetes versions we support: the schemas kubernetes-validate ships for them, strict (unknown
# fields are errors, so a misspelt key cannot slip through as "ignored").
VERSIONS = ("1.31.0", "1.32.0", "1.33.0", "1.34.0")
CUSTOM = {"PrometheusRule", "ServiceMonitor"}  # CRDs: not in the core schemas (rules: promtool checks them)
PLAN = load_plan(REPO_ROOT / "campaigns" / "demo.yaml")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("stack", STACKS)
def test_every_manifest_validates_against_the_kubernetes_schemas(stack: str, version: str) -> None:
    manifests = all_manifests(stack)
    checked = 0
    for manifest in manifests:
        if manifest["kind"] in CUSTOM:
            continue
        kubernetes_validate.validate(manifest, version, strict=True)
        checked += 1
    assert checked >= 20


def test_the_validator_rejects_a_broken_manifest() -> None:
    deployment = next(m for m in all_manifests("dev") if m["kind"] == "Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replicaz": 3}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)


def test_the_edge_config_is_the_ansible_template_and_nginx_accepts_it(tmp_path: Path) -> None:
    in_cluster = nginx_conf()
    assert "daemon off;" in in_cluster
    assert "proxy_cache_path /var/lib/peakops-edge/cache" in in_cluster
    assert "server campaign-app:80 " in in_cluster  # the Service, resolved in the pod's own namespace
    assert "Bearer" not in in_cluster  # no purge token in a ConfigMap: purging answers 401 in the cluster
    # The same text with a local directory and origin, checked by Debian's nginx (the image's nginx).
    for directory in ("logs", "cache", "tmp"):
        (tmp_path / directory).mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        nginx_conf(edge_cache_dir=str(tmp_path), edge_cache_origin="127.0.0.1:9", edge_cache_user="root")
    )
    result = subprocess.run(
        ["/usr/sbin/nginx", "-t", "-q", "-c", str(conf), "-p", str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_overlapping_posts_share_one_raised_period() -> None:
    periods = raised_periods(PLAN, timedelta(minutes=10), timedelta(minutes=60))
    # Posts at 19:00, 19:20 and 20:30 Berlin: 18:50-20:20 and 20:20-21:30 touch, so one period.
    assert [(p.start.strftime("%H:%M"), p.end.strftime("%H:%M")) for p in periods] == [("18:50", "21:30")]
    assert periods[0].influencers == ("lena-glow", "marco-fit", "sofia-style")
    short = raised_periods(PLAN, timedelta(minutes=5), timedelta(minutes=10))
    assert len(short) == 3


def container_of(job: dict[str, Any]) -> dict[str, Any]:
    return dict(job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0])


@pytest.mark.parametrize(("year_offset", "patched"), [(0, True), (1, False), (-1, False)])
def test_a_prescale_job_patches_only_in_the_campaign_year(
    tmp_path: Path, year_offset: int, patched: bool
) -> None:
    # The job's own command, run by a real shell; `kubectl` here records its arguments (the e2e suite
    # runs the same command with the real kubectl against a real apiserver).
    config = parse({"imageTag": "1.0.0", "adminToken": "t", "databaseUrl": "postgresql://x"}, "test")
    job = next(m for m in prescale(config, PLAN) if m["kind"] == "CronJob")
    recorder = tmp_path / "kubectl"
    recorder.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {tmp_path}/args\n')
    recorder.chmod(0o755)
    env = {e["name"]: e["value"] for e in container_of(job)["env"]}
    this_year = subprocess.run(["date", "+%Y"], env={"TZ": env["TZ"]}, capture_output=True, text=True).stdout
    env["CAMPAIGN_YEAR"] = str(int(this_year) + year_offset)
    result = subprocess.run(
        container_of(job)["command"],
        env={**env, "PATH": f"{tmp_path}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    if patched:
        args = (tmp_path / "args").read_text().splitlines()
        # Under its own field manager: deployers leave the minimum to it (infra/manifests/common.py).
        manager = f"--field-manager={FIELD_MANAGER}"
        assert args == ["patch", "hpa", "campaign-app", "--type=merge", manager, "-p", env["HPA_PATCH"]]
    else:
        assert not (tmp_path / "args").exists()
        assert "nothing to do" in result.stdout


def test_prescale_cron_jobs_follow_the_plan_in_its_time_zone() -> None:
    config = parse(
        {"imageTag": "1.0.0", "adminToken": "t", "databaseUrl": "postgresql://x", "prescaleHoldMinutes": 5},
        "test",
    )
    jobs = [m for m in prescale(config, PLAN) if m["kind"] == "CronJob"]
    posts = sorted(i.post_time for i in PLAN.influencers)
    ups = [j for j in jobs if j["metadata"]["name"].startswith("prescale-up")]
    assert len(ups) == 3
    for job, post in zip(ups, posts, strict=True):
        assert job["spec"]["timeZone"] == "Europe/Berlin"
        assert job["spec"]["schedule"] == cron(
            post.astimezone(PLAN.window.start.tzinfo) - timedelta(minutes=10)
        )
        env = {e["name"]: e["value"] for e in container_of(job)["env"]}
        assert env == {
            "HPA_PATCH": '{"spec":{"minReplicas":10}}',
            "CAMPAIGN_YEAR": "2026",
            "TZ": "Europe/Berlin",
        }
    role = next(m for m in prescale(config, PLAN) if m["kind"] == "Role")
    assert role["rules"] == [
        {
            "apiGroups": ["autoscaling"],
            "resources": ["horizontalpodautoscalers"],
            "resourceNames": ["campaign-app"],
            "verbs": ["get", "patch"],
        }
    ]
