# Section `s3` of scripts/bench.sh: upload throughput and memory of esker's S3 store against
# a local moto server, next to `aws s3 cp --recursive` of the same bundles. Sourced.
#
# Settings (environment):
#   BENCH_S3_FILES  files in the throughput tree (default 20000, ~230 MiB; gen_tree.py)
#   BENCH_S3_CLASS  storage class of both clients' uploads (default DEEP_ARCHIVE)

VENV="$REPO/.venv"
ESKER_ENV=() # variables set for esker alone (a measurement variant)

s3_prepare() {
  # moto: reuse a server that is already running (tests may be using it) and leave it
  # running; stop it on exit only if this script started it.
  if "$REPO/scripts/fixtures/moto.sh" env >/dev/null 2>&1; then
    MOTO_NOTE="reused a moto server that was already running"
  else
    MOTO_NOTE="started by this run"
    on_exit '"$REPO/scripts/fixtures/moto.sh" stop'
  fi
  eval "$("$REPO/scripts/fixtures/moto.sh" start)"
  [ -n "${ESKER_TEST_S3_ENDPOINT:-}" ] || die "moto.sh did not export ESKER_TEST_S3_ENDPOINT"
  if [ ! -x "$VENV/bin/aws" ]; then
    log "installing awscli into $VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check awscli >&2
  fi
  # Both clients see only the moto credentials moto.sh exported: no profile or config file
  # of this machine's user changes their behaviour.
  : >"$WORK/aws-config"
  : >"$WORK/aws-credentials"
  export AWS_CONFIG_FILE="$WORK/aws-config" AWS_SHARED_CREDENTIALS_FILE="$WORK/aws-credentials"
  unset AWS_PROFILE AWS_DEFAULT_PROFILE
  TOOL_VERSIONS+=(
    "moto:      $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))') ($MOTO_NOTE, $ESKER_TEST_S3_ENDPOINT)"
    "aws cli:   $("$VENV/bin/aws" --version 2>&1 | head -n 1)"
  )
}

# server_cpu -> CPU seconds (user + system) moto has used so far; `measure` records the
# difference as the server's share of each measurement.
server_cpu() {
  local pid
  pid=$(cat "$REPO/.fixtures/moto.pid" 2>/dev/null) || return 0
  [ -r "/proc/$pid/stat" ] || return 0
  # Fields 14 and 15 of /proc/PID/stat: user and system time in clock ticks.
  sed 's/^.*) //' "/proc/$pid/stat" | awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f\n", ($12 + $13) / hz}'
}

aws_cli() { "$VENV/bin/aws" --endpoint-url "$ESKER_TEST_S3_ENDPOINT" --region us-east-1 "$@"; }

S3_BUCKETS=0
# new_bucket TAG: creates a fresh bucket on moto and sets BUCKET to its name.
new_bucket() {
  S3_BUCKETS=$((S3_BUCKETS + 1))
  BUCKET="bench-$$-$1-$S3_BUCKETS"
  aws_cli s3 mb "s3://$BUCKET" >/dev/null
}

# drop_bucket BUCKET: deletes it with its objects (moto holds on to them until then).
drop_bucket() { aws_cli s3 rb --force "s3://$1" >/dev/null; }

# object_count BUCKET -> objects in the bucket.
object_count() { aws_cli s3 ls --recursive "s3://$1/" | wc -l | tr -d ' '; }

# s3_home BUCKET -> a fresh esker home whose config has the store `cold` on BUCKET.
s3_home() {
  local home
  home=$(mktemp -d "$WORK/homes/s3.XXXXXX")
  cat >"$home/config.toml" <<EOF
[stores.cold]
kind = "s3"
bucket = "$1"
endpoint_url = "$ESKER_TEST_S3_ENDPOINT"
force_path_style = true
region = "us-east-1"
storage_class = "${BENCH_S3_CLASS:-DEEP_ARCHIVE}"
EOF
  printf '%s\n' "$home"
}

# check_archived OUT: the --json summary says every bundle was stored.
check_archived() {
  local failed
  failed=$(json_field "$1" bundles_failed)
  [ "$failed" = 0 ] || die "esker reported $failed failed bundles (see $1)"
}

# esker_s3 NAME RUN TREE ARGS...: one measured `esker archive` into a fresh bucket; the
# payload is the bundles' bytes from esker's own summary.
esker_s3() {
  local name=$1 run=$2 tree=$3
  shift 3
  local bucket home
  new_bucket esker
  bucket=$BUCKET
  home=$(s3_home "$bucket")
  measure "$name" "$run" - env "${ESKER_ENV[@]}" "$ESKER" --home "$home" archive --json --store cold "${JOB_ARGS[@]}" "$@" "$tree"
  check_archived "$MEASURED_OUT"
  set_payload "$(json_field "$MEASURED_OUT" bundle_bytes)"
  S3_LAST_OBJECTS=$(object_count "$bucket")
  drop_bucket "$bucket"
  rm -rf "$home"
}

# esker_dry NAME RUN TREE: one measured `esker archive --dry-run` (crawl and plan only).
esker_dry() {
  local home
  home=$(mktemp -d "$WORK/homes/dry.XXXXXX")
  measure "$1" "$2" 0 "$ESKER" --home "$home" archive --dry-run --json "${JOB_ARGS[@]}" "$3"
  rm -rf "$home"
}

# aws_startup NAME RUN: one measured `aws s3 ls` of an empty bucket: the CLI's start-up
# (Python, botocore) plus one request.
aws_startup() {
  new_bucket ls
  measure "$1" "$2" 0 "$VENV/bin/aws" --endpoint-url "$ESKER_TEST_S3_ENDPOINT" --region us-east-1 s3 ls "s3://$BUCKET/"
  drop_bucket "$BUCKET"
}

# esker_local NAME RUN TREE ARGS...: one measured `esker archive` into the built-in local store.
esker_local() {
  local name=$1 run=$2 tree=$3
  shift 3
  local home
  home=$(mktemp -d "$WORK/homes/local.XXXXXX")
  measure "$name" "$run" - "$ESKER" --home "$home" archive --json "${JOB_ARGS[@]}" "$@" "$tree"
  check_archived "$MEASURED_OUT"
  set_payload "$(json_field "$MEASURED_OUT" bundle_bytes)"
  rm -rf "$home"
}

# aws_cp NAME RUN DIR PAYLOAD: one measured `aws s3 cp --recursive` of DIR into a fresh bucket.
aws_cp() {
  local name=$1 run=$2 dir=$3 payload=$4
  local bucket
  new_bucket aws
  bucket=$BUCKET
  measure "$name" "$run" "$payload" "$VENV/bin/aws" --endpoint-url "$ESKER_TEST_S3_ENDPOINT" --region us-east-1 s3 cp --recursive --only-show-errors --no-progress \
    --storage-class "${BENCH_S3_CLASS:-DEEP_ARCHIVE}" "$dir" "s3://$bucket/"
  S3_LAST_OBJECTS=$(object_count "$bucket")
  drop_bucket "$bucket"
}

section_s3() {
  s3_prepare
  local files=${BENCH_S3_FILES:-20000} name tree
  if [ $((files % 1000)) -eq 0 ]; then name="t$((files / 1000))k"; else name="t$files"; fi
  tree=$(ensure_tree "$name" scripts/gen_tree.py "$files")
  # Files of distinct content, so that no deduplication can skip any of them.
  local big_tree one_tree
  one_tree=$(ensure_tree d200x1m scripts/bench/gen_distinct.py 200 1) # 200 files of 1 MiB
  big_tree=$(ensure_tree d1x512m scripts/bench/gen_distinct.py 1 512) # 1 file of 512 MiB

  # --- throughput ---------------------------------------------------------------------
  # One unmeasured run into a local store: warms the page cache (every measured run then
  # reads the tree from memory) and leaves the bundles that `aws s3 cp` uploads.
  log "preparing the bundles for aws s3 cp (unmeasured esker run to a local store)"
  local source_home="$WORK/homes/bundles"
  mkdir -p "$source_home"
  "$ESKER" --home "$source_home" archive --json "${JOB_ARGS[@]}" "$tree" >"$LOGS/bundles.out" 2>"$LOGS/bundles.err" ||
    die "esker archive to a local store failed: see $LOGS/bundles.err"
  check_archived "$LOGS/bundles.out"
  local upload_dir="$WORK/upload"
  mkdir -p "$upload_dir"
  mv "$source_home/store/bundles" "$source_home/store/manifests" "$upload_dir/"
  rm -rf "$source_home"
  local bundles tar_bytes manifest_bytes objects data_bytes
  bundles=$(find "$upload_dir/bundles" -name '*.tar' | wc -l | tr -d ' ')
  tar_bytes=$(tree_bytes "$upload_dir/bundles")
  manifest_bytes=$(tree_bytes "$upload_dir/manifests")
  objects=$(tree_files "$upload_dir")
  data_bytes=$(json_field "$LOGS/bundles.out" bytes_archived)

  # Both uploads must leave the same objects: the bundles and their manifests.
  throughput_esker() {
    esker_s3 esker-s3 "$1" "$tree"
    [ "$S3_LAST_OBJECTS" = "$objects" ] || die "esker left $S3_LAST_OBJECTS objects in the bucket, expected $objects"
  }
  throughput_aws() {
    aws_cp aws-cp "$1" "$upload_dir" "$tar_bytes"
    [ "$S3_LAST_OBJECTS" = "$objects" ] || die "aws s3 cp left $S3_LAST_OBJECTS objects in the bucket, expected $objects"
  }
  local run
  for run in $(seq 1 "$RUNS"); do
    # Alternate which client goes first, so neither always meets a warmer (or more
    # loaded) server.
    if [ $((run % 2)) -eq 1 ]; then
      throughput_esker "$run"
      throughput_aws "$run"
    else
      throughput_aws "$run"
      throughput_esker "$run"
    fi
    esker_local esker-local "$run" "$tree"
    esker_dry esker-dry "$run" "$tree"
    aws_startup aws-startup "$run"
  done
  rm -rf "$upload_dir"

  emit ""
  table --title "S3 upload throughput (moto on 127.0.0.1)" \
    --note "tree $name: $files files, $(mib "$data_bytes") of file data -> $bundles bundles, $(mib "$tar_bytes") of tar + $(mib "$manifest_bytes") of manifests ($objects objects)" \
    --note "MiB/s = bundle tar bytes / wall time. esker's wall time includes crawl, BLAKE3, tar, SHA-256 part checksums, catalog and index;" \
    --note "aws s3 cp uploads the same bundles and manifests, already packed by an earlier esker run to a local store." \
    --note "esker settings: ${JOB_ARGS[*]:-default -j (one packer per CPU)}, part_size 16 MiB, upload_concurrency 4; aws cli: defaults (8 MiB parts, 10 requests in flight)." \
    --note "CPU s = user + system seconds of the client; server CPU s = seconds moto used meanwhile." \
    --row esker-s3 "esker archive -> S3" \
    --row aws-cp "aws s3 cp --recursive (same bundles)" \
    --row esker-local "esker archive -> local store" \
    --row esker-dry "esker archive --dry-run (crawl + plan)" \
    --row aws-startup "aws s3 ls, empty bucket (CLI start-up)" \
    --ratio esker-s3 aws-cp "ratio esker/aws (wall)" \
    --diff esker-s3 esker-local "esker S3 - local store (time the S3 upload adds)" \
    --diff aws-cp aws-startup "aws s3 cp - CLI start-up (upload time net of start-up)"

  # --- memory -------------------------------------------------------------------------
  for run in $(seq 1 "$RUNS"); do
    esker_s3 mem-1 "$run" "$one_tree" --max-files 1000 --max-size 2GiB
    esker_s3 mem-100 "$run" "$one_tree" --max-files 2 --max-size 2GiB
    esker_s3 mem-big "$run" "$big_tree" --max-files 1000 --max-size 2GiB
    # The same with glibc's mmap threshold pinned at 1 MiB: freed part buffers go back to
    # the kernel at once instead of staying in the heap (see BENCHMARKS.md).
    ESKER_ENV=(MALLOC_MMAP_THRESHOLD_=1048576)
    esker_s3 mem-big-mmap "$run" "$big_tree" --max-files 1000 --max-size 2GiB
    ESKER_ENV=()
    esker_local mem-1-local "$run" "$one_tree" --max-files 1000 --max-size 2GiB
  done
  emit ""
  table --title "esker peak memory vs bundle count and bundle size (S3 store, moto)" \
    --note "Expected bound: part_size x (upload_concurrency + 1) per packer = 16 MiB x 5 = 80 MiB per bundle in flight," \
    --note "whatever the bundle count or size, above the baseline of the same archive to a local store." \
    --note "Peak RSS is /usr/bin/time's maximum resident set size." \
    --row mem-1 "200 x 1 MiB files -> 1 bundle (13 parts)" \
    --row mem-100 "200 x 1 MiB files -> 100 bundles (1 PUT each)" \
    --row mem-big "1 x 512 MiB file -> 1 bundle (33 parts)" \
    --row mem-big-mmap "same, MALLOC_MMAP_THRESHOLD_=1048576" \
    --row mem-1-local "200 x 1 MiB -> 1 bundle, local store (baseline)" \
    --diff mem-1 mem-1-local "1 bundle: S3 - local store wall time"
  unset -f server_cpu
}
