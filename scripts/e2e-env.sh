#!/usr/bin/env bash
# `make e2e-env` (and `make go-tools`): build the Go programs the tests run, with the installed Go, from
# module sources at the releases pinned in tests/e2e/build/<component>/go.mod (and go.sum), once.
#
#   scripts/e2e-env.sh                 every component
#   scripts/e2e-env.sh sloth kustomize only the named ones (what `make test` needs)
#
# Each component lands in $PEAKOPS_CACHE/e2e/<component>-<key>/, where <key> hashes its build module, the
# Go version and the link flags: a changed pin builds anew, an unchanged one is reused. bin/ links to the
# current builds; build-times.log records how long each build took. Go's module and build caches live
# under the same folder, so `rm -rf ~/.cache/peakops/e2e` is a true cold start.
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${PEAKOPS_CACHE:-$HOME/.cache/peakops}/e2e"
mkdir -p "$cache/bin"
export GOMODCACHE="$cache/go/mod" GOCACHE="$cache/go/build"
export GOTOOLCHAIN=local GOFLAGS="-mod=readonly -trimpath" CGO_ENABLED=0
command -v go >/dev/null || { echo "e2e-env: Go is not installed (https://go.dev/doc/install)" >&2; exit 1; }

# The release a build module pins, e.g. `pinned kubernetes k8s.io/kubernetes` -> v1.34.4.
pinned() { awk -v mod="$2" '$1 == mod { print $2; exit } $1 == "require" && $2 == mod { print $3; exit }' \
  "tests/e2e/build/$1/go.mod"; }

# The module's source folder in the module cache (downloaded and checked against go.sum if missing).
module_dir() { local version; version=$(pinned "$1" "$2")
  (cd "tests/e2e/build/$1" && go mod download -json "$2@$version") | sed -n 's/.*"Dir": *"\([^"]*\)".*/\1/p'; }

# build COMPONENT LDFLAGS [FROM:TO]: the tools of its build module (or, when the folder holds a main package
# of its own, that package) into its cache folder, FROM renamed TO.
build() {
  local component=$1 ldflags=$2 rename=${3:-} dir key out started target out_name sources
  dir="tests/e2e/build/$component"
  sources=("$dir/go.mod" "$dir/go.sum")
  if compgen -G "$dir/*.go" >/dev/null; then sources+=("$dir"/*.go); fi
  key=$( (cat "${sources[@]}"; go version; echo "$ldflags $rename") | sha256sum | cut -c1-12)
  out="$cache/$component-$key"
  if [ ! -f "$out/.built" ]; then
    echo "e2e-env: building $component (tools of $dir/go.mod)"
    started=$(date +%s)
    rm -rf "$out.partial" && mkdir -p "$out.partial"
    target=tool
    if compgen -G "$dir/*.go" >/dev/null; then target=. && out_name="$out.partial/$component"; else out_name="$out.partial/"; fi
    (cd "$dir" && nice -n 10 go build -ldflags="$ldflags" -o "$out_name" "$target")
    [ -z "$rename" ] || mv "$out.partial/${rename%%:*}" "$out.partial/${rename#*:}"
    rm -rf "$out" && mv "$out.partial" "$out" && touch "$out/.built"
    echo "$(date -u +%FT%TZ) $component $((  $(date +%s) - started ))s $(go version | cut -d' ' -f3)" \
      >> "$cache/build-times.log"
  fi
  for program in "$out"/*; do ln -sfn "$program" "$cache/bin/$(basename "$program")"; done
}

# Kubernetes binaries built outside its own build report v0.0.0-master, which kubectl's skew check, the
# apiserver's emulated version and every client read; stamp the release as hack/lib/version.sh does.
build_kubernetes() {
  local version minor date ldflags pkg
  version=$(pinned kubernetes k8s.io/kubernetes)
  minor=$(echo "$version" | cut -d. -f2)
  date=$(cd tests/e2e/build/kubernetes && go mod download -json "k8s.io/kubernetes@$version" \
    | sed -n 's/.*"Time": *"\([^"]*\)".*/\1/p' | sed -n 1p)
  [ -n "$date" ] || date=1970-01-01T00:00:00Z
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
  done
  build kubernetes "$ldflags"
}

# The Prometheus Operator's CRDs (PrometheusRule, ServiceMonitor) as its release publishes them: the prod
# overlay uses both, so the e2e cluster installs them to check it. The module is only downloaded (and
# verified against the checksum database), never built.
fetch_operator_crds() {
  local operator=github.com/prometheus-operator/prometheus-operator version=v0.85.0 crds source_dir kind
  crds="$cache/crds/prometheus-operator-$version"
  if [ ! -f "$crds/.fetched" ]; then
    source_dir=$(GOFLAGS= go mod download -json "$operator@$version" | sed -n 's/.*"Dir": *"\([^"]*\)".*/\1/p')
    mkdir -p "$crds"
    for kind in prometheusrules servicemonitors; do
      cp "$source_dir/example/prometheus-operator-crd/monitoring.coreos.com_$kind.yaml" "$crds/"
    done
    touch "$crds/.fetched"
  fi
  ln -sfn "$crds" "$cache/crds/prometheus-operator"
}

# The provider's main package embeds its schema and Terraform mapping with the release version set, as
# upstream's generate.go writes them at release time (the module ships only the sources of both).
build_pulumi_provider() {
  local dir=tests/e2e/build/pulumi-resource-kubernetes src version
  src=$(module_dir pulumi-resource-kubernetes github.com/pulumi/pulumi-kubernetes/provider/v4)/cmd/pulumi-resource-kubernetes
  # The Python SDK in uv.lock asks for this version; the provider reports it (its code is of 2026-01-15).
  version=$(awk '/^name = "pulumi-kubernetes"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' uv.lock)
  python3 - "$src" "$version" "$dir" <<'PY'
import json, pathlib, sys
src, version, out = pathlib.Path(sys.argv[1]), sys.argv[2], pathlib.Path(sys.argv[3])
schema = json.loads((src / "schema.json").read_text())
schema["version"] = version
(out / "schema-embed.json").write_text(json.dumps(schema, separators=(",", ":")))
mapping = json.loads((src / "terraform-mapping.json").read_text())
(out / "terraform-mapping-embed.json").write_text(json.dumps(mapping, separators=(",", ":")))
PY
  build pulumi-resource-kubernetes \
    "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$version"
}

component_build() {
  case $1 in
    kubernetes) build_kubernetes ;;
    etcd) build etcd "-s -w" server:etcd ;;  # Go names it after its package, go.etcd.io/etcd/server/v3
    kwok) build kwok "-s -w" ;;  # kwok carries its release in its source
    metrics-server) build metrics-server \
      "-s -w -X sigs.k8s.io/metrics-server/pkg/version.gitVersion=$(pinned metrics-server sigs.k8s.io/metrics-server)" ;;
    coredns) build coredns "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$(pinned coredns github.com/coredns/coredns)" ;;
    kustomize) build kustomize "-s -w" ;;
    sloth) build sloth "-s -w -X github.com/slok/sloth/internal/info.Version=$(pinned sloth github.com/slok/sloth)" ;;
    pulumi) build pulumi \
      "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$(pinned pulumi github.com/pulumi/pulumi/pkg/v3)" ;;
    pulumi-resource-kubernetes) build_pulumi_provider ;;
    operator-crds) fetch_operator_crds ;;
    *) echo "e2e-env: unknown component $1" >&2; exit 2 ;;
  esac
}

# `make test` needs the first two (TEST_TOOLS in the Makefile); `make e2e` all of them.
ALL=(sloth kustomize kubernetes etcd kwok metrics-server coredns operator-crds pulumi pulumi-resource-kubernetes)
started=$(date +%s)
for component in "${@:-${ALL[@]}}"; do component_build "$component"; done
echo "e2e-env: ready in $(( $(date +%s) - started ))s: $cache/bin"
# Each program's own account of its version (sed reads to the end: head would exit early and, under
# pipefail, a writer's SIGPIPE would fail the script).
for program in kube-apiserver:--version etcd:--version kwok:--version sloth:version pulumi:version; do
  [ ! -x "$cache/bin/${program%%:*}" ] || echo "${program%%:*}: $("$cache/bin/${program%%:*}" "${program#*:}" 2>/dev/null | sed -n 1p)"
done
