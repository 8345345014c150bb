# Section `hash` of scripts/bench.sh: BLAKE3 over the same files, `b3sum` next to esker.
# esker has no hash-only mode, so its side is a full `esker archive` to the local store,
# which hashes every file and every bundle (BLAKE3) and does everything else an archive does:
# the comparison bounds esker's hashing from above, it does not isolate it. Sourced.
#
# Settings (environment):
#   BENCH_TREES  the trees to hash (default "t200k t1m l20x64m", issue 8's T1, T2, T3; see bench_trees in scripts/bench/lib.sh)
#   B3SUM        the b3sum binary (default: on PATH, else $BENCH_DIR/tools/bin/b3sum,
#                installed there with `cargo install b3sum --locked` when missing)

hash_prepare() {
  if [ -n "${B3SUM:-}" ]; then
    :
  elif command -v b3sum >/dev/null; then
    B3SUM=$(command -v b3sum)
  else
    B3SUM="$BENCH_DIR/tools/bin/b3sum"
    if [ ! -x "$B3SUM" ]; then
      log "installing b3sum into $BENCH_DIR/tools (cargo install b3sum --locked)"
      cargo install b3sum --locked --root "$BENCH_DIR/tools" >&2
    fi
  fi
  [ -x "$B3SUM" ] || die "no b3sum at $B3SUM"
  TOOL_VERSIONS+=("b3sum:     $("$B3SUM" --version) ($B3SUM)")
}

# hash_b3sum NAME RUN TREE BYTES [XARGS_ARGS...]: one measured `find -type f -print0 |
# xargs -0 b3sum > /dev/null`.
hash_b3sum() {
  local name=$1 run=$2 tree=$3 bytes=$4
  shift 4
  measure "$name" "$run" "$bytes" sh -c 'b3=$1 tree=$2; shift 2; find "$tree" -type f -print0 | xargs -0 "$@" "$b3" >/dev/null' \
    hash "$B3SUM" "$tree" "$@"
}

section_hash() {
  hash_prepare
  # archive_esker comes from the archive section.
  declare -F archive_esker >/dev/null || source "$REPO/scripts/bench/archive.sh"
  local tree name run bytes cpus
  cpus=$(nproc)
  for tree in $(bench_trees); do
    name=$(basename "$tree")
    bytes=$(tree_bytes "$tree")
    log "warming the caches for $name"
    hash_b3sum "hash-warm-$name" 0 "$tree" "$bytes"
    sed -i "/^hash-warm-/d" "$RESULTS"
    for run in $(seq 1 "$RUNS"); do
      if [ $((run % 2)) -eq 1 ]; then
        archive_esker "hash-esker-$name" "$run" "$tree"
        hash_b3sum "hash-b3sum-$name" "$run" "$tree" "$bytes"
        hash_b3sum "hash-b3sum-p-$name" "$run" "$tree" "$bytes" -P "$cpus" -n 1000
      else
        hash_b3sum "hash-b3sum-p-$name" "$run" "$tree" "$bytes" -P "$cpus" -n 1000
        hash_b3sum "hash-b3sum-$name" "$run" "$tree" "$bytes"
        archive_esker "hash-esker-$name" "$run" "$tree"
      fi
    done
    emit ""
    table --title "BLAKE3 over the same files: $name" \
      --note "tree $(tree_note "$tree")" \
      --note "esker has no hash-only mode: its row is a full archive to the local store (fresh home, \`sync\` first), which" \
      --note "  hashes every file and every bundle with BLAKE3 and also tars, catalogs, indexes and fsyncs. An upper bound on its hashing." \
      --note "b3sum: find TREE -type f -print0 | xargs -0 b3sum > /dev/null (one b3sum at a time; for small files b3sum" \
      --note "  hashes one file after another on one thread). The -P row runs $cpus b3sum processes of 1000 files each." \
      --note "Peak RSS of the b3sum rows is the largest single process of the pipeline. MiB/s = file data / wall." \
      --row "hash-esker-$name" "esker archive (includes hashing)" \
      --row "hash-b3sum-$name" "b3sum (find | xargs -0 b3sum)" \
      --row "hash-b3sum-p-$name" "b3sum, xargs -P $cpus -n 1000" \
      --ratio "hash-esker-$name" "hash-b3sum-$name" "ratio esker archive/b3sum (wall)" \
      --ratio "hash-esker-$name" "hash-b3sum-p-$name" "ratio esker archive/b3sum -P $cpus (wall)"
  done
}
