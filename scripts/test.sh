#!/usr/bin/env bash
# Runs every esker test on a fresh Debian machine: installs what is missing, starts the
# fixtures the tests need, runs the whole suite. Usage: scripts/test.sh [nextest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }

# --- system packages -------------------------------------------------------------------
missing=()
command -v tar >/dev/null || missing+=(tar)          # GNU tar extracts bundles in the tests
command -v setpriv >/dev/null || missing+=(util-linux) # drop root to test unreadable files
command -v setfacl >/dev/null || missing+=(acl)         # POSIX ACLs on test trees
command -v strace >/dev/null || missing+=(strace)       # proves restores make no path-based calls in the target tree
{ command -v slapd >/dev/null || [ -x /usr/sbin/slapd ]; } || missing+=(slapd) # LDAP identity tests
command -v ldapsearch >/dev/null || missing+=(ldap-utils)
command -v cc >/dev/null || missing+=(gcc)            # bundled SQLite and zstd are C
command -v python3 >/dev/null || missing+=(python3 python3-venv) # moto, the S3 test server
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql) # catalog tests on PostgreSQL
[ -e /usr/include/postgresql/libpq-fe.h ] || missing+=(libpq-dev) # the `postgres` feature links the system libpq
command -v openssl >/dev/null || missing+=(openssl)   # the PostgreSQL fixture's TLS certificate
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    log "missing packages: ${missing[*]} (run as root, or install them first)"
    exit 2
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- Rust test runner ---------------------------------------------------------------------
if ! cargo nextest --version >/dev/null 2>&1; then
  log "installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

# --- fixtures: real servers on 127.0.0.1 -------------------------------------------------------
trap 'scripts/fixtures/moto.sh stop; scripts/fixtures/postgres.sh stop; scripts/fixtures/ldap.sh stop' EXIT
log "starting moto (S3) on a loopback port"
eval "$(scripts/fixtures/moto.sh start)"
log "starting a throwaway PostgreSQL cluster on a loopback port"
eval "$(scripts/fixtures/postgres.sh start)"
log "starting a throwaway OpenLDAP (slapd) on a loopback port"
eval "$(scripts/fixtures/ldap.sh start)"

# --- build and test -----------------------------------------------------------------------
log "building the default binary (no system libraries)"
cargo build --workspace --locked

# The crash-and-resume tests arm failpoints, which exist only with the `failpoints` feature.
log "running tests (catalogs on SQLite)"
cargo nextest run --workspace --locked --no-fail-fast --features failpoints "$@"
log "running the end-to-end tests on the postgres build, catalogs on PostgreSQL"
ESKER_TEST_BACKEND=postgres cargo nextest run --locked --no-fail-fast --features postgres,failpoints --test cli "$@"
