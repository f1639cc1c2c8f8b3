#!/usr/bin/env bash
# The project as hosts install it: the wheel, every wheel of the `app` dependency group (uv.lock's pins,
# binary only, for the hosts' Python 3.11), the catalog seeds and the campaign plans, in one tarball
# under ~/.cache/peakops/wheelhouse (PEAKOPS_CACHE moves it), named by a hash of what goes in. Hosts need
# no index: the role peakops_install copies it and installs with `pip --no-index`.
#
#   scripts/wheelhouse.sh      prints the tarball's path (built when missing)
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
cache="${PEAKOPS_CACHE:-$HOME/.cache/peakops}"
uv="${UV:-$cache/uv-0.13.9/bin/uv}"
[ -x "$uv" ] || uv=$(command -v uv) || { echo "wheelhouse: no uv (make bootstrap installs it)" >&2; exit 1; }
python=${PYTHON:-python3}
key=$(find pyproject.toml uv.lock README.md app peakops cli loadtests monitors infra campaigns -type f \
        -not -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)
out="$cache/wheelhouse/peakops-$key.tar.gz"
if [ ! -f "$out" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/peakops/wheels" "$work/peakops/app" "$cache/wheelhouse"
  "$uv" export --quiet --frozen --no-default-groups --group app --no-emit-project --no-hashes \
    --format requirements-txt -o "$work/peakops/requirements.txt"
  "$uv" build --quiet --wheel --out-dir "$work/peakops/wheels" >/dev/null
  "$python" -m pip download --quiet --only-binary=:all: --python-version 3.11 \
    -r "$work/peakops/requirements.txt" -d "$work/peakops/wheels"
  cp -r app/seed "$work/peakops/app/seed"
  cp -r campaigns "$work/peakops/campaigns"
  echo "$key" > "$work/peakops/VERSION"
  tar -C "$work" -czf "$out.partial" peakops
  mv "$out.partial" "$out"
fi
echo "$out"
