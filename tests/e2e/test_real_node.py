"""The dev stack on real pods: a control plane with one real node (tests/e2e/node.py: containerd + runc,
the kubelet, a CNI bridge, kube-proxy, CoreDNS), the images `make images` built, the manifests as a user
applies them (`kubectl apply -k k8s/overlays/dev`). Every pod Ready on its real probes; the edge answers
through its Service; a checkout goes edge -> app -> PostgreSQL (reached by its Service's DNS name) and
ends in an order row.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.manifests.platform import load_generator
from infra.manifests.prescale import KUBERNETES_VERSION
from infra.render import stack_config
from peakops.paths import REPO_ROOT
from peakops.services import APP, EDGE
from tests.e2e.cluster import E2E_CACHE, Cluster, wait_for
from tests.e2e.node import KUBELET_SETTINGS, NODE_IP, NODE_NAME, read_settings

NAMESPACE = "peakops-dev"
ADMIN_TOKEN = "e2e-admin-token-0123456789"
OPERATOR_CRDS = E2E_CACHE / "crds" / "prometheus-operator"  # make e2e-env fetches them


@pytest.fixture(scope="module")
def real(real_cluster: Cluster) -> Cluster:
    return real_cluster


@pytest.fixture(scope="module")
def dev_stack(real: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Cluster:
    """`kubectl apply -k k8s/overlays/dev` with a secrets.env as a user writes it: PostgreSQL by the DNS
    name of its Service."""
    copy = tmp_path_factory.mktemp("manifests") / "k8s"
    shutil.copytree(REPO_ROOT / "k8s", copy)
    (copy / "base" / "secrets.env").write_text(
        f"PEAKOPS_DATABASE_URL=postgresql+asyncpg://shop@postgres.{NAMESPACE}.svc.cluster.local:5432/shop\n"
        f"PEAKOPS_ADMIN_TOKEN={ADMIN_TOKEN}\n"
    )
    real.kubectl("apply", "--server-side", "-f", str(OPERATOR_CRDS.resolve()))
    real.kubectl("wait", "--for=condition=Established", "crd/prometheusrules.monitoring.coreos.com")
    # The namespace first: its objects are refused until it exists.
    real.kubectl("apply", "-f", str(copy / "overlays" / "dev" / f"namespace-{NAMESPACE}.yaml"))
    real.kubectl("apply", "-k", str(copy / "overlays" / "dev"))
    return real


def pods(cluster: Cluster) -> list[dict[str, Any]]:
    return list(cluster.get("pods", "-n", NAMESPACE)["items"])


def all_ready(cluster: Cluster, expected: set[str]) -> bool:
    ready = set()
    for pod in pods(cluster):
        conditions = {c["type"]: c["status"] for c in pod["status"].get("conditions", [])}
        if conditions.get("Ready") == "True":
            ready.add(pod["metadata"]["labels"].get("app.kubernetes.io/name", ""))
    return expected <= ready


def service_url(cluster: Cluster, name: str) -> str:
    service = cluster.get("service", name, "-n", NAMESPACE)
    port = service["spec"]["ports"][0]["port"]
    return f"http://{service['spec']['clusterIP']}:{port}"


def test_the_node_is_a_real_kubelet_of_the_pinned_release(real: Cluster) -> None:
    node = real.get("node", NODE_NAME)
    assert node["status"]["nodeInfo"]["kubeletVersion"] == KUBERNETES_VERSION
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://")
    addresses = {a["type"]: a["address"] for a in node["status"]["addresses"]}
    assert addresses["InternalIP"] == NODE_IP
    assert "kwok.x-k8s.io/node" not in node["metadata"].get("annotations", {})
    # The kubelet set vm.overcommit_memory, kernel.panic and kernel.panic_on_oops at start: put back.
    host = real.host_settings
    assert read_settings(KUBELET_SETTINGS) == {k: host[k] for k in KUBELET_SETTINGS}


def test_every_pod_of_the_dev_stack_is_ready_on_its_real_probes(dev_stack: Cluster) -> None:
    expected = {APP.name, EDGE.name, "postgres"}
    wait_for("every dev pod Ready", lambda: all_ready(dev_stack, expected), timeout_s=300, interval_s=3)
    for pod in pods(dev_stack):
        if pod["status"].get("phase") != "Running":
            continue
        assert pod["spec"]["nodeName"] == NODE_NAME
        for status in pod["status"]["containerStatuses"]:
            assert status["ready"], status
            assert status["containerID"].startswith("containerd://")
    # The logs come from the kubelet, through the apiserver (verified by the run's CA both ways).
    logs = dev_stack.kubectl("logs", "-n", NAMESPACE, f"deployment/{APP.name}", "--tail=50")
    assert logs.strip()


def test_a_checkout_through_the_edge_service_ends_in_an_order_row(dev_stack: Cluster) -> None:
    wait_for("every dev pod Ready", lambda: all_ready(dev_stack, {APP.name, EDGE.name, "postgres"}), 300, 3)
    edge = service_url(dev_stack, EDGE.name)  # kube-proxy's rules route the ClusterIP from the host
    with httpx.Client(base_url=edge, timeout=15) as client:
        page = wait_for(
            "the landing page through the edge", lambda: client.get("/c/lena-glow").status_code == 200, 60
        )
        assert page
        cart = client.post("/api/carts", json={"influencer": "lena-glow"})
        assert cart.status_code == 201, cart.text
        cart_id = cart.json()["cart_id"]
        added = client.post(f"/api/carts/{cart_id}/items", json={"sku": "GLOW-SERUM", "quantity": 1})
        assert added.status_code in (200, 201), added.text
        key = f"real-node-{uuid.uuid4()}"
        order = client.post(
            "/api/checkout",
            json={"cart_id": cart_id, "email": "fan@example.com"},
            headers={"Idempotency-Key": key},
        )
    assert order.status_code == 201, order.text
    order_id = order.json()["order_id"]
    row = dev_stack.kubectl(
        "exec", "-i", "-n", NAMESPACE, "statefulset/postgres", "--",
        "psql", "-U", "shop", "-d", "shop", "-At", "-v", f"id={order_id}",
        stdin="select count(*) from orders where id = :'id';\n",
    )  # fmt: skip
    assert row.strip() == "1"


def test_pods_reach_each_other_by_service_name(dev_stack: Cluster) -> None:
    """CoreDNS answers the pods' queries: from the edge pod, the app's Service by its short name."""
    wait_for("every dev pod Ready", lambda: all_ready(dev_stack, {APP.name, EDGE.name, "postgres"}), 300, 3)
    port = dev_stack.get("service", APP.name, "-n", NAMESPACE)["spec"]["ports"][0]["port"]
    code = (
        "import urllib.request as u;"
        f"r = u.urlopen('http://{APP.name}:{port}{APP.readiness.path}', timeout=5); print(r.status)"
    )
    answer = dev_stack.kubectl(
        "exec", "-n", NAMESPACE, f"deployment/{EDGE.name}", "-c", "sli-exporter", "--", "python3", "-c", code
    )
    assert answer.strip() == "200"


# The test stack's only change to the HPA: scale-down after 30 s of lower recommendations instead of the
# manifests' 300 s (and whole steps), so the way back down fits in a test. Scale-up is the manifests'.
SHORT_SCALE_DOWN = {
    "spec": {
        "behavior": {
            "scaleDown": {
                "stabilizationWindowSeconds": 30,
                "selectPolicy": "Max",
                "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
            }
        }
    }
}
SPIKE_SECONDS = 150
ARTIFACTS = REPO_ROOT / "artifacts" / "e2e"


def job_state(cluster: Cluster, name: str) -> str:
    """ "Complete", "Failed" or "" (still running), from the Job's conditions."""
    conditions = cluster.get("job", name, "-n", NAMESPACE)["status"].get("conditions", [])
    return next(
        (c["type"] for c in conditions if c["type"] in ("Complete", "Failed") and c["status"] == "True"), ""
    )


def test_the_load_generator_plays_the_plan_in_the_cluster_and_its_orders_are_stored(
    dev_stack: Cluster,
) -> None:
    """The LoadGenerator component's objects (a Locust master Job, a worker Job, the master's Service), as
    the program renders them with the load generator on, against the edge's Service by DNS name. The
    master's exit is the run's verdict; the orders it counted are the orders PostgreSQL gained (beside
    the synthetic ones the edge's exporter places as its checkout probe)."""
    wait_for("every dev pod Ready", lambda: all_ready(dev_stack, {APP.name, EDGE.name, "postgres"}), 300, 3)
    config = stack_config("dev").model_copy(
        update={
            "load_generator": True,
            "load_generator_workers": 1,
            "load_generator_options": ["--test-seconds", "60s", "--peak-arrivals", "8"],
        }
    )
    objects = load_generator(config)
    for job in (o for o in objects if o["kind"] == "Job"):
        # Test stack only: a 2-CPU node already runs the dev stack, so the pods request less than the
        # dedicated core each a real run asks for (their limit stays 1 CPU).
        job["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "100m"
    before = int(psql(dev_stack, "select count(*) from orders where not synthetic;\n").strip())
    dev_stack.apply(objects)
    try:
        state = wait_for("the master Job finished", lambda: job_state(dev_stack, "locust-master"), 420, 5)
        log = dev_stack.kubectl("logs", "-n", NAMESPACE, "job/locust-master", "--timestamps", check=False)
        assert state == "Complete", log[-4000:]
        wait_for("the worker Job finished", lambda: job_state(dev_stack, "locust-worker"), 120, 3)
        assert job_state(dev_stack, "locust-worker") == "Complete"
        line = next(x for x in log.splitlines() if "peakops summary: " in x)
        summary = json.loads(line.split("peakops summary: ", 1)[1])
        after = int(psql(dev_stack, "select count(*) from orders where not synthetic;\n").strip())
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "load-generator-in-cluster.json").write_text(json.dumps(summary, indent=1))
        workers = dev_stack.kubectl("logs", "-n", NAMESPACE, "job/locust-worker", "--timestamps", check=False)
        times = psql(dev_stack, "select created_at, synthetic from orders order by created_at;\n")
        (ARTIFACTS / "load-generator-in-cluster.log").write_text(
            f"== master\n{log}\n== worker\n{workers}\n== orders created\n{times}"
        )
        assert summary["arrivals"]["started"] > 0, summary
        assert summary["checkout"].get("order", 0) > 0, summary
        assert after - before == summary["checkout"]["order"], (before, after, summary["checkout"])
    finally:
        dev_stack.kubectl(
            "delete", "-n", NAMESPACE, "--wait=true", "--ignore-not-found",
            "job/locust-master", "job/locust-worker", "service/locust-master", check=False,
        )  # fmt: skip


def hpa_sample(cluster: Cluster, started: float) -> dict[str, Any]:
    hpa = cluster.get("hpa", APP.name, "-n", NAMESPACE)
    deployment = cluster.get("deployment", APP.name, "-n", NAMESPACE)
    utilisation = None
    for metric in hpa["status"].get("currentMetrics") or []:
        if metric.get("type") == "Resource":
            utilisation = metric["resource"]["current"].get("averageUtilization")
    return {
        "t": round(time.monotonic() - started, 1),
        "replicas": deployment["spec"]["replicas"],
        "ready": deployment["status"].get("readyReplicas", 0),
        "cpu_utilisation": utilisation,
    }


def plot(samples: list[dict[str, Any]], seconds: list[dict[str, str]], offset: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (top, middle, bottom) = plt.subplots(3, 1, sharex=True, figsize=(9, 8))
    t = [s["t"] for s in samples]
    top.step(t, [s["replicas"] for s in samples], where="post", label="replicas (HPA)")
    top.step(t, [s["ready"] for s in samples], where="post", label="ready")
    top.set_ylabel("app pods")
    top.legend()
    x = [offset + int(r["second"]) for r in seconds]
    middle.plot(x, [float(r["started_arrivals"] or 0) for r in seconds], label="arrivals/s (achieved)")
    middle.plot(t, [s["cpu_utilisation"] or 0 for s in samples], label="CPU % of request (HPA)")
    middle.axhline(60, linestyle=":", color="grey", label="HPA target 60%")
    middle.legend()
    bottom.plot(x, [float(r["p95_ms"] or 0) for r in seconds], label="p95 ms")
    bottom.set_ylabel("ms")
    bottom.set_xlabel("seconds since the spike began")
    bottom.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)


def test_the_hpa_scales_the_app_on_real_cpu_under_a_locust_spike(dev_stack: Cluster, tmp_path: Path) -> None:
    """Locust (the project's load test, from the host through the edge's Service) drives a spike; the HPA
    reads the app's measured CPU (kubelet -> metrics-server) and scales up, then back down after."""
    wait_for("every dev pod Ready", lambda: all_ready(dev_stack, {APP.name, EDGE.name, "postgres"}), 300, 3)
    dev_stack.kubectl(
        "patch", "hpa", APP.name, "-n", NAMESPACE, "--type=merge", "-p", json.dumps(SHORT_SCALE_DOWN)
    )
    wait_for(
        "the app's CPU measured", lambda: hpa_sample(dev_stack, 0)["cpu_utilisation"] is not None, 120, 5
    )
    low = int(dev_stack.get("hpa", APP.name, "-n", NAMESPACE)["spec"]["minReplicas"])
    report = tmp_path / "loadtest"
    command = [
        str(REPO_ROOT / ".venv" / "bin" / "peakops"), "loadtest", "--host", service_url(dev_stack, EDGE.name),
        "--shape", "spike", "--duration", str(SPIKE_SECONDS), "--peak-arrivals", "400",
        "--baseline-arrivals", "40", "--report-dir", str(report),
    ]  # fmt: skip
    samples: list[dict[str, Any]] = []
    started = time.monotonic()
    with subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    ) as locust:
        try:
            while locust.poll() is None and time.monotonic() - started < SPIKE_SECONDS + 120:
                samples.append(hpa_sample(dev_stack, started))
                time.sleep(5)
        finally:
            if locust.poll() is None:
                locust.kill()
        errors = locust.stderr.read().decode()[-2000:] if locust.stderr else ""
    load_ended = time.monotonic() - started
    # Back down once the load is gone: 30 s window, then whole steps.
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        samples.append(hpa_sample(dev_stack, started))
        if samples[-1]["replicas"] == low:
            break
        time.sleep(5)
    seconds_csv = report / "seconds.csv"
    seconds = list(csv.DictReader(seconds_csv.open())) if seconds_csv.exists() else []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "hpa-real-cpu.json").write_text(
        json.dumps({"load_ended_s": load_ended, "samples": samples}, indent=1)
    )
    plot(samples, seconds, 0.0, ARTIFACTS / "hpa-real-cpu.png")
    peak = max(s["replicas"] for s in samples)
    assert peak > low, f"the HPA never scaled up: {samples}\n{errors}"
    assert samples[-1]["replicas"] == low, f"not back to {low} within 300 s of the load's end: {samples[-5:]}"
    assert seconds, f"Locust wrote no per-second report: {errors}"


def runtime_socket(cluster: Cluster) -> Path:
    """The real node's containerd socket (tests/e2e/node.py lays it out beside the kubeconfig)."""
    return cluster.kubeconfig.parent / "node" / "containerd" / "containerd.sock"


def app_pods(cluster: Cluster) -> list[dict[str, Any]]:
    selector = f"app.kubernetes.io/name={APP.name}"
    return [
        p
        for p in cluster.get("pods", "-n", NAMESPACE, "-l", selector)["items"]
        if not p["metadata"].get("deletionTimestamp")
    ]


def ready_app_pods(cluster: Cluster) -> int:
    return sum(
        1
        for p in app_pods(cluster)
        if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
    )


def journeys(edge: str, stop_at: float, limit: int) -> list[tuple[str, int, str]]:
    """Bounded shopper journeys (cart, item, checkout) until `stop_at`: (step, status, order id)."""
    outcomes: list[tuple[str, int, str]] = []
    with httpx.Client(base_url=edge, timeout=10) as client:
        for index in range(limit):
            if time.monotonic() > stop_at:
                break
            try:
                cart = client.post("/api/carts", json={"influencer": "lena-glow"})
                if cart.status_code != 201:
                    outcomes.append(("cart", cart.status_code, ""))
                    continue
                cart_id = cart.json()["cart_id"]
                item = client.post(f"/api/carts/{cart_id}/items", json={"sku": "GLOW-SERUM", "quantity": 1})
                if item.status_code not in (200, 201):
                    outcomes.append(("item", item.status_code, ""))
                    continue
                order = client.post(
                    "/api/checkout",
                    json={"cart_id": cart_id, "email": f"fan{index}@example.com"},
                    headers={"Idempotency-Key": f"kill-{uuid.uuid4()}"},
                )
                body = (
                    order.json()
                    if order.headers.get("content-type", "").startswith("application/json")
                    else {}
                )
                outcomes.append(("checkout", order.status_code, str(body.get("order_id", ""))))
            except httpx.HTTPError as exc:
                outcomes.append(("transport", 0, type(exc).__name__))
    return outcomes


def psql(cluster: Cluster, sql: str, **variables: str) -> str:
    flags = [f"--set={k}={v}" for k, v in variables.items()]
    return cluster.kubectl(
        "exec", "-i", "-n", NAMESPACE, "statefulset/postgres", "--",
        "psql", "-U", "shop", "-d", "shop", "-At", *flags, stdin=sql,
    )  # fmt: skip


def test_app_pods_deleted_and_killed_under_load_lose_no_order(dev_stack: Cluster) -> None:
    """Two app pods; shoppers check out through the edge while one pod is deleted (graceful) and, once
    its replacement is Ready, another's container is SIGKILLed on the node. Every acknowledged order is
    in PostgreSQL, nothing is oversold; the failed requests are counted and stated (artifacts/e2e)."""
    import threading

    wait_for("every dev pod Ready", lambda: all_ready(dev_stack, {APP.name, EDGE.name, "postgres"}), 300, 3)
    dev_stack.kubectl(
        "patch", "hpa", APP.name, "-n", NAMESPACE, "--type=merge", "-p", '{"spec":{"minReplicas":2}}'
    )
    wait_for("two app pods Ready", lambda: ready_app_pods(dev_stack) >= 2, 180, 3)
    edge = service_url(dev_stack, EDGE.name)
    results: list[tuple[str, int, str]] = []
    stop_at = time.monotonic() + 90
    worker = threading.Thread(target=lambda: results.extend(journeys(edge, stop_at, 5000)))
    worker.start()
    try:
        time.sleep(10)
        victim = app_pods(dev_stack)[0]["metadata"]["name"]
        dev_stack.kubectl("delete", "pod", victim, "-n", NAMESPACE, "--wait=false")
        wait_for("the replacement Ready", lambda: ready_app_pods(dev_stack) >= 2, 120, 2)
        time.sleep(5)
        # SIGKILL the app process of one pod, as the OOM killer would: the kubelet restarts the container.
        pod = app_pods(dev_stack)[0]
        container_id = pod["status"]["containerStatuses"][0]["containerID"].split("//", 1)[1]
        restarts = pod["status"]["containerStatuses"][0]["restartCount"]
        ctr = ["ctr", f"--address={runtime_socket(dev_stack)}", "--namespace=k8s.io"]
        killed = subprocess.run(
            [*ctr, "tasks", "kill", "--signal=SIGKILL", container_id], capture_output=True, text=True
        )
        assert killed.returncode == 0, killed.stderr
        name = pod["metadata"]["name"]
        wait_for(
            "the killed container restarted",
            lambda: (
                dev_stack.get("pod", name, "-n", NAMESPACE)["status"]["containerStatuses"][0]["restartCount"]
                > restarts
            ),
            120,
            2,
        )
    finally:
        worker.join(timeout=120)
    checkouts = [r for r in results if r[0] == "checkout"]
    acknowledged = [order_id for _, status, order_id in checkouts if status == 201]
    failed = [r for r in results if r[1] == 0 or r[1] >= 500]
    figures = {
        "journeys": len(results),
        "acknowledged_orders": len(acknowledged),
        "sold_out": sum(1 for r in checkouts if r[1] == 409),
        "failed_requests": len(failed),
        "failed_by_kind": sorted({f"{step} {status} {detail}" for step, status, detail in failed}),
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "pod-kill.json").write_text(json.dumps(figures, indent=1))
    assert acknowledged, figures
    stored = psql(dev_stack, "select id from orders;\n").split()
    lost = set(acknowledged) - set(stored)
    assert not lost, f"acknowledged but not stored: {lost}"
    assert psql(dev_stack, "select count(*) from products where stock < 0;\n").strip() == "0"
    # Bounded: a deleted pod drains gracefully; a killed one fails what it was serving until its
    # readiness probe (2 s x 2) takes it out of the Service.
    assert len(failed) <= max(10, len(results) // 10), figures


def test_the_pdb_keeps_an_app_pod_in_service_through_a_drain(dev_stack: Cluster) -> None:
    """Two app pods on the one node; `kubectl drain` evicts through the Eviction API, which the PDB
    (maxUnavailable 1) answers: the first eviction is allowed, the second refused while the first one's
    replacement cannot be scheduled on the cordoned node. The drain gives up at its timeout."""
    wait_for("every dev pod Ready", lambda: all_ready(dev_stack, {APP.name, EDGE.name, "postgres"}), 300, 3)
    dev_stack.kubectl(
        "patch", "hpa", APP.name, "-n", NAMESPACE, "--type=merge", "-p", '{"spec":{"minReplicas":2}}'
    )
    wait_for("two app pods Ready", lambda: ready_app_pods(dev_stack) >= 2, 180, 3)
    pdb = f"poddisruptionbudget/{APP.name}"
    wait_for(
        "the PDB allowing one disruption",
        lambda: dev_stack.get(pdb, "-n", NAMESPACE)["status"].get("disruptionsAllowed") == 1,
        60,
        2,
    )
    before = {p["metadata"]["name"] for p in app_pods(dev_stack)}
    try:
        output = dev_stack.kubectl(
            "drain", NODE_NAME, f"--pod-selector=app.kubernetes.io/name={APP.name}",
            "--delete-emptydir-data", "--timeout=45s", check=False,
        )  # fmt: skip
        pods_now = app_pods(dev_stack)
        running = {
            p["metadata"]["name"]
            for p in pods_now
            if p["metadata"]["name"] in before and p["status"]["phase"] == "Running"
        }
        pending = [p["metadata"]["name"] for p in pods_now if p["status"]["phase"] == "Pending"]
        assert "disruption budget" in output, output
        assert len(running) == 1, f"one of {sorted(before)} must still serve: {sorted(running)}\n{output}"
        assert ready_app_pods(dev_stack) == 1, output
        assert pending, f"the evicted pod's replacement has nowhere to go on a cordoned node: {pods_now}"
    finally:
        dev_stack.kubectl("uncordon", NODE_NAME)
    wait_for("two app pods Ready after the uncordon", lambda: ready_app_pods(dev_stack) >= 2, 180, 3)
