"""`ansible-playbook site.yml` over SSH on the fleet: every role converges under systemd, a second run
changes nothing, every unit is active, and each host serves what its role says (the edge its cache
config, not Debian's default site)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.fleet.conftest import SITE, changed_tasks, recap
from tests.fleet.fleet import Fleet, fleet_vars

# The units each group's roles run (role peakops_service names them peakops-<program>).
UNITS = {
    "all": ["peakops-node-exporter"],
    "app": ["peakops-campaign-app-8000"],
    "load_balancer": ["peakops-haproxy", "peakops-keepalived"],
    "edge": ["peakops-edge", "peakops-exporter"],
    "monitoring": ["peakops-prometheus", "peakops-alertmanager"],
    "database": ["postgresql@15-main"],
}
# What Debian's packages started for the same programs: masked, so they hold no port.
REPLACED = {"edge": ["nginx"], "load_balancer": ["haproxy", "keepalived"], "monitoring": ["prometheus"]}


def test_site_converges_every_host_under_systemd(hosts: Fleet, converged: dict[str, Any]) -> None:
    assert set(converged["recap"]) == {h.name for h in hosts.hosts}, converged["output"][-3000:]
    for host, counts in converged["recap"].items():
        assert counts["failed"] == counts["unreachable"] == 0, (host, counts)
    print(f"first converge: {converged['seconds']:.0f} s")


def test_a_second_run_changes_nothing(hosts: Fleet, converged: dict[str, Any]) -> None:
    started = time.monotonic()
    second = hosts.ansible_playbook(SITE)
    output = second.stdout + second.stderr
    assert second.returncode == 0, output[-6000:]
    counts = recap(second.stdout)
    assert all(c["changed"] == 0 for c in counts.values()), "\n".join(changed_tasks(second.stdout))
    print(f"second converge: {time.monotonic() - started:.0f} s")


def test_every_unit_is_active_and_the_packages_own_are_masked(
    hosts: Fleet, converged: dict[str, Any]
) -> None:
    for host in hosts.hosts:
        expected = [u for group in ("all", *host.groups) for u in UNITS.get(group, [])]
        states = hosts.ssh(host.name, "systemctl is-active " + " ".join(expected), check=False).stdout.split()
        assert states == ["active"] * len(expected), (host.name, dict(zip(expected, states, strict=False)))
        replaced = [u for group in host.groups for u in REPLACED.get(group, [])]
        if replaced:
            masked = hosts.ssh(
                host.name, "systemctl is-enabled " + " ".join(replaced), check=False
            ).stdout.split()
            assert masked == ["masked"] * len(replaced), (
                host.name,
                dict(zip(replaced, masked, strict=False)),
            )


def test_each_edge_serves_the_shop_from_its_cache(hosts: Fleet, converged: dict[str, Any]) -> None:
    """Under systemd the edge once started Debian's nginx.service (/etc/nginx: the default page)."""
    for edge in hosts.in_group("edge"):
        url = f"http://{edge.address}/c/lena-glow?utm_source=instagram&promo=LENA10"
        first = httpx.get(url, timeout=10)
        second = httpx.get(url, timeout=10)
        assert first.status_code == 200, (edge.name, first.status_code, first.text[:300])
        assert "Welcome to nginx" not in first.text
        # Warmed by the converge (edge_cache_warm_paths): a hit from the first request on.
        assert second.headers.get("X-Cache") == "HIT", (edge.name, dict(second.headers))


def test_the_vip_is_on_exactly_one_balancer(hosts: Fleet, converged: dict[str, Any]) -> None:
    vip = fleet_vars()["peakops_lb_vip"]
    holders = [
        lb.name
        for lb in hosts.in_group("load_balancer")
        if vip in hosts.ssh(lb.name, "ip -4 -o addr show").stdout
    ]
    assert len(holders) == 1, holders
    assert httpx.get(f"http://{vip}/readyz", timeout=5).status_code == 200


def test_the_app_hosts_use_the_database_host(hosts: Fleet, converged: dict[str, Any]) -> None:
    db = hosts.in_group("database")[0]
    query = "select count(distinct client_addr) from pg_stat_activity where datname = 'shop'"
    found = hosts.ssh(db.name, f'runuser -u postgres -- psql -At -c "{query}"').stdout.strip()
    assert int(found) >= 1, found
