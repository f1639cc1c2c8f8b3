"""Pre-scaling from the campaign plan: raise the app's HPA minimum before each post, lower it after.

An HPA reacts in tens of seconds, and new pods need more to become ready; an influencer's spike lands
within a minute. So CronJobs, in the plan's time zone, patch the HPA's `minReplicas` up a few minutes
before each post time and back down when its decay is over. Overlapping posts share one raised period.
The jobs run as a ServiceAccount whose Role can only get and patch that one HPA, under their own field
manager (`FIELD_MANAGER`); `pulumi up`, the Ansible role and `kubectl apply --server-side` leave the field
to them once they own it (the HPA's `peakops.dev/shared-fields` annotation), so deploying during a window
keeps the raised minimum. A new `appReplicasMin` therefore reaches a running HPA through the next
prescale-down job (whose value comes from the deployed config), not through the deploy itself.

    prescale(config, plan) -> [ServiceAccount, Role, RoleBinding, CronJob up/down per raised period]
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from infra.config import StackConfig
from infra.manifests.common import CONTAINER_SECURITY, POD_SECURITY, Manifest, justify, labels, meta
from peakops.plan import CampaignPlan
from peakops.services import APP

NAME = "prescaler"
# Built here (images/kubectl) from the kubectl of the pinned Kubernetes release (tests/e2e/build/kubernetes,
# the same release as the e2e control plane and nodes), on a Debian base with a shell and `date`.
KUBERNETES_VERSION = "v1.34.4"
KUBECTL_IMAGE = f"ghcr.io/peakops/kubectl:{KUBERNETES_VERSION}"
# The API server records who set each field. Under this name the jobs own the app HPA's minReplicas once
# they changed it; the deployers then leave that field alone (`common.SHARED_FIELDS`), so a deploy inside
# a campaign window neither resets the raised minimum nor fails on a conflict.
FIELD_MANAGER = "peakops-prescaler"


@dataclass(frozen=True)
class RaisedPeriod:
    start: datetime  # local time in the plan's zone
    end: datetime
    influencers: tuple[str, ...]


def raised_periods(plan: CampaignPlan, lead: timedelta, hold: timedelta) -> list[RaisedPeriod]:
    periods: list[RaisedPeriod] = []
    for influencer in sorted(plan.influencers, key=lambda i: i.post_time):
        post = influencer.post_time.astimezone(plan.window.start.tzinfo)
        start, end = post - lead, post + hold
        if periods and start <= periods[-1].end:
            last = periods[-1]
            periods[-1] = RaisedPeriod(last.start, max(last.end, end), (*last.influencers, influencer.slug))
        else:
            periods.append(RaisedPeriod(start, end, (influencer.slug,)))
    return periods


def cron(moment: datetime) -> str:
    # Minute, hour, day of month, month: cron has no year, so `patch_command` checks it.
    return f"{moment.minute} {moment.hour} {moment.day} {moment.month} *"


def patch_command() -> list[str]:
    """The job's command: patch the HPA with $HPA_PATCH, but only in $CAMPAIGN_YEAR (in $TZ, the plan's
    zone). A schedule fires on its date every year: left in place, the job would raise the HPA again a
    year later, and a stack deployed a year ahead would raise it a year early."""
    script = (
        'if [ "$(date +%Y)" != "$CAMPAIGN_YEAR" ]; then '
        'echo "not $CAMPAIGN_YEAR, the campaign\'s year: nothing to do"; exit 0; fi; '
        f'exec kubectl patch hpa {APP.name} --type=merge --field-manager={FIELD_MANAGER} -p "$HPA_PATCH"'
    )
    return ["/bin/sh", "-c", script]


def _cron_job(
    config: StackConfig, plan: CampaignPlan, name: str, when: datetime, replicas: int, why: str
) -> Manifest:
    patch = json.dumps({"spec": {"minReplicas": replicas}}, separators=(",", ":"))
    job: Manifest = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": meta(name, config.namespace, NAME, annotations={"peakops.dev/reason": why}),
        "spec": {
            "schedule": cron(when),
            "timeZone": plan.window.timezone,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 600,
            "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 3,
                    "activeDeadlineSeconds": 120,
                    "template": {
                        "metadata": {"labels": labels(NAME)},
                        "spec": {
                            "serviceAccountName": NAME,
                            "restartPolicy": "OnFailure",
                            "securityContext": dict(POD_SECURITY),
                            "containers": [
                                {
                                    "name": "patch-hpa",
                                    "image": KUBECTL_IMAGE,
                                    "imagePullPolicy": "IfNotPresent",
                                    "command": patch_command(),
                                    "env": [
                                        {"name": "HPA_PATCH", "value": patch},
                                        {"name": "CAMPAIGN_YEAR", "value": str(when.year)},
                                        {"name": "TZ", "value": plan.window.timezone},
                                    ],
                                    "resources": {
                                        "requests": {"cpu": "50m", "memory": "64Mi"},
                                        "limits": {"cpu": "200m", "memory": "128Mi"},
                                    },
                                    "securityContext": dict(CONTAINER_SECURITY),
                                    # kubectl's discovery cache ($HOME, /tmp in the image): the root
                                    # filesystem is read-only.
                                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108
                                }
                            ],
                            "volumes": [{"name": "tmp", "emptyDir": {}}],
                        },
                    },
                }
            },
        },
    }
    return justify(job, "CKV_K8S_43", "CKV_K8S_15", "CKV_K8S_38")


def prescale(config: StackConfig, plan: CampaignPlan) -> list[Manifest]:
    periods = raised_periods(
        plan, timedelta(minutes=config.prescale_lead_minutes), timedelta(minutes=config.prescale_hold_minutes)
    )
    manifests: list[Manifest] = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(NAME, config.namespace)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": meta(NAME, config.namespace),
            # Least privilege: this one HPA, read and patch, nothing else.
            "rules": [
                {
                    "apiGroups": ["autoscaling"],
                    "resources": ["horizontalpodautoscalers"],
                    "resourceNames": [APP.name],
                    "verbs": ["get", "patch"],
                }
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta(NAME, config.namespace),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME},
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": config.namespace}],
        },
    ]
    for index, period in enumerate(periods, start=1):
        who = ", ".join(period.influencers)
        manifests.append(
            _cron_job(
                config, plan, f"prescale-up-{index}", period.start, config.prescale_replicas, f"before {who}"
            )
        )
        manifests.append(
            _cron_job(
                config, plan, f"prescale-down-{index}", period.end, config.app_replicas[0], f"after {who}"
            )
        )
    return manifests
