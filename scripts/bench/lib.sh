# Helpers shared by the sections of scripts/bench.sh. Sourced, not run.
#
# Variables the main script sets before sourcing a section:
#   REPO     the repository            ESKER    the release binary
#   WORK     this run's scratch dir    LOGS     per-measurement stdout/stderr/time files
#   RESULTS  measurements (TSV)        REPORT   the tables, also printed to stdout
#   BENCH_DIR generated test trees     RUNS     runs per measurement
#   JOB_ARGS extra `esker archive` args (-j N when BENCH_JOBS is set)
#   BUILD_DIR the source tree the binary was built from (the working tree, or the export of
#            BENCH_REV); sections that build more build from there

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "$*"; exit 2; }

# Commands to run on exit, last registered first.
EXIT_HOOKS=()
on_exit() { EXIT_HOOKS=("$*" "${EXIT_HOOKS[@]}"); }
run_exit_hooks() {
  local hook
  for hook in "${EXIT_HOOKS[@]}"; do eval "$hook" || true; done
}

# ensure_tree NAME GENERATOR ARGS... -> prints the tree's path; unless $BENCH_DIR/NAME
# exists, generates it with `python3 GENERATOR ARGS... DIR` (a deterministic generator:
# scripts/gen_tree.py or scripts/bench/gen_distinct.py). Generated into a temporary name
# first, so an interrupted generation never passes for a tree.
ensure_tree() {
  local name=$1 generator=$2
  shift 2
  local dir="$BENCH_DIR/$name"
  if [ ! -d "$dir" ]; then
    log "generating test tree $dir ($generator $*)"
    mkdir -p "$BENCH_DIR"
    rm -rf "$dir.partial"
    python3 "$REPO/$generator" "$@" "$dir.partial" >&2
    mv "$dir.partial" "$dir"
  fi
  printf '%s\n' "$dir"
}

# tree_bytes DIR -> bytes of regular-file data under DIR (apparent sizes). "%.0f", not "%d":
# mawk, Debian's awk, clamps "%d" to 2^31 - 1.
tree_bytes() { find "$1" -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f\n", s}'; }
# tree_files DIR -> number of regular files under DIR.
tree_files() { find "$1" -type f | wc -l | tr -d ' '; }

# mib BYTES -> "12.3 MiB"
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }

# measure NAME RUN PAYLOAD_BYTES CMD... : runs CMD under /usr/bin/time and records one line
# in $RESULTS: NAME, RUN, wall seconds, peak RSS (KiB), payload bytes, CPU seconds of CMD
# (user + system) and CPU seconds of the server it talked to (`-` unless the section defines
# `server_cpu`, which prints the server's CPU seconds so far). CMD's output stays in
# $LOGS/NAME-RUN.{out,err,time}. PAYLOAD_BYTES may be `-` when only CMD's output knows it:
# the caller then records the line with `set_payload BYTES`. A failing CMD stops the run.
# Sets MEASURED_WALL, MEASURED_RSS and MEASURED_OUT.
measure() {
  local name=$1 run=$2 payload=$3
  shift 3
  local base="$LOGS/$name-$run" start end status=0 server_start="" server_end=""
  log "$name #$run: $*"
  if declare -F server_cpu >/dev/null; then server_start=$(server_cpu); fi
  start=$(date +%s%N)
  /usr/bin/time -f '%e %M %U %S' -o "$base.time" "$@" >"$base.out" 2>"$base.err" || status=$?
  end=$(date +%s%N)
  if declare -F server_cpu >/dev/null; then server_end=$(server_cpu); fi
  if [ "$status" -ne 0 ]; then
    log "$name #$run failed (exit $status); last lines of $base.err:"
    tail -n 20 "$base.err" >&2
    exit 1
  fi
  MEASURED_WALL=$(awk -v s="$start" -v e="$end" 'BEGIN {printf "%.3f", (e - s) / 1e9}')
  MEASURED_RSS=$(tail -n 1 "$base.time" | awk '{print $2}')
  MEASURED_CPU=$(tail -n 1 "$base.time" | awk '{printf "%.2f", $3 + $4}')
  MEASURED_SERVER_CPU=-
  if [ -n "$server_start" ] && [ -n "$server_end" ]; then
    MEASURED_SERVER_CPU=$(awk -v s="$server_start" -v e="$server_end" 'BEGIN {printf "%.2f", e - s}')
  fi
  MEASURED_OUT="$base.out"
  MEASURED_NAME=$name
  MEASURED_RUN=$run
  if [ "$payload" != "-" ]; then
    set_payload "$payload"
  fi
  log "$name #$run: ${MEASURED_WALL} s, peak RSS ${MEASURED_RSS} KiB, CPU ${MEASURED_CPU} s, server CPU ${MEASURED_SERVER_CPU} s"
}

# set_payload BYTES: records the last measurement with this payload.
set_payload() {
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$MEASURED_NAME" "$MEASURED_RUN" "$MEASURED_WALL" "$MEASURED_RSS" "$1" \
    "$MEASURED_CPU" "$MEASURED_SERVER_CPU" >>"$RESULTS"
}

# json_field FILE FIELD -> a top-level field of the JSON object in FILE.
json_field() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

# emit TEXT...: a line of the report (stdout and $REPORT).
emit() { printf '%s\n' "$*" | tee -a "$REPORT"; }

# table ARGS...: renders a table of $RESULTS with scripts/bench/table.py into the report.
table() { python3 "$REPO/scripts/bench/table.py" "$RESULTS" "$@" | tee -a "$REPORT"; }

machine_info() {
  local model mem commit rustc
  model=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
  mem=$(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
  if [ -n "${ESKER_COMMIT:-}" ]; then
    commit="${ESKER_COMMIT:0:12} (built from a clean export of this commit)"
  else
    commit=$(git -C "$REPO" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
    if [ -n "${ESKER_BIN:-}" ]; then
      commit="unknown: ESKER_BIN was given; the repository is at $commit"
    elif [ -n "$(git -C "$REPO" status --porcelain -- src crates examples benches Cargo.toml Cargo.lock 2>/dev/null)" ]; then
      commit="$commit plus uncommitted changes in src/, crates/, examples/, benches/ or Cargo.* (BENCH_REV=HEAD builds the commit alone)"
    fi
  fi
  rustc=$(rustc --version 2>/dev/null || echo unknown)
  emit "Machine"
  emit "======="
  emit "date:      $(date -u '+%Y-%m-%d %H:%M UTC')"
  emit "cpu:       $(nproc) CPUs, ${model:-unknown}"
  emit "memory:    $mem"
  emit "kernel:    $(uname -sr)"
  emit "load avg:  at start $LOAD_AT_START; at end $(cut -d' ' -f1-3 /proc/loadavg)"
  emit "esker:     commit $commit"
  emit "binary:    $ESKER ($BUILD_NOTE)"
  emit "toolchain: $rustc"
  for tool in "${TOOL_VERSIONS[@]}"; do emit "$tool"; done
}

# bench_trees -> the trees the crawl, archive and hash sections measure, one path a line,
# generating any that is missing. BENCH_TREES names them (default "t200k t1m l20x64m": issue 8's
# T1, T2 and T3):
#   tNk / tNm   N thousand / N million small files (scripts/gen_tree.py; t1m takes ~2 min
#               and ~13 GB to generate)
#   lCxSm       C files of S MiB each (scripts/gen_tree.py --large C:S), e.g. l20x64m
bench_trees() {
  local name count
  for name in ${BENCH_TREES:-t200k t1m l20x64m}; do
    case "$name" in
      t[0-9]*k) count=$((${name:1:-1} * 1000)); ensure_tree "$name" scripts/gen_tree.py "$count" ;;
      t[0-9]*m) count=$((${name:1:-1} * 1000000)); ensure_tree "$name" scripts/gen_tree.py "$count" ;;
      l[0-9]*x[0-9]*m)
        local spec=${name:1:-1}
        ensure_tree "$name" scripts/gen_tree.py 0 --large "${spec/x/:}"
        ;;
      *) die "BENCH_TREES: unknown tree \`$name\` (tNk, tNm or lCOUNTxSIZEm)" ;;
    esac
  done
}

# tree_note DIR -> "NAME: N files, X MiB" for a table note.
tree_note() { printf '%s: %s files, %s of file data' "$(basename "$1")" "$(tree_files "$1")" "$(mib "$(tree_bytes "$1")")"; }

# fresh_home -> a new, empty esker home under $WORK/homes (the same disk as the trees when
# BENCH_DIR and the repository share one, as they do by default).
fresh_home() { mktemp -d "$WORK/homes/home.XXXXXX"; }
