#!/usr/bin/env bash
# `make images`: every image the manifests name (`peakops k8s images`), built with podman from the repo's
# Dockerfiles, on base images made here from Debian packages with mmdebstrap: no registry is reached.
# Everything lives under ~/.cache/peakops/images (PEAKOPS_CACHE moves it): podman's storage (so layers
# are cached between runs), the base tarballs, build-times.log. Nothing in /etc is changed.
#
#   scripts/images.sh              build what is missing or changed (podman's layer cache decides)
#   scripts/images.sh --list       the references it builds
#
# Environment for other podman commands on the same storage: source "$(scripts/images.sh --env)".
set -euo pipefail
shopt -s inherit_errexit  # a failure inside $(...) stops the script too
cd "$(dirname "$0")/.."
repo=$PWD
cache="${PEAKOPS_CACHE:-$HOME/.cache/peakops}/images"
mkdir -p "$cache"

# --- podman's configuration, here rather than in /etc -----------------------------------------------
cat > "$cache/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$cache/storage"
runroot = "$cache/runroot"
EOF
# Root here lacks CAP_SYS_RESOURCE: podman's default ulimits (nofile 1048576) make runc fail with EPERM.
cat > "$cache/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
cat > "$cache/env.sh" <<EOF
export CONTAINERS_STORAGE_CONF=$cache/storage.conf CONTAINERS_CONF=$cache/containers.conf
EOF
if [ "${1:-}" = --env ]; then echo "$cache/env.sh"; exit 0; fi
# shellcheck source=/dev/null
. "$cache/env.sh"

list=$(.venv/bin/peakops k8s images)
if [ "${1:-}" = --list ]; then cut -f1 <<<"$list"; exit 0; fi

# --- tools (Debian packages): the builds', and the e2e suite's real node (tests/e2e/node.py) -----------
packages=(mmdebstrap podman buildah netavark aardvark-dns catatonit uidmap fuse-overlayfs slirp4netns
          containerd runc containernetworking-plugins iptables gcc libc6-dev openssh-client)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "images: needs the Debian packages ${missing[*]}: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "images: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

log() { echo "$(date -u +%FT%TZ) $*" >> "$cache/build-times.log"; }

# --- base images from Debian packages -------------------------------------------------------------------
# The machine's own Debian sources (the only mirror reachable here), as apt is configured.
mapfile -t sources < <(python3 - <<'EOF'
import glob, re
for path in glob.glob("/etc/apt/sources.list.d/*.sources"):
    for block in open(path).read().split("\n\n"):
        uris = re.search(r"^URIs:\s*(\S+)", block, re.M)
        suites = re.search(r"^Suites:\s*(.+)$", block, re.M)
        if uris and suites:
            for suite in suites.group(1).split():
                print(f"deb {uris.group(1)} {suite} main")
for path in ["/etc/apt/sources.list", *glob.glob("/etc/apt/sources.list.d/*.list")]:
    try:
        print(*(line.strip() for line in open(path) if line.startswith("deb ")), sep="\n")
    except OSError:
        pass
EOF
)
[ ${#sources[@]} -gt 0 ] || { echo "images: no Debian sources in /etc/apt" >&2; exit 1; }
slim=(--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*'
      --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*'
      --dpkgopt='path-exclude=/usr/share/info/*')
# As Docker's debian images do: apt leaves no package cache in a layer.
clean="copy-in $repo/images/docker-clean /etc/apt/apt.conf.d"

# base NAME PACKAGES: a minbase tarball (cached by its recipe's hash) imported as localhost/peakops-base/NAME.
base() {
  local name=$1 include=$2 key tar image
  key=$(printf '%s\n' "$include" "${slim[@]}" "${sources[@]}" | cat - images/docker-clean | sha256sum | cut -c1-12)
  tar="$cache/bases/$name-$key.tar"
  image="localhost/peakops-base/$name:$key"
  if ! podman image exists "$image"; then
    mkdir -p "$cache/bases"
    if [ ! -f "$tar" ]; then
      local started=$SECONDS
      mmdebstrap --quiet --format=tar --variant=minbase --include="$include" "${slim[@]}" --customize-hook="$clean" \
        bookworm "$tar.partial" "${sources[@]}"
      mv "$tar.partial" "$tar"
      log "base $name mmdebstrap $((SECONDS - started))s $(du -m "$tar" | cut -f1)MB"
    fi
    podman import --quiet --change 'CMD ["/bin/bash"]' \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' "$tar" "$image" >/dev/null
  fi
  echo "$image"
}
debian=$(base debian ca-certificates)
python_raw=$(base python ca-certificates,python3,python3-venv)
# What python:3.11-slim offers a Dockerfile: `python` and `pip` in /usr/local (a venv, so PEP 668 does
# not apply), Debian's Python 3.11 underneath.
python="localhost/peakops-base/python-venv:${python_raw##*:}"
if ! podman image exists "$python"; then
  printf '%s\n' "FROM $python_raw" 'RUN python3 -m venv /usr/local && /usr/local/bin/pip --version' \
    'ENV LANG=C.UTF-8' 'CMD ["python3"]' | podman build --quiet --pull=never --network=host -t "$python" -f - "$cache" >/dev/null
fi

# --- the images ------------------------------------------------------------------------------------------
# Builds use the host network: no bridge, so podman changes no iptables rule or sysctl on the host.
# Registries are reached through a TLS-intercepting proxy here: builds get the host's CA bundle (uv reads
# it only when SSL_CERT_FILE says so).
ca=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro
    --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt)
bin="${PEAKOPS_CACHE:-$HOME/.cache/peakops}/e2e/bin"
while IFS=$'\t' read -r reference dockerfile kind binaries; do
  context=$repo
  if [ -n "$binaries" ]; then
    # An image of Go-built binaries (scripts/e2e-env.sh): its Dockerfile's folder plus the binaries.
    context=$(mktemp -d)
    trap 'rm -rf "$context"' EXIT
    cp "$(dirname "$dockerfile")"/* "$context/"
    for binary in ${binaries//,/ }; do
      [ -x "$bin/$binary" ] || { echo "images: $bin/$binary is missing: bash scripts/e2e-env.sh kubernetes" >&2; exit 1; }
      cp "$bin/$binary" "$context/"
    done
    dockerfile="$context/$(basename "$dockerfile")"
  fi
  case $kind in
    python) args=(--build-arg "PYTHON_IMAGE=$python") ;;
    debian) args=(--build-arg "DEBIAN_IMAGE=$debian") ;;
    *) echo "images: unknown base '$kind' for $reference" >&2; exit 1 ;;
  esac
  started=$SECONDS
  echo "images: $reference ($dockerfile)"
  nice -n 10 podman build --quiet --pull=never --network=host "${args[@]}" "${ca[@]}" -f "$dockerfile" -t "$reference" "$context" >/dev/null
  size=$(podman image inspect --format '{{.Size}}' "$reference")
  log "image $reference $((SECONDS - started))s $((size / 1048576))MB"
  if [ "$context" != "$repo" ]; then rm -rf "$context"; trap - EXIT; fi
done <<<"$list"

# --- the nodes' sandbox image ------------------------------------------------------------------------------
# Every pod's first container (it holds the pod's namespaces). registry.k8s.io is out of reach: pause.c as
# the pinned k8s.io/kubernetes release ships it (build/pause/linux), compiled statically, tagged with the
# upstream name containerd's `sandbox_image` names (infra/images.py PAUSE_IMAGE, tests/e2e/node.py).
pause=$(sed -n 's/^PAUSE_IMAGE = "\(.*\)"$/\1/p' infra/images.py)
kubernetes=$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' tests/e2e/build/kubernetes/go.mod)
source_dir="${PEAKOPS_CACHE:-$HOME/.cache/peakops}/e2e/go/mod/k8s.io/kubernetes@$kubernetes/build/pause/linux"
[ -n "$pause" ] || { echo "images: no PAUSE_IMAGE in infra/images.py" >&2; exit 1; }
if ! podman image exists "$pause"; then
  [ -f "$source_dir/pause.c" ] || { echo "images: $source_dir/pause.c is missing: bash scripts/e2e-env.sh kubernetes" >&2; exit 1; }
  context=$(mktemp -d)
  gcc -Os -static -DVERSION="${pause##*:}-peakops" -o "$context/pause" "$source_dir/pause.c"
  printf '%s\n' 'FROM scratch' 'COPY pause /pause' 'USER 65535:65535' 'ENTRYPOINT ["/pause"]' > "$context/Containerfile"
  podman build --quiet --pull=never -t "$pause" "$context" >/dev/null
  rm -rf "$context"
  log "image $pause (pause.c of k8s.io/kubernetes $kubernetes)"
fi
# --- the test fleet's hosts (tests/fleet): systemd and sshd on the same Debian base --------------------
fleet_host=$(sed -n 's/^FLEET_HOST_IMAGE = "\(.*\)"$/\1/p' infra/images.py)
[ -n "$fleet_host" ] || { echo "images: no FLEET_HOST_IMAGE in infra/images.py" >&2; exit 1; }
started=$SECONDS
echo "images: $fleet_host (images/fleet-host/Dockerfile)"
nice -n 10 podman build --quiet --pull=never --network=host --build-arg "DEBIAN_IMAGE=$debian" "${ca[@]}" \
  -f images/fleet-host/Dockerfile -t "$fleet_host" images/fleet-host >/dev/null
log "image $fleet_host $((SECONDS - started))s"

podman images --filter reference='ghcr.io/peakops/*' --filter reference="$fleet_host" --filter reference="$pause" --format '{{.Repository}}:{{.Tag}} {{.Size}}'
