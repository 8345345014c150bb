# Section `catalog` of scripts/bench.sh: catalog ingest rate, index build rate and `esker find`
# latency at a million cataloged files and more, on SQLite and on PostgreSQL. Sourced.
#
# For each size and backend, examples/catalog_bench.rs catalogs N synthetic files (1000 per
# bundle, through esker's own Catalog API, timing only the catalog calls) into a fresh
# catalog and builds the index; then `esker find` runs as a whole process, BENCH_FIND_RUNS
# times each in BENCH_FIND_ROUNDS rounds alternating with plocate, for a selective, a broad and a
# no-hit query (hyperfine when available).
#
# Settings (environment):
#   BENCH_CATALOG_SIZES     file counts, space-separated (default 1000000). 10 million is
#                           opt-in: BENCH_CATALOG_SIZES="1000000 10000000" (see BENCHMARKS.md
#                           for how long it takes)
#   BENCH_CATALOG_BACKENDS  backends to measure (default "sqlite postgres")
#   BENCH_FIND_RUNS         runs of each find measurement (default 20, at least 10)
#   BENCH_FIND_ROUNDS       rounds those runs are split into, alternating with plocate's
#                           (default 4)
#   CATALOG_BENCH_BIN       use this catalog_bench binary instead of building the example
#
# Next to each find, `plocate` (Debian package `plocate`, installed with apt-get as root)
# searches a database of the same paths: catalog_bench writes them (--paths), and
# `plocate-build --plaintext` builds the database once per size. Both are whole processes
# with `--limit 100`, case-insensitive, output to /dev/null.

CATALOG_TSV="" # one line per size and backend, for the tables

catalog_prepare() {
  local runs=${BENCH_FIND_RUNS:-20} rounds=${BENCH_FIND_ROUNDS:-4}
  [[ "$runs" =~ ^[0-9]+$ ]] && [ "$runs" -ge 10 ] || die "BENCH_FIND_RUNS must be a number of at least 10"
  [[ "$rounds" =~ ^[1-9][0-9]*$ ]] && [ "$rounds" -le "$runs" ] ||
    die "BENCH_FIND_ROUNDS must be a number from 1 to BENCH_FIND_RUNS ($runs)"
  FIND_RUNS=$runs
  FIND_ROUNDS=$rounds
  local size
  for size in ${BENCH_CATALOG_SIZES:-1000000}; do
    [[ "$size" =~ ^[1-9][0-9]*$ ]] || die "BENCH_CATALOG_SIZES: \`$size\` is not a positive number"
  done
  local backend
  for backend in ${BENCH_CATALOG_BACKENDS:-sqlite postgres}; do
    case "$backend" in sqlite | postgres) ;; *) die "BENCH_CATALOG_BACKENDS: unknown backend \`$backend\`" ;; esac
  done

  # The example, built from the same sources as the esker binary.
  if [ -n "${CATALOG_BENCH_BIN:-}" ]; then
    CATALOG_BENCH="$(realpath "$CATALOG_BENCH_BIN")"
    [ -x "$CATALOG_BENCH" ] || die "CATALOG_BENCH_BIN=$CATALOG_BENCH_BIN is not an executable"
    TOOL_VERSIONS+=("catalog_bench: $CATALOG_BENCH (given by CATALOG_BENCH_BIN, not built by this run)")
    # Given binaries measure PostgreSQL too; they must have been built with `--features postgres`.
    CATALOG_BENCH_PG=$CATALOG_BENCH ESKER_PG=$ESKER
  else
    local dir=${BUILD_DIR:-$REPO}
    [ -f "$dir/examples/catalog_bench.rs" ] || die "$dir has no examples/catalog_bench.rs (a BENCH_REV before it was added?)"
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
    log "building the catalog_bench example in $dir (cargo build --release --locked --example catalog_bench)"
    (cd "$dir" && cargo build --release --locked --example catalog_bench >&2)
    CATALOG_BENCH="$CARGO_TARGET_DIR/release/examples/catalog_bench"
    TOOL_VERSIONS+=("catalog_bench: $CATALOG_BENCH (cargo build --release --locked --example catalog_bench in $dir by this run)")
    if [[ " ${BENCH_CATALOG_BACKENDS:-sqlite postgres} " == *" postgres "* ]]; then
      # PostgreSQL catalogs need the `postgres` feature (the system libpq); its own target
      # dir keeps the default binaries the other sections measure as they are.
      [ -e /usr/include/postgresql/libpq-fe.h ] || die "the postgres backend needs libpq-dev (apt-get install libpq-dev)"
      local pg_target="$CARGO_TARGET_DIR/postgres"
      log "building esker and catalog_bench with --features postgres in $pg_target"
      (cd "$dir" && CARGO_TARGET_DIR="$pg_target" cargo build --release --locked --features postgres --bin esker --example catalog_bench >&2)
      ESKER_PG="$pg_target/release/esker" CATALOG_BENCH_PG="$pg_target/release/examples/catalog_bench"
      TOOL_VERSIONS+=("postgres builds: $ESKER_PG and $CATALOG_BENCH_PG (--features postgres, by this run)")
    fi
  fi

  # Timing `esker find`: hyperfine when it is there (installed with apt-get as root), else a
  # loop around `date +%s%N`.
  if ! command -v hyperfine >/dev/null && [ "$(id -u)" -eq 0 ]; then
    log "installing hyperfine"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null 2>&1 ||
      log "could not install hyperfine; timing find with a shell loop"
  fi
  if command -v hyperfine >/dev/null; then
    FIND_TIMER="hyperfine ($(hyperfine --version | head -n 1)), $FIND_RUNS runs in $FIND_ROUNDS rounds alternating with plocate, 1 warm-up run per round"
  else
    FIND_TIMER="shell loop (date +%s%N around each run), $FIND_RUNS runs in $FIND_ROUNDS rounds alternating with plocate, 1 warm-up run per round"
  fi

  if [[ " ${BENCH_CATALOG_BACKENDS:-sqlite postgres} " == *" postgres "* ]]; then
    # Reuse a cluster that is already running (tests may be using it) and leave it running;
    # stop it on exit only if this run started it. Each measurement gets a database of its own.
    command -v psql >/dev/null || die "psql not found (apt-get install postgresql-client)"
    if "$REPO/scripts/fixtures/postgres.sh" env >/dev/null 2>&1; then
      PG_NOTE="reused a cluster that was already running"
    else
      PG_NOTE="started by this run"
      on_exit '"$REPO/scripts/fixtures/postgres.sh" stop'
    fi
    eval "$("$REPO/scripts/fixtures/postgres.sh" start)"
    [ -n "${ESKER_TEST_PG_URL:-}" ] || die "postgres.sh did not export ESKER_TEST_PG_URL"
    local server settings
    server=$(psql "$ESKER_TEST_PG_URL" -tAc 'SHOW server_version')
    settings=$(psql "$ESKER_TEST_PG_URL" -tAc "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers', 'work_mem')")
    TOOL_VERSIONS+=("postgres:  $server ($PG_NOTE, scripts/fixtures/postgres.sh: $settings)")
  fi
  if ! command -v plocate >/dev/null && [ "$(id -u)" -eq 0 ]; then
    log "installing plocate"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq plocate >/dev/null 2>&1 || log "could not install plocate"
  fi
  if command -v plocate >/dev/null && command -v plocate-build >/dev/null; then
    TOOL_VERSIONS+=("plocate:   $(plocate --version | head -n 1) (plocate-build --plaintext --require-visibility no)")
  else
    log "no plocate: the find tables leave it out"
  fi
  local sqlite tantivy
  sqlite=$(awk '/^name = "libsqlite3-sys"/ {getline; print $3}' "${BUILD_DIR:-$REPO}/Cargo.lock" | tr -d '"')
  tantivy=$(awk '/^name = "tantivy"$/ {getline; print $3}' "${BUILD_DIR:-$REPO}/Cargo.lock" | tr -d '"')
  TOOL_VERSIONS+=("sqlite:    bundled by libsqlite3-sys $sqlite (WAL, synchronous=NORMAL)" "tantivy:   $tantivy")
  TOOL_VERSIONS+=("find timer: $FIND_TIMER")
}

# pg_server_cpu -> CPU seconds the PostgreSQL cluster has used so far: the postmaster's own
# plus that of its children that have exited (each connection's backend process, once it
# disconnects), from /proc/PID/stat. `measure` records the difference around catalog_bench.
# Long-lived helpers (checkpointer, WAL writer) are not counted; other clients' connections
# that end meanwhile are (tests sharing the cluster).
pg_server_cpu() {
  local pid
  pid=$(head -n 1 "$REPO/.fixtures/pg-data/postmaster.pid" 2>/dev/null) || return 0
  [ -r "/proc/$pid/stat" ] || return 0
  # Fields 14-17 of /proc/PID/stat: utime, stime, cutime, cstime in clock ticks.
  sed 's/^.*) //' "/proc/$pid/stat" | awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f\n", ($12 + $13 + $14 + $15) / hz}'
}

# pg_database URL_OF_POSTGRES_DB NAME -> the URL of database NAME on the same server.
pg_database() { printf '%s/%s\n' "${1%/*}" "$2"; }

# find_round NAME RUNS ALLOW_NO_MATCH CMD... -> times RUNS runs of CMD (after one warm-up
# run) and appends their wall times in seconds, one per line, to $LOGS/NAME.times; CMD's
# stdout goes to /dev/null. ALLOW_NO_MATCH=1 accepts exit status 1 (find found nothing).
# `catalog_one` calls it in rounds that alternate esker and plocate, so that a change in the
# machine's load moves both sides of a ratio alike.
find_round() {
  local name=$1 runs=$2 allow=$3
  shift 3
  local times="$LOGS/$name.times"
  if command -v hyperfine >/dev/null; then
    local json="$LOGS/$name.hyperfine.json" quoted ignore=()
    quoted=$(printf '%q ' "$@")
    [ "$allow" = 1 ] && ignore=(--ignore-failure)
    # --shell=none: no shell start-up in the figure; the command line is split like a shell would.
    hyperfine --shell=none --style none --warmup 1 --runs "$runs" "${ignore[@]}" --export-json "$json" \
      "$quoted" >>"$LOGS/$name.hyperfine.txt" 2>&1 ||
      { tail -n 20 "$LOGS/$name.hyperfine.txt" >&2; die "hyperfine failed for $name"; }
    python3 -c 'import json, sys; print("\n".join("%.6f" % t for t in json.load(open(sys.argv[1]))["results"][0]["times"]))' "$json" >>"$times"
  else
    local run start end status
    for run in $(seq 0 "$runs"); do
      start=$(date +%s%N)
      status=0
      "$@" >/dev/null 2>>"$LOGS/$name.err" || status=$?
      end=$(date +%s%N)
      if [ "$status" -ne 0 ] && ! { [ "$allow" = 1 ] && [ "$status" -eq 1 ]; }; then
        die "$name: exit $status (see $LOGS/$name.err)"
      fi
      [ "$run" -ge 1 ] && awk -v ns=$((end - start)) 'BEGIN {printf "%.6f\n", ns / 1e9}' >>"$times" # run 0 warms up
    done
  fi
}

# find_summary NAME -> the median, min and max of NAME's timed runs in ms (one line).
find_summary() {
  python3 -c '
import statistics, sys
times = sorted(float(line) * 1000 for line in open(sys.argv[1]) if line.strip())
print("%.1f %.1f %.1f" % (statistics.median(times), times[0], times[-1]))' "$LOGS/$1.times"
}

# find_hits HOME QUERY -> how many matches `esker find` reports (checks the exit status too).
find_hits() {
  local home=$1 query=$2 status=0 out err
  out="$LOGS/find-check.out"
  err="$LOGS/find-check.err"
  "$ESKER" --home "$home" find --limit 100 --json "$query" >"$out" 2>"$err" || status=$?
  case "$status" in
    0) ;;
    1) [ ! -s "$out" ] || die "esker find '$query' exited 1 with output" ;;
    *) cat "$err" >&2; die "esker find '$query' failed (exit $status)" ;;
  esac
  # Past the limit, find says "showing 100 of N matches" on stderr (N with thousands
  # separators; "of up to N" when it only knows a bound, which the caller's check reports).
  local total
  total=$(sed -n 's/^showing [0-9,]* of \(up to \)\{0,1\}\([0-9,]*\) matches.*/\2/p' "$err" | tr -d ',')
  if [ -n "$total" ]; then echo "$total"; else wc -l <"$out" | tr -d ' '; fi
}

# catalog_one BACKEND FILES: one catalog_bench run into a fresh catalog, then the finds.
catalog_one() {
  local backend=$1 files=$2
  local home url db="" name="catalog-$backend-$files"
  # The binaries for this backend; find_hits and find_round see these (bash locals are
  # dynamically scoped).
  local ESKER=$ESKER CATALOG_BENCH=$CATALOG_BENCH
  if [ "$backend" = postgres ]; then ESKER=$ESKER_PG CATALOG_BENCH=$CATALOG_BENCH_PG; fi
  home=$(mktemp -d "$WORK/homes/catalog-$backend.XXXXXX")
  case "$backend" in
    sqlite) url="sqlite://$home/catalog.db" ;;
    postgres)
      db="esker_bench_$$_${files}_$RANDOM"
      psql "$ESKER_TEST_PG_URL" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE $db" >/dev/null
      url=$(pg_database "$ESKER_TEST_PG_URL" "$db")
      server_cpu() { pg_server_cpu; }
      ;;
  esac
  measure "$name" 1 0 "$CATALOG_BENCH" --catalog "$url" --home "$home" --files "$files" --paths "$home/paths.txt"
  unset -f server_cpu
  local out=$MEASURED_OUT bench_cpu=$MEASURED_CPU server_cpu=$MEASURED_SERVER_CPU rss=$MEASURED_RSS
  local ingest_s ingest_rate index_s index_rate selective broad none want_selective want_broad
  ingest_s=$(json_field "$out" ingest_seconds)
  ingest_rate=$(json_field "$out" ingest_files_per_second)
  index_s=$(json_field "$out" index_seconds)
  index_rate=$(json_field "$out" index_files_per_second)
  selective=$(json_field "$out" query_selective)
  broad=$(json_field "$out" query_broad)
  none=$(json_field "$out" query_none)
  want_selective=$(json_field "$out" selective_files)
  want_broad=$(json_field "$out" broad_files)

  local catalog_bytes index_bytes
  index_bytes=$(du -sb "$home/index" | cut -f1)
  if [ "$backend" = sqlite ]; then
    catalog_bytes=$(du -cb "$home"/catalog.db* | tail -n 1 | cut -f1)
  else
    catalog_bytes=$(psql "$ESKER_TEST_PG_URL" -tAc "SELECT pg_database_size('$db')")
  fi

  # find: the whole process (start, open the catalog, catch-up check, search, read rows,
  # print), against this catalog only.
  export ESKER_CATALOG_URL=$url
  local hits_selective hits_broad hits_none
  hits_selective=$(find_hits "$home" "$selective")
  hits_broad=$(find_hits "$home" "$broad")
  hits_none=$(find_hits "$home" "$none")
  [ "$hits_selective" = "$want_selective" ] || die "find '$selective' found $hits_selective files, expected $want_selective"
  [ "$hits_broad" = "$want_broad" ] || die "find '$broad' found $hits_broad files, expected $want_broad"
  [ "$hits_none" = 0 ] || die "find '$none' found $hits_none files, expected none"
  local ms_selective ms_broad ms_none spread_selective spread_broad spread_none
  # plocate over the same paths (one database per size, built from the first backend's list).
  local pl_selective="- -" pl_broad="- -" pl_none="- -" pl_db="$WORK/plocate-$files.db" pl=()
  if command -v plocate-build >/dev/null; then
    if [ ! -f "$pl_db" ]; then
      log "$name: plocate-build of $(wc -l <"$home/paths.txt" | tr -d ' ') paths"
      plocate-build --plaintext --require-visibility no "$home/paths.txt" "$pl_db" >&2
    fi
    pl=(plocate --database "$pl_db" --ignore-case --limit 100)
    [ "$("${pl[@]}" --count "$selective")" = 10 ] || [ "$want_selective" != 10 ] ||
      log "plocate counts $("${pl[@]}" --count "$selective") paths with '$selective' (esker: $hits_selective)"
  fi
  # FIND_ROUNDS rounds per query, each FIND_RUNS / FIND_ROUNDS runs of esker and then as many
  # of plocate.
  local per_round=$(((FIND_RUNS + FIND_ROUNDS - 1) / FIND_ROUNDS)) round query kind allow
  for kind in selective broad none; do
    case "$kind" in
      selective) query=$selective allow=0 ;;
      broad) query=$broad allow=0 ;;
      none) query=$none allow=1 ;;
    esac
    log "$name: find '$query', $FIND_ROUNDS rounds of $per_round runs${pl[*]:+, alternating with plocate}"
    for round in $(seq "$FIND_ROUNDS"); do
      find_round "$name-find-$kind" "$per_round" "$allow" "$ESKER" --home "$home" find --limit 100 --json "$query"
      [ ${#pl[@]} -eq 0 ] || find_round "$name-plocate-$kind" "$per_round" "$allow" "${pl[@]}" "$query"
    done
  done
  unset ESKER_CATALOG_URL
  ms_selective=$(find_summary "$name-find-selective")
  ms_broad=$(find_summary "$name-find-broad")
  ms_none=$(find_summary "$name-find-none")
  if [ ${#pl[@]} -gt 0 ]; then
    pl_selective=$(find_summary "$name-plocate-selective")
    pl_broad=$(find_summary "$name-plocate-broad")
    pl_none=$(find_summary "$name-plocate-none")
    log "$name: plocate $pl_selective / $pl_broad / $pl_none ms (median min max)"
  fi
  read -r ms_selective spread_selective <<<"$ms_selective"
  read -r ms_broad spread_broad <<<"$ms_broad"
  read -r ms_none spread_none <<<"$ms_none"
  spread_selective=${spread_selective/ /-}
  spread_broad=${spread_broad/ /-}
  spread_none=${spread_none/ /-}
  log "$name: ingest $ingest_rate files/s, index $index_rate files/s, find $ms_selective / $ms_broad / $ms_none ms"

  printf '%s\n' "$backend	$files	$ingest_s	$ingest_rate	$index_s	$index_rate	$ms_selective	$ms_broad	$ms_none	$bench_cpu	$server_cpu	$rss	$catalog_bytes	$index_bytes	$selective=$hits_selective	$broad=$hits_broad	$none=$hits_none	$spread_selective	$spread_broad	$spread_none	${pl_selective// /|}	${pl_broad// /|}	${pl_none// /|}" >>"$CATALOG_TSV"

  if [ -n "$db" ]; then psql "$ESKER_TEST_PG_URL" -qc "DROP DATABASE $db" >/dev/null || log "could not drop database $db"; fi
  rm -rf "$home"
}

catalog_tables() {
  python3 - "$CATALOG_TSV" <<'EOF' | tee -a "$REPORT"
import sys

rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1], encoding="utf-8") if line.strip()]


def render(header, body, right):
    widths = [max(len(row[i]) for row in [header] + body) for i in range(len(header))]
    out = ["  ".join(cell.rjust(width) if i in right else cell.ljust(width)
                     for i, (cell, width) in enumerate(zip(row, widths))).rstrip()
           for row in [header, ["-" * width for width in widths]] + body]
    print("\n".join(out))


def count(text):
    return f"{int(float(text)):,}"


def gib(text):
    return f"{int(text) / 2**30:.2f}"


render(["backend", "files", "ingest files/s", "index files/s", "find selective ms", "find broad ms", "find no-hit ms"],
       [[r[0], count(r[1]), count(r[3]), count(r[5]), r[6], r[7], r[8]] for r in rows], set(range(1, 7)))
print()
print("Details: ingest and index seconds; CPU seconds of catalog_bench (ingest + index) and of the PostgreSQL")
print("server meanwhile; catalog_bench peak RSS; catalog size on disk (SQLite files or pg_database_size); index size;")
print("fastest and slowest run of each find.")
print("Matches per query (what find reported, checked against what catalog_bench planted):")
for r in rows:
    print(f"  {r[0]} {count(r[1])}: {', '.join(r[14:17])}")
print()
render(["backend", "files", "ingest s", "index s", "bench CPU s", "server CPU s", "peak RSS MiB", "catalog GiB",
        "index GiB", "selective min-max ms", "broad min-max ms", "no-hit min-max ms"],
       [[r[0], count(r[1]), f"{float(r[2]):.2f}", f"{float(r[4]):.2f}", r[9], r[10], f"{int(r[11]) / 1024:,.0f}", gib(r[12]), gib(r[13]), r[17], r[18],
         r[19]] for r in rows],
       set(range(1, 12)))

# find against plocate on the same paths: median (min-max) ms and the ratio of the medians.
if any(len(r) > 22 and not r[20].startswith("-") for r in rows):
    print()
    print("esker find vs plocate on the same paths (whole processes, --limit 100, case-insensitive); ratio = esker/plocate")
    body = []
    for r in rows:
        cells = [r[0], count(r[1])]
        for esker_ms, spread, pl in ((r[6], r[17], r[20]), (r[7], r[18], r[21]), (r[8], r[19], r[22])):
            parts = pl.split("|")
            if parts[0] == "-":
                cells += [esker_ms, "-", "-"]
                continue
            cells += [f"{esker_ms} ({spread})", f"{parts[0]} ({parts[1]}-{parts[2]})", f"{float(esker_ms) / float(parts[0]):.2f}x"]
        body.append(cells)
    render(["backend", "files", "esker selective", "plocate selective", "ratio", "esker broad", "plocate broad", "ratio",
            "esker no-hit", "plocate no-hit", "ratio"], body, set(range(1, 11)))
EOF
}

section_catalog() {
  catalog_prepare
  CATALOG_TSV="$WORK/catalog.tsv"
  : >"$CATALOG_TSV"
  local size backend
  for size in ${BENCH_CATALOG_SIZES:-1000000}; do
    for backend in ${BENCH_CATALOG_BACKENDS:-sqlite postgres}; do
      catalog_one "$backend" "$size"
    done
  done
  emit ""
  emit "Catalog ingest, index build and find latency (synthetic file share, examples/catalog_bench.rs)"
  emit "=============================================================================================="
  emit "ingest: insert_bundle + record_stored_bundle per bundle of 1000 files (one transaction each), catalog calls only;"
  emit "index: esker::search::catch_up over the whole catalog into a new tantivy index (what archive and find run);"
  emit "find: \`esker find --limit 100 --json WORD >/dev/null\`, whole process, median of $FIND_RUNS runs ($FIND_TIMER)."
  emit ""
  catalog_tables
}
