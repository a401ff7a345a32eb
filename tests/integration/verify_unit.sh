#!/usr/bin/env bash
# Checks config/ringgate.service with `systemd-analyze verify`, offline (no systemd as PID 1 needed).
# Usage: verify_unit.sh UNIT_FILE RINGGATE_BIN. Exit 77 (meson "skip") when systemd-analyze is absent.
set -euo pipefail

unit=${1:?unit file}
bin=$(realpath "${2:?ringgate binary}")
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not found: skipping"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# verify checks that every Exec*= binary exists and is executable: point them at the built one.
# The file name must stay ringgate.service (verify derives the unit name from it).
sed "s|/usr/local/bin/ringgate|$bin|g" "$unit" >"$tmp/ringgate.service"

# --man=no: do not look up man pages for Documentation=. verify exits 0 on mere warnings
# (e.g. an unknown key is "ignoring"), so any output at all counts as a failure.
if ! out=$(systemd-analyze verify --man=no "$tmp/ringgate.service" 2>&1) || [[ -n $out ]]; then
  echo "systemd-analyze verify failed for $unit:" >&2
  echo "$out" >&2
  exit 1
fi
echo "$unit: ok"
