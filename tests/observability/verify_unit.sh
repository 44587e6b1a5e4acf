#!/usr/bin/env bash
# systemd-analyze verify on deploy/systemd/switchboard.service, with ExecStart pointing at the
# binary just built (verify insists that executables exist).
#   verify_unit.sh SYSTEMD_ANALYZE UNIT_FILE SWITCHBOARD_BINARY
set -euo pipefail
analyze="$1" unit="$2" binary="$3"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
sed "s|/usr/local/bin/switchboard|$binary|g" "$unit" >"$dir/switchboard.service"
out="$("$analyze" verify "$dir/switchboard.service" 2>&1)" || { echo "$out"; exit 1; }
# verify exits 0 on some problems and only prints them.
if [ -n "$out" ]; then
  echo "$out"
  exit 1
fi
echo "switchboard.service: OK"
