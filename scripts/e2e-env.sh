#!/usr/bin/env bash
# `make e2e-env`: build the e2e cluster's programs with the installed Go, from module sources at the
# releases pinned in tests/e2e/build/<component>/go.mod (and go.sum), once.
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

# Kubernetes binaries built outside its own build report v0.0.0-master, which kubectl's skew check, the
# apiserver's emulated version and every client read; stamp the release as hack/lib/version.sh does.
k8s_version=$(pinned kubernetes k8s.io/kubernetes)
k8s_minor=$(echo "$k8s_version" | cut -d. -f2)
k8s_date=$(cd tests/e2e/build/kubernetes && go mod download -json "k8s.io/kubernetes@$k8s_version" \
  | sed -n 's/.*"Time": *"\([^"]*\)".*/\1/p' | sed -n 1p)
[ -n "$k8s_date" ] || k8s_date=1970-01-01T00:00:00Z
k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor"
  k8s_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$k8s_date"
done

# build COMPONENT LDFLAGS [FROM:TO]: the tools of its build module into its cache folder, FROM renamed TO.
build() {
  local component=$1 ldflags=$2 rename=${3:-} dir key out started
  dir="tests/e2e/build/$component"
  key=$( (cat "$dir/go.mod" "$dir/go.sum"; go version; echo "$ldflags $rename") | sha256sum | cut -c1-12)
  out="$cache/$component-$key"
  if [ ! -f "$out/.built" ]; then
    echo "e2e-env: building $component (tools of $dir/go.mod)"
    started=$(date +%s)
    rm -rf "$out.partial" && mkdir -p "$out.partial"
    (cd "$dir" && go build -ldflags="$ldflags" -o "$out.partial/" tool)
    [ -z "$rename" ] || mv "$out.partial/${rename%%:*}" "$out.partial/${rename#*:}"
    rm -rf "$out" && mv "$out.partial" "$out" && touch "$out/.built"
    echo "$(date -u +%FT%TZ) $component $((  $(date +%s) - started ))s $(go version | cut -d' ' -f3)" \
      >> "$cache/build-times.log"
  fi
  for program in "$out"/*; do ln -sfn "$program" "$cache/bin/$(basename "$program")"; done
}

started=$(date +%s)
build kubernetes "$k8s_ldflags"
build etcd "-s -w" server:etcd  # Go names it after its package, go.etcd.io/etcd/server/v3
build kwok "-s -w"  # kwok carries its release in its source
build metrics-server "-s -w -X sigs.k8s.io/metrics-server/pkg/version.gitVersion=$(pinned metrics-server sigs.k8s.io/metrics-server)"
# The Prometheus Operator's CRDs (PrometheusRule, ServiceMonitor) as its release publishes them: the prod
# overlay uses both, so the e2e cluster installs them to check it. The module is only downloaded (and
# verified against the checksum database), never built.
operator=github.com/prometheus-operator/prometheus-operator operator_version=v0.85.0
crds="$cache/crds/prometheus-operator-$operator_version"
if [ ! -f "$crds/.fetched" ]; then
  source_dir=$(GOFLAGS= go mod download -json "$operator@$operator_version" | sed -n 's/.*"Dir": *"\([^"]*\)".*/\1/p')
  mkdir -p "$crds"
  for kind in prometheusrules servicemonitors; do
    cp "$source_dir/example/prometheus-operator-crd/monitoring.coreos.com_$kind.yaml" "$crds/"
  done
  touch "$crds/.fetched"
fi
ln -sfn "$crds" "$cache/crds/prometheus-operator"

echo "e2e-env: ready in $(( $(date +%s) - started ))s: $cache/bin"
"$cache/bin/kube-apiserver" --version
# sed reads to the end: head would exit early and, under pipefail, etcd's SIGPIPE fails the script.
"$cache/bin/etcd" --version | sed -n 1p
"$cache/bin/kwok" --version
