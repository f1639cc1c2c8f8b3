"""The rehearsal's report: summary.json (every figure, with what it counts), summary.md (to paste into a
ticket) and report.html (self-contained: inline SVG plots, no script, no external resource).

Per scenario the HTML plots planned vs achieved arrivals, latency percentiles, the error ratio and burn
rates queried from Prometheus, the cache hit ratio of the cached routes, the app instances in service,
and the alert timeline with the fault window shaded and each expected alert's bound drawn.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment

from loadtests.report import svg

HTML = Environment(autoescape=True).from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>peakops rehearsal: {{ s.campaign }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 1000px; }
table { border-collapse: collapse; margin: 0.5em 0; } td, th { border: 1px solid #ccc; padding: 2px 8px; }
.go { color: #1b5e20; } .no-go { color: #b00020; } .invalid { color: #e65100; }
li.bad { color: #b00020; } figure { margin: 0.5em 0; } figcaption { font-weight: bold; }
</style></head><body>
<h1>Rehearsal of {{ s.campaign }}: <span class="{{ s.verdict }}">{{ s.verdict | upper }}</span></h1>
<p>Plan {{ s.plan }}; {{ s.scenarios | length }} scenarios of {{ s.traffic_seconds }} s of traffic at
{{ s.peak_arrivals }} arrivals in the busiest second; {{ s.elapsed_seconds }} s in all.
Time scale {{ s.time_scale }}: {{ s.time_scale_note }}.</p>
<table><tr><th>scenario</th><th>verdict</th><th>orders acknowledged / in the database / counted by
Prometheus</th><th>pages</th></tr>
{% for sc in s.scenarios %}<tr><td><a href="#{{ sc.name }}">{{ sc.name }}</a></td>
<td class="{{ sc.verdict }}">{{ sc.verdict }}</td>
<td>{{ sc.accounting.acknowledged }} / {{ sc.accounting.stored }} / {{ sc.accounting.prometheus_orders }}</td>
<td>{{ sc.alerts | selectattr("page") | map(attribute="name") | join(", ") or "none" }}</td></tr>
{% endfor %}</table>
{% for sc in s.scenarios %}
<h2 id="{{ sc.name }}">{{ sc.name }}: <span class="{{ sc.verdict }}">{{ sc.verdict }}</span></h2>
<p>{{ sc.description }}</p>
<ul>{% for line in sc.lines %}<li class="{{ '' if line.ok else 'bad' }}">{{ 'ok' if line.ok else 'FAILED' }}:
{{ line.text }}</li>{% endfor %}</ul>
{% if sc.timeline %}<p>Timeline: {% for t in sc.timeline %}{{ t.at_s }} s {{ t.event }}
{{- "; " if not loop.last }}{% endfor %}</p>{% endif %}
{% set f = sc.load_test.funnel or {} %}{% set ratio = sc.load_test.cache_hit_ratio %}
<p>Funnel (visitors reaching each step): landing {{ f.landing }} &rarr; browse {{ f.browse }} &rarr; cart
{{ f.cart }} &rarr; checkout {{ f.checkout }}; returning {{ f.returning }} &rarr; checkout
{{ f.returning_checkout }}. Checkout attempts {{ f.checkout_attempts }} by outcome:
{{ sc.load_test.checkout }}. Cache hit ratio of the cached routes:
{{ '%.0f%%' % (100 * ratio) if ratio is not none else 'n/a' }}.</p>
<p>Busiest second: {{ '%.1f' % sc.peak.planned_per_second }} arrivals planned (the plan's model, scaled),
{{ sc.peak.started_per_second }} started.</p>
{% for title, plot in plots[sc.name] %}
<figure><figcaption>{{ title }}</figcaption>{{ plot | safe }}</figure>
{% endfor %}
<p>Load test report: {{ sc.load_test_report }}</p>
{% endfor %}
{% if s.capacity %}{% set c = s.capacity %}
<h2 id="capacity">Capacity: {{ c.knee_per_second if c.knee_per_second is not none else "no" }} arrivals/s per
instance</h2>
<p>Step load on one app instance ({{ c.instance }}), bars of the {{ c.journey }} journey: p95 &le;
{{ c.limits.p95_ms }} ms, errors &le; {{ '%.1f%%' % (100 * c.limits.max_error_ratio) }}.
{{ c.knee_reason }}.</p>
<table><tr><th>planned/s</th><th>started/s</th><th>p95 ms</th><th>errors</th><th>requests</th>
<th>within</th></tr>
{% for st in c.steps %}<tr><td>{{ '%.1f' % st.planned_per_second }}</td>
<td>{{ '%.1f' % st.started_per_second }}</td><td>{{ '%.0f' % st.p95_ms }}</td>
<td>{{ '%.2f%%' % (100 * st.error_ratio) }}</td><td>{{ st.requests }}</td>
<td>{{ 'yes' if st.within_bars else ('generator short' if not st.valid else 'no') }}</td></tr>
{% endfor %}</table>
{% if capacity_plot %}<figure><figcaption>Step load: p95 and errors per step, with the bars</figcaption>
{{ capacity_plot | safe }}</figure>{% endif %}
<table><tr><th>post</th><th>at</th><th>predicted arrivals/s at its peak</th><th>replicas at
{{ '%.0f%%' % (100 * c.headroom) }} headroom</th></tr>
{% for post in c.posts %}<tr><td>{{ post.influencer }}</td><td>{{ post.post_time }}</td>
<td>{{ post.predicted_per_second }}</td><td>{{ post.replicas }}</td></tr>{% endfor %}</table>
<p>Stack config (`--write-config STACK` writes it into Pulumi.&lt;stack&gt;.yaml): {{ c.stack_config }}</p>
{% endif %}
</body></html>
""")


def _series(result: list[dict[str, Any]], start: float) -> list[tuple[str, list[float], list[float]]]:
    """Prometheus range results -> (label, seconds from start, values)."""
    out = []
    for item in result:
        metric = item.get("metric", {})
        label = metric.get("sloth_slo") or metric.get("sloth_id") or ",".join(f"{v}" for v in metric.values())
        xs = [float(t) - start for t, _ in item.get("values", [])]
        ys = [
            float(v) if v not in ("NaN", "+Inf", "-Inf") else float("nan") for _, v in item.get("values", [])
        ]
        out.append((label or "all", xs, ys))
    return out


def scenario_plots(sc: dict[str, Any]) -> list[tuple[str, str]]:
    rows = sc["per_second"]
    x = [r["second"] for r in rows]
    start = sc["started_at"]
    window = sc["fault_window_s"]

    def shade(ax: Any) -> None:
        if window:
            ax.axvspan(window[0], window[1], color="#ffcdd2", alpha=0.5, label="fault")

    def arrivals(ax: Any) -> None:
        shade(ax)
        ax.plot(x, [r["planned_arrivals"] for r in rows], label="planned")
        ax.plot(x, [r["started_arrivals"] for r in rows], label="achieved (journeys started)")
        ax.set_ylabel("arrivals / s")

    def latency(ax: Any) -> None:
        shade(ax)
        for key in ("p50_ms", "p95_ms", "p99_ms"):
            ax.plot(x, [r[key] for r in rows], label=key.replace("_ms", ""))
        ax.set_ylabel("ms")

    def errors(ax: Any) -> None:
        shade(ax)
        for _label, xs, ys in _series(sc["prometheus"]["error_ratio"], start):
            ax.plot(xs, ys, label="5xx ratio (Prometheus)", color="#b00020")
        for label, xs, ys in _series(sc["prometheus"]["burn_rate"], start):
            ax.plot(xs, ys, label=f"burn rate {label}", linewidth=0.8)
        ax.set_yscale("symlog", linthresh=1)
        ax.set_ylabel("ratio / burn rate")

    def cache(ax: Any) -> None:
        shade(ax)
        values = [r["cache_hit_ratio"] for r in rows]
        ax.plot(x, [v if v is not None else float("nan") for v in values], label="hit ratio, cached routes")
        ax.set_ylim(0, 1.05)

    def instances(ax: Any) -> None:
        shade(ax)
        for _label, xs, ys in _series(sc["prometheus"]["instances"], start):
            ax.step(xs, ys, where="post", label="app instances up (Prometheus)")
        ax.set_ylabel("instances")

    def alerts(ax: Any) -> None:
        shade(ax)
        names = sorted({a["name"] for a in sc["alerts"]} | {b["alert"] for b in sc["expect"]["fire"]})
        for row, name in enumerate(names):
            for a in sc["alerts"]:
                if a["name"] == name and a["fired_s"] is not None:
                    end = a["resolved_s"] if a["resolved_s"] is not None else sc["seconds"]
                    color = "#b00020" if a["page"] else "#f9a825"
                    ax.plot([a["fired_s"], end], [row, row], linewidth=6, color=color, solid_capstyle="butt")
            for bound in sc["expect"]["fire"]:
                if bound["alert"] == name and window:
                    ax.plot([window[0] + bound["within_seconds"]] * 2, [row - 0.4, row + 0.4], color="black")
        ax.set_yticks(range(len(names)), names, fontsize="small")
        ax.set_ylim(-1, max(1, len(names)))
        ax.set_xlim(0, sc["seconds"])
        ax.plot([], [], color="#b00020", linewidth=6, label="page firing")
        ax.plot([], [], color="#f9a825", linewidth=6, label="ticket firing")
        ax.plot([], [], color="black", label="expected bound")

    xlabel = "second of the scenario"
    return [
        ("Planned vs achieved arrivals", svg(arrivals, xlabel)),
        ("Latency percentiles (load generator)", svg(latency, xlabel)),
        ("Error ratio and burn rates (Prometheus)", svg(errors, xlabel)),
        ("Edge cache hit ratio of the cached routes", svg(cache, xlabel)),
        ("App instances in service", svg(instances, xlabel)),
        ("Alerts (inbox) with the fault window and the expected bounds", svg(alerts, xlabel)),
    ]


def capacity_plot(c: dict[str, Any]) -> str:
    rates = [st["planned_per_second"] for st in c["steps"]]

    def draw(ax: Any) -> None:
        ax.plot(rates, [st["p95_ms"] for st in c["steps"]], marker="o", label="p95 ms")
        ax.axhline(c["limits"]["p95_ms"], color="#b00020", linestyle="--", label="p95 bar")
        errors = ax.twinx()
        errors.plot(rates, [100 * st["error_ratio"] for st in c["steps"]], marker="s", color="#f9a825")
        errors.set_ylabel("errors %")
        if c["knee_per_second"] is not None:
            ax.axvline(c["knee_per_second"], color="black", label="knee")
        ax.set_ylabel("p95 ms")

    return svg(draw, "arrivals per second on one instance")


def markdown(s: dict[str, Any]) -> str:
    lines = [
        f"## Rehearsal of {s['campaign']}: **{s['verdict'].upper()}**",
        "",
        f"Plan `{s['plan']}`, time scale {s['time_scale']:g} ({s['time_scale_note']}).",
        "",
        "| scenario | verdict | orders ack / db / prometheus | pages |",
        "|---|---|---|---|",
    ]
    for sc in s["scenarios"]:
        books = sc["accounting"]
        pages = ", ".join(a["name"] for a in sc["alerts"] if a["page"]) or "none"
        lines.append(
            f"| {sc['name']} | {sc['verdict']} | {books['acknowledged']} / {books['stored']} / "
            f"{books['prometheus_orders']} | {pages} |"
        )
    for sc in s["scenarios"]:
        lines += ["", f"### {sc['name']}: {sc['verdict']}"]
        lines += [f"- {'ok' if line['ok'] else 'FAILED'}: {line['text']}" for line in sc["lines"]]
    c = s.get("capacity")
    if c:
        lines += [
            "",
            f"### Capacity: knee {c['knee_per_second']} arrivals/s per instance ({c['knee_reason']})",
        ]
        lines += [
            f"- {post['influencer']} at {post['post_time']}: {post['predicted_per_second']}/s predicted, "
            f"{post['replicas']} replicas"
            for post in c["posts"]
        ]
        lines.append(f"- stack config: {c['stack_config']}")
    return "\n".join(lines) + "\n"


def write(directory: Path, summary: dict[str, Any]) -> list[Path]:
    """summary.json, summary.md and report.html in `directory`; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / "summary.json", directory / "summary.md", directory / "report.html"]
    paths[0].write_text(json.dumps(summary, indent=1, default=str))
    paths[1].write_text(markdown(summary))
    plots = {sc["name"]: scenario_plots(sc) for sc in summary["scenarios"]}
    capacity = summary.get("capacity")
    chart = capacity_plot(capacity) if capacity and capacity["steps"] else ""
    paths[2].write_text(HTML.render(s=summary, plots=plots, capacity_plot=chart))
    return paths
