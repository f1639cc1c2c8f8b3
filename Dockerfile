# The campaign app's image: slim, non-root, pinned base, only the app's dependency group.
# `make images` builds it here (podman, on a base image made from Debian packages: scripts/images.sh);
# anywhere else: docker build -t ghcr.io/peakops/campaign-app:$(git rev-parse --short HEAD) .
# The Kubernetes manifests (infra/, k8s/) run it read-only, as UID 10001, on port 8000; the edge's SLI
# exporter sidecar runs the same image (`peakops-exporter`).

# Pinned by exact version; pin the digest too where your registry mirror can resolve it
# (docker buildx imagetools inspect python:3.11.7-slim-bookworm). No registry here: `make images` passes
# a python base built from Debian's python3 (scripts/images.sh).
ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm
FROM ${PYTHON_IMAGE} AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/opt/peakops/.venv
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
# Dependencies first (cached while only the source changes), then the project itself.
RUN uv sync --frozen --no-default-groups --group app --no-install-project
COPY app ./app
COPY peakops ./peakops
COPY cli ./cli
COPY loadtests ./loadtests
COPY monitors ./monitors
# The wheel lists every package of the repository; the app never imports infra (tests/test_architecture.py).
COPY infra ./infra
RUN uv sync --frozen --no-default-groups --group app --no-editable

FROM ${PYTHON_IMAGE}
RUN groupadd --gid 10001 peakops && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin peakops
COPY --from=build /opt/peakops/.venv /opt/peakops/.venv
COPY app/seed /opt/peakops/seed
ENV PATH=/opt/peakops/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PEAKOPS_DATA_DIR=/var/lib/peakops \
    PEAKOPS_CATALOG=/opt/peakops/seed/demo-catalog.yaml
# The data dir is a mounted volume (emptyDir in Kubernetes): the root filesystem stays read-only.
VOLUME ["/var/lib/peakops"]
USER 10001:10001
EXPOSE 8000
STOPSIGNAL SIGTERM
ENTRYPOINT ["peakops", "app", "serve", "--host", "0.0.0.0", "--port", "8000"]
