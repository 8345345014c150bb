# Section `archive` of scripts/bench.sh: `esker archive` to the local store next to
# `tar -cf` of the same tree, both writing to the disk the tree is on. Sourced.
#
# Settings (environment):
#   BENCH_TREES  the trees to archive (default "t200k t1m l20x64m", issue 8's T1, T2, T3; see bench_trees in scripts/bench/lib.sh)
#
# Issue 8's target: archive <= 1.3x `tar -cf`. esker also hashes every file and every bundle
# with BLAKE3, writes the catalog and the index and fsyncs its bundles; tar does none of that.

# archive_esker NAME RUN TREE: one measured `esker archive` to the local store of a fresh
# home (default caps); `sync` first, the home deleted after.
archive_esker() {
  local home
  home=$(fresh_home)
  sync
  measure "$1" "$2" - "$ESKER" --home "$home" archive --quiet --json "${JOB_ARGS[@]}" "$3"
  local failed
  failed=$(json_field "$MEASURED_OUT" bundles_failed)
  [ "$failed" = 0 ] || die "esker reported $failed failed bundles (see $MEASURED_OUT)"
  set_payload "$(json_field "$MEASURED_OUT" bytes_archived)"
  ARCHIVE_LAST_BUNDLES=$(find "$home/store" -name '*.tar' | wc -l | tr -d ' ')
  ARCHIVE_LAST_STORE=$(du -sb "$home" | cut -f1)
  rm -rf "$home"
}

# archive_tar NAME RUN TREE BYTES: one measured `tar -cf` of TREE into $WORK (same disk);
# `sync` first, the tar deleted after.
archive_tar() {
  local out="$WORK/homes/bench.tar"
  rm -f "$out"
  sync
  measure "$1" "$2" "$4" tar -cf "$out" -C "$(dirname "$3")" "$(basename "$3")"
  TAR_LAST_BYTES=$(stat -c %s "$out")
  rm -f "$out"
}

section_archive() {
  TOOL_VERSIONS+=("tar:       $(tar --version | head -n 1)")
  local tree name run bytes target
  for tree in $(bench_trees); do
    name=$(basename "$tree")
    bytes=$(tree_bytes "$tree")
    # One unmeasured run of each first, as in the crawl section: it reads the tree into the
    # page cache (as far as it fits) and the binaries' pages with it, so that no measured
    # run pays for a first read.
    log "warming the caches for $name (one unmeasured run of each)"
    archive_esker "archive-warm-esker-$name" 0 "$tree"
    archive_tar "archive-warm-tar-$name" 0 "$tree" "$bytes"
    sed -i "/^archive-warm-/d" "$RESULTS"
    for run in $(seq 1 "$RUNS"); do
      if [ $((run % 2)) -eq 1 ]; then
        archive_esker "archive-esker-$name" "$run" "$tree"
        archive_tar "archive-tar-$name" "$run" "$tree" "$bytes"
      else
        archive_tar "archive-tar-$name" "$run" "$tree" "$bytes"
        archive_esker "archive-esker-$name" "$run" "$tree"
      fi
    done
    # Issue 8's targets: 1.3x tar on T1 and T2, 1.1x on T3 (l20x64m).
    target=1.3
    [ "$name" != l20x64m ] || target=1.1
    emit ""
    table --title "archive to local disk: $name" \
      --note "tree $(tree_note "$tree")" \
      --note "esker: --home FRESH archive --quiet ${JOB_ARGS[*]:-(default -j)} to the local store, default caps ($ARCHIVE_LAST_BUNDLES bundles, $(mib "$ARCHIVE_LAST_STORE") home);" \
      --note "  includes crawl, BLAKE3 of every file and bundle, catalog, index and fsync'd bundles + manifests." \
      --note "tar: -cf OUT.tar -C PARENT $name ($(mib "$TAR_LAST_BYTES")); no hashing, no fsync." \
      --note "Both write to the tree's disk; outputs deleted and \`sync\` run before each run. One unmeasured run of each first. MiB/s = file data / wall." \
      --note "Issue 8 target: esker <= ${target}x tar." \
      --row "archive-esker-$name" "esker archive (local store)" \
      --row "archive-tar-$name" "tar -cf" \
      --ratio "archive-esker-$name" "archive-tar-$name" "ratio esker/tar (wall)"
  done
  archive_rss_ratio
}

# archive_rss_ratio: when both the 200k and the 1M tree were archived, esker's peak RSS on
# the larger over the smaller (issue 8: memory must not grow with the file count).
archive_rss_ratio() {
  python3 - "$RESULTS" <<'PY' | tee -a "$REPORT"
import statistics, sys

rss = {}
for line in open(sys.argv[1], encoding="utf-8"):
    fields = line.split("\t")
    if fields[0].startswith("archive-esker-"):
        rss.setdefault(fields[0][len("archive-esker-"):], []).append(int(fields[3]))
if "t200k" in rss and "t1m" in rss:
    small, large = statistics.median(rss["t200k"]), statistics.median(rss["t1m"])
    print()
    print(f"esker archive peak RSS, median: t1m {large / 1024:,.0f} MiB, t200k {small / 1024:,.0f} MiB; "
          f"ratio t1m/t200k {large / small:.2f} (issue 8: < 300 MiB on t1m, ratio < 1.3)")
PY
}
