#!/usr/bin/env bash
# Install the Debian packages the tests, the demo and the benchmarks run for real.
# As root: apt-get (once per machine; skipped when every binary is already there).
# Otherwise: name what is missing and how to install it, and fail.
set -euo pipefail

# binary -> Debian package
declare -A needs=(
  [/usr/lib/postgresql/15/bin/pg_ctl]=postgresql
  [/usr/bin/wrk]=wrk
  [/usr/bin/chromium]=chromium
  [/usr/bin/taskset]=util-linux
  [/usr/sbin/nginx]=nginx
  [/usr/lib/nginx/modules/ngx_http_cache_purge_module.so]=libnginx-mod-http-cache-purge
  [/usr/sbin/haproxy]=haproxy
  [/usr/bin/supervisord]=supervisor
  [/usr/bin/promtool]=prometheus
  [/usr/bin/prometheus-alertmanager]=prometheus-alertmanager
  [/usr/bin/prometheus-node-exporter]=prometheus-node-exporter
)

missing=()
for binary in "${!needs[@]}"; do
  [ -e "$binary" ] || missing+=("${needs[$binary]}")  # -e: the purge module is a .so, not executable
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "peakops needs these Debian packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
