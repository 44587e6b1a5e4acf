#!/usr/bin/env bash
# Runs a GoogleTest binary that decodes OTLP (otlp_node_test: the exporter; tracing_test: the
# real gateway's traces) with the npm packages that package-lock.json pins installed: the test
# spawns `node otlp_receiver.mjs`, which decodes the exporter's requests with
# @opentelemetry/otlp-transformer's generated protobuf classes.
#
#   bash tests/client/otlp_run.sh PATH/TO/otlp_node_test [gtest flags...]
set -euo pipefail

if [[ $# -lt 1 || ! -x $1 ]]; then
  echo "usage: $0 PATH/TO/otlp_node_test [gtest flags...]" >&2
  exit 2
fi
for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "otlp_run.sh: '$tool' not found: install nodejs and npm" >&2
    exit 2
  fi
done
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Installed versions of the packages the receiver loads, against the lockfile.
stale=$(node -e '
  const fs = require("node:fs");
  const path = require("node:path");
  const dir = process.argv[1];
  const lock = JSON.parse(fs.readFileSync(path.join(dir, "package-lock.json"), "utf8"));
  for (const name of ["@opentelemetry/otlp-transformer", "protobufjs"]) {
    const want = lock.packages["node_modules/" + name]?.version;
    let have = "none";
    try {
      have = JSON.parse(fs.readFileSync(path.join(dir, "node_modules", name, "package.json"),
                                        "utf8")).version;
    } catch {}
    if (have !== want) console.log(`${name} ${have} != ${want}`);
  }' "$here")
if [[ -n $stale ]]; then
  echo "otlp_run.sh: installing node dependencies (npm ci); differing from the lockfile:"
  echo "$stale"
  (cd "$here" && npm ci --no-audit --no-fund)
fi
SB_CLIENT_DIR=$here exec "$@"
