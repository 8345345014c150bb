#!/usr/bin/env bash
# esker benchmarks: builds the release binary, makes the test data it needs, runs the chosen
# sections and prints plain-text tables plus a description of the machine.
#
#   scripts/bench.sh [SECTION...]     no section = every section
#
# Sections (one file each in scripts/bench/, defining `section_NAME`):
#   s3       upload throughput against a local moto server, esker vs `aws s3 cp --recursive`
#            of the same bundles, and esker's peak memory for 1 vs 100 bundles and one big one
#   catalog  catalog ingest rate, index build rate and `esker find` latency with 1 million
#            cataloged files (BENCH_CATALOG_SIZES="1000000 10000000" adds 10 million), on
#            SQLite and PostgreSQL (examples/catalog_bench.rs, scripts/fixtures/postgres.sh)
#   crawl    `esker archive --dry-run` vs `find -printf` of the same stat fields, warm cache
#   archive  `esker archive` to the local store vs `tar -cf`, both on the tree's disk
#   hash     BLAKE3 over the same files: `esker archive` (includes hashing) vs `b3sum`
#            (installed into $BENCH_DIR/tools with `cargo install b3sum --locked` if missing)
#   micro    criterion micro-benchmarks: bundle planner, tar writer, path tokenizer
#            (benches/bundle.rs, index/benches/tokenizer.rs)
#   crawl, archive and hash measure the trees named by BENCH_TREES (default "t200k t1m
#   l20x64m", issue 8's T1, T2, T3: 200,000 small files; 1 million, ~13 GB, a few minutes to
#   generate; 20 x 64 MiB files). BENCH_TREES=t200k for a quick run.
#
# Environment:
#   CARGO_TARGET_DIR  where cargo builds (default: target/ in the repository)
#   ESKER_BIN         use this esker binary instead of building one
#   BENCH_REV         build this commit (e.g. HEAD) from a clean `git archive` export in
#                     .bench/src-COMMIT/ instead of the working tree, so edits in progress
#                     don't end up in the measured binary
#   BENCH_DIR         generated test trees, kept between runs (default /work/.bench-trees)
#   BENCH_RUNS        runs of each measurement (default 3)
#   BENCH_JOBS        `esker archive -j N` (default: esker's own, one packer per CPU)
#   plus the section's own settings, listed at the top of scripts/bench/SECTION.sh.
#
# Each run writes to .bench/run-DATE/: report.txt (what is printed), results.tsv (every
# measured run) and logs/ (each command's stdout, stderr and /usr/bin/time output).
# Progress goes to stderr; the tables go to stdout.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
# shellcheck source=scripts/bench/lib.sh
source "$REPO/scripts/bench/lib.sh"

ALL_SECTIONS=(s3 catalog crawl archive hash micro)

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}

SECTIONS=()
for arg in "$@"; do
  case "$arg" in
    -h | --help) usage ;;
    -*) log "unknown option $arg"; usage ;;
    *)
      [ -f "$REPO/scripts/bench/$arg.sh" ] || die "unknown section \`$arg\` (sections: ${ALL_SECTIONS[*]})"
      SECTIONS+=("$arg")
      ;;
  esac
done
((${#SECTIONS[@]})) || SECTIONS=("${ALL_SECTIONS[@]}")

BENCH_DIR="${BENCH_DIR:-/work/.bench-trees}"
RUNS="${BENCH_RUNS:-3}"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive number"
JOB_ARGS=()
if [ -n "${BENCH_JOBS:-}" ]; then JOB_ARGS=(-j "$BENCH_JOBS"); fi
TOOL_VERSIONS=()
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)

# --- tools ------------------------------------------------------------------------------
missing=()
[ -x /usr/bin/time ] || missing+=(time) # GNU time: wall time and peak RSS
command -v python3 >/dev/null || missing+=(python3 python3-venv)
if ((${#missing[@]})); then
  [ "$(id -u)" -eq 0 ] || die "missing packages: ${missing[*]} (run as root, or install them first)"
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- the binary -------------------------------------------------------------------------
ESKER_COMMIT="" # the commit the binary was built from, when known for certain
if [ -n "${ESKER_BIN:-}" ]; then
  ESKER="$(realpath "$ESKER_BIN")"
  BUILD_DIR="$REPO" # sections that build more (the catalog section's example) build the working tree
  [ -x "$ESKER" ] || die "ESKER_BIN=$ESKER_BIN is not an executable"
  BUILD_NOTE="given by ESKER_BIN, not built by this run"
else
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
  build_dir="$REPO"
  BUILD_NOTE="cargo build --release --locked of the working tree by this run"
  if [ -n "${BENCH_REV:-}" ]; then
    ESKER_COMMIT=$(git rev-parse --verify "$BENCH_REV^{commit}") || die "BENCH_REV=$BENCH_REV is not a commit"
    build_dir="$REPO/.bench/src-${ESKER_COMMIT:0:12}"
    if [ ! -f "$build_dir/Cargo.toml" ]; then
      log "exporting commit ${ESKER_COMMIT:0:12} to $build_dir"
      rm -rf "$build_dir"
      mkdir -p "$build_dir"
      git archive "$ESKER_COMMIT" | tar -x -C "$build_dir"
    fi
    BUILD_NOTE="cargo build --release --locked of a clean export of commit ${ESKER_COMMIT:0:12} by this run"
  fi
  log "building the release binary in $build_dir (cargo build --release --locked, CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  (cd "$build_dir" && cargo build --release --locked >&2)
  BUILD_DIR="$build_dir"
  ESKER="$CARGO_TARGET_DIR/release/esker"
fi

# --- scratch space and a clean environment ------------------------------------------------
mkdir -p "$REPO/.bench"
WORK="$(mktemp -d "$REPO/.bench/run-$(date -u +%Y%m%d-%H%M%S)-XXXX")"
LOGS="$WORK/logs"
RESULTS="$WORK/results.tsv"
REPORT="$WORK/report.txt"
mkdir -p "$LOGS" "$WORK/homes"
: >"$RESULTS"
: >"$REPORT"
# The homes and uploads are large and go; the report and the logs are small and stay.
on_exit 'rm -rf "$WORK/homes" "$WORK/upload"; log "report and logs in $WORK"'
trap run_exit_hooks EXIT
trap 'exit 130' INT TERM

# esker reads only what each measurement gives it: no system config, no ESKER_* defaults.
export ESKER_SYSTEM_CONFIG="$WORK/no-system-config.toml"
unset ESKER_HOME ESKER_CATALOG_URL ESKER_STORE ESKER_MAX_FILES ESKER_MAX_SIZE ESKER_JOBS ESKER_LOG ESKER_FAILPOINT

emit "esker benchmarks: ${SECTIONS[*]} ($RUNS runs each)"
for section in "${SECTIONS[@]}"; do
  # shellcheck source=/dev/null
  source "$REPO/scripts/bench/$section.sh"
  log "--- section $section ---"
  "section_$section"
done
emit ""
machine_info
