# Section `crawl` of scripts/bench.sh: esker's crawl (`esker archive --dry-run`) next to
# `find -printf` of the same stat fields, warm cache. Sourced.
#
# Settings (environment):
#   BENCH_TREES  the trees to crawl (default "t200k t1m l20x64m", issue 8's T1, T2, T3; see bench_trees in scripts/bench/lib.sh)
#
# Issue 8's target: crawl <= 0.8x `find -printf`.

# crawl_esker NAME RUN TREE: one measured `esker archive --dry-run` in a fresh home (made
# before the clock starts).
crawl_esker() {
  local home
  home=$(fresh_home)
  measure "$1" "$2" 0 "$ESKER" --home "$home" archive --dry-run --quiet "${JOB_ARGS[@]}" "$3"
  rm -rf "$home"
}

# crawl_find NAME RUN TREE: one measured `find -printf` of path, size, mtime, mode, uid, gid.
crawl_find() {
  measure "$1" "$2" 0 sh -c 'exec find "$1" -printf "%p %s %T@ %m %U %G\n" >/dev/null' find "$3"
}

section_crawl() {
  TOOL_VERSIONS+=("find:      $(find --version | head -n 1)")
  local tree name run
  for tree in $(bench_trees); do
    name=$(basename "$tree")
    # Warm the page cache and the dentry/inode caches: one unmeasured run of each.
    log "warming the caches for $name"
    crawl_esker "crawl-warm-esker-$name" 0 "$tree"
    crawl_find "crawl-warm-find-$name" 0 "$tree"
    sed -i "/^crawl-warm-/d" "$RESULTS"
    for run in $(seq 1 "$RUNS"); do
      # Alternate which tool goes first.
      if [ $((run % 2)) -eq 1 ]; then
        crawl_esker "crawl-esker-$name" "$run" "$tree"
        crawl_find "crawl-find-$name" "$run" "$tree"
      else
        crawl_find "crawl-find-$name" "$run" "$tree"
        crawl_esker "crawl-esker-$name" "$run" "$tree"
      fi
    done
    emit ""
    table --title "crawl, warm cache: $name" \
      --note "tree $(tree_note "$tree")" \
      --note "esker: archive --dry-run --quiet ${JOB_ARGS[*]:-(default -j: one packer per CPU)} (crawl + bundle plan; nothing read or written but a fresh home)." \
      --note "find: -printf '%p %s %T@ %m %U %G\\n' > /dev/null (the same stat fields). One unmeasured run of each first." \
      --note "Issue 8 target: esker <= 0.8x find." \
      --row "crawl-esker-$name" "esker archive --dry-run" \
      --row "crawl-find-$name" "find -printf" \
      --ratio "crawl-esker-$name" "crawl-find-$name" "ratio esker/find (wall)"
  done
}
