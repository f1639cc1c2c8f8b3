"""SLOs to on-call: SLO specs -> Prometheus rules, promtool fixtures and Alertmanager config; the SLI
exporter; the local alert inbox."""
