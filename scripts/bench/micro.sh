# Section `micro` of scripts/bench.sh: criterion micro-benchmarks of the hot inner pieces,
# run with `cargo bench` from the same sources as the esker binary. Sourced.
#
#   benches/bundle.rs            bundle planner (100k entries), tar writer with offsets
#                                (per member, 8 KiB members, one 64 MiB member)
#   crates/index/benches/tokenizer.rs   the path tokenizer alone and with its filters
#   benches/query.rs             find in-process (parse, search, catalog rows) on a
#                                50,000-file archive, as `esker serve` will answer it
#   (the SHA-256 tree hash of Glacier uploads gets its bench in benches/bundle.rs with the
#   Glacier store)
#
# Settings (environment):
#   BENCH_MICRO_ARGS  arguments for criterion (default: --warm-up-time 1 --measurement-time 3)
#
# criterion keeps its own history in $CARGO_TARGET_DIR/criterion and says, for each
# benchmark, how it changed since the last run there.

micro_run() {
  local name=$1
  shift
  local log_file="$LOGS/micro-$name.txt"
  log "micro: cargo bench $* (log $log_file)"
  # shellcheck disable=SC2086 # BENCH_MICRO_ARGS is a list of words
  (cd "${BUILD_DIR:-$REPO}" && cargo bench --locked "$@" -- --noplot ${BENCH_MICRO_ARGS:---warm-up-time 1 --measurement-time 3}) \
    >"$log_file" 2>&1 || { tail -n 30 "$log_file" >&2; die "cargo bench $* failed"; }
  # criterion prints the name, then `time: [low median high]` and `thrpt: [...]`, sometimes
  # on the name's line; keep the name, the median time and the median throughput.
  python3 - "$log_file" <<'PY' | tee -a "$REPORT"
import re, sys

name = None
rows = []
in_change = False  # the time/thrpt lines after "change:" compare with the last run: skipped
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    line = line.rstrip()
    if "change:" in line:
        in_change = True
        continue
    if in_change and re.match(r"^\s+(time|thrpt):", line):
        continue
    in_change = False
    match = re.match(r"^(\S.*?)\s+time:\s+\[(.*?)\]", line)
    if match:
        name = match.group(1).strip()
        rows.append([name, match.group(2).split()[2:4], None])
        continue
    match = re.match(r"^\s+time:\s+\[(.*?)\]", line)
    if match and name:
        rows.append([name, match.group(1).split()[2:4], None])
        continue
    match = re.match(r"^\s+thrpt:\s+\[(.*?)\]", line)
    if match and rows:
        rows[-1][2] = " ".join(match.group(1).split()[2:4])
        continue
    if line and not line.startswith((" ", "Benchmarking", "Found", "Gnuplot", "Warning", "Running", "Compiling", "Finished")) and "change:" not in line:
        name = line.strip()
width = max([len(row[0]) for row in rows] + [9])
print(f"{'benchmark'.ljust(width)}  {'median':>12}  {'throughput (median)':>22}")
for name, time, thrpt in rows:
    print(f"{name.ljust(width)}  {' '.join(time):>12}  {thrpt or '-':>22}")
PY
}

section_micro() {
  emit ""
  emit "Micro-benchmarks (criterion, cargo bench; median of criterion's samples)"
  emit "========================================================================="
  micro_run bundle --bench bundle
  micro_run tokenizer -p esker-index --bench tokenizer
  micro_run query --bench query
}
