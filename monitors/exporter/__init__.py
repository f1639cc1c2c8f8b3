"""The SLI exporter: edge access logs and synthetic journeys as Prometheus metrics (`peakops-exporter`)."""
