#!/usr/bin/env bash
# Regenerates link/symbol-order.txt: the functions of the esker executable that `esker find`
# (with and without a catalog stamp, matching nothing, a few or many files) and
# `esker --version` run, which build.rs asks the linker (lld) to place side by side at the
# start of the code. A `find` then touches about 1.5 MB of code in one piece instead of the
# same code spread over 24 MB, and the kernel maps it in about 25 page faults instead of 90
# (BENCHMARKS.md, "find start-up"). Run it after upgrading Rust or dependencies: the names
# carry hashes that change with them, and names that no longer exist are skipped (the
# script prints how many still match).
#
# Needs valgrind (installed with apt-get when run as root). Takes about a minute once the
# release build exists. Usage: scripts/symbol-order.sh
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }

if ! command -v valgrind >/dev/null; then
  [ "$(id -u)" -eq 0 ] || { log "valgrind is missing (apt-get install valgrind)"; exit 2; }
  log "installing valgrind"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Built as README and scripts/bench.sh build it: the names' hashes depend on the features
# of every dependency, which building the example at the same time would change.
log "building esker (cargo build --release --locked), then the catalog_bench example"
cargo build --release --locked >&2
esker="$work/esker"
cp "$CARGO_TARGET_DIR/release/esker" "$esker"
cargo build --release --locked --example catalog_bench >&2

log "cataloging 20,000 synthetic files in $work"
"$CARGO_TARGET_DIR/release/examples/catalog_bench" --catalog "sqlite://$work/catalog.db" --home "$work" \
  --files 20000 >"$work/bench.json" 2>/dev/null
read -r selective broad none < <(python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(r["query_selective"], r["query_broad"], r["query_none"])' "$work/bench.json")

# Every function a run executes, by its linker name, from callgrind's lists of functions
# (`fn=` and `cfn=` lines name each function the first time it appears).
profile() {
  local out="$work/callgrind.$((++runs))"
  valgrind --tool=callgrind --demangle=no --callgrind-out-file="$out" "$esker" "$@" >/dev/null 2>&1 || true
}
runs=0
export ESKER_CATALOG_URL="sqlite://$work/catalog.db"
for query in "$none" "$selective" "$broad"; do
  rm -f "$work/index/catalog-stamp.json"
  profile --home "$work" find --limit 100 --json "$query" # no stamp: the catalog opens beside the search
  profile --home "$work" find --limit 100 --json "$query" # the stamp written by the run before
  profile --home "$work" find --limit 100 "$query"        # the table output
done
profile --version
unset ESKER_CATALOG_URL

sed -n -E 's/^c?fn=\([0-9]+\) (.+)$/\1/p' "$work"/callgrind.* | sort -u >"$work/ran.txt"
nm --defined-only "$esker" | awk '$2 ~ /^[tTwW]$/ {print $3}' | sort -u >"$work/defined.txt"
mkdir -p link
{
  echo "# The functions \`esker find\` and \`esker --version\` run, for lld's --symbol-ordering-file"
  echo "# (build.rs). Made by scripts/symbol-order.sh; do not edit by hand."
  comm -12 "$work/ran.txt" "$work/defined.txt"
} >link/symbol-order.txt
log "link/symbol-order.txt: $(($(wc -l <link/symbol-order.txt) - 2)) functions of $(wc -l <"$work/ran.txt") that ran ($runs runs)"
