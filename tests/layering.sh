#!/usr/bin/env bash
# The include direction between the layers, checked on every `#include "..."` of the production
# code (ctest: layering). A file may include its own layer and the layers below it:
#
#   adapters/upstream/   nothing above it: not adapters/, policies/ or gateway/
#   adapters/            adapters/upstream/; not policies/ or gateway/
#   policies/            nothing above it: not adapters/ or gateway/
#   gateway/<folder>/    policies/, adapters/, and the gateway folders at or below its own, in the
#                        order observability < audit < state < runtime < net < pipeline < control
#   tests/support/       no production code at all (the fake upstreams stand alone)
#
# Every gateway source lives in one of those folders. Prints each offending include and fails.
# Usage: layering.sh SOURCE_DIR
set -euo pipefail
root=${1:?usage: layering.sh SOURCE_DIR}
cd "$root"

unplaced=$(find gateway -type f \( -name '*.h' -o -name '*.cc' \) |
  grep -vE '^gateway/(observability|audit|state|runtime|net|pipeline|control)/[^/]+$' || true)
if [ -n "$unplaced" ]; then
  printf '%s: not in a gateway folder (observability, audit, state, runtime, net, pipeline, control)\n' \
    $unplaced
  exit 1
fi

find adapters policies gateway tests/support -type f \( -name '*.h' -o -name '*.cc' \) -print0 |
  xargs -0 grep -HnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' /dev/null |
  awk '
    BEGIN {
      split("observability audit state runtime net pipeline control", order, " ")
      for (i in order) rank[order[i]] = i
      bad = 0
    }
    # The layer of a path: "support", "upstream", "adapters", "policies", "gateway:<rank>",
    # "gateway:?" (a gateway path outside the known folders), or "" (not a layer: a system or
    # local header).
    function layer(path,   parts) {
      if (path ~ /^adapters\/upstream\//) return "upstream"
      if (path ~ /^adapters\//) return "adapters"
      if (path ~ /^policies\//) return "policies"
      if (path ~ /^tests\/support\//) return "support"
      if (path ~ /^gateway\//) {
        split(path, parts, "/")
        return (parts[2] in rank) && parts[3] != "" ? "gateway:" rank[parts[2]] : "gateway:?"
      }
      return ""
    }
    function allowed(from, to) {
      if (to == "" || from == to) return 1
      if (from == "adapters") return to == "upstream"
      if (from ~ /^gateway:[0-9]/) {
        if (to !~ /^gateway:/) return 1
        return to != "gateway:?" && substr(to, 9) + 0 <= substr(from, 9) + 0
      }
      return 0
    }
    {
      file = $0; sub(/:.*/, "", file)
      line = $0; sub(/^[^:]*:/, "", line); sub(/:.*/, "", line)
      target = $0; sub(/^[^"]*"/, "", target); sub(/".*/, "", target)
      from = layer(file)
      if (!allowed(from, layer(target))) {
        print file ":" line ": includes \"" target "\", above or beside its layer"
        bad = 1
      }
    }
    END { exit bad }
  '
echo "layering: every include points down"
