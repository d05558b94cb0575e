#!/usr/bin/env bash
# `cargo deny check advisories` against a local copy of the RustSec database, offline:
#   bash .ci/advisories.sh PATH
# PATH is a git checkout of https://github.com/rustsec/advisory-db (CI cannot reach GitHub, so
# .ci/run calls this only when BPTL_ADVISORY_DB names one; see README, "Supply chain").
set -euo pipefail
cd "$(dirname "$0")/.."
db="$(realpath "${1:?usage: .ci/advisories.sh PATH-TO-A-CHECKOUT-OF-rustsec/advisory-db}")"
if [ ! -d "$db/crates" ] || ! git -C "$db" rev-parse -q --verify HEAD >/dev/null; then
  echo "advisories: $db is not a git checkout of rustsec/advisory-db (no crates/ or no HEAD)" >&2
  exit 2
fi
# cargo-deny reads the default database (https://github.com/rustsec/advisory-db) from
# <db-path>/advisory-db-<hash of that URL> (cargo-deny 0.20); deny.toml's db-path is
# $BPTL_ADVISORY_DBS.
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
ln -s "$db" "$root/advisory-db-3157b0e258782691"
echo "advisories: RustSec database $(git -C "$db" log -1 --format='%h of %cs') at $db"
BPTL_ADVISORY_DBS="$root" cargo deny --offline check advisories
