#!/usr/bin/env bash
# Install (when missing) and start Debian's PostgreSQL for the tests, as root:
# the role `postgres` gets the password `postgres` for TCP connections on 127.0.0.1:5432.
set -euo pipefail

log() { echo "ci/postgres: $*"; }

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || ! command -v pg_ctlcluster >/dev/null; then
  log "installing PostgreSQL from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi

version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
if [ ! -d "/etc/postgresql/$version/main" ]; then
  log "creating cluster $version/main"
  pg_createcluster "$version" main >/dev/null
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  log "starting cluster $version/main"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
fi

for _ in $(seq 1 60); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 0.5
done
if ! pg_isready -h 127.0.0.1 -p 5432; then
  log "PostgreSQL did not become ready; its log:"
  tail -n 50 "/var/log/postgresql/postgresql-$version-main.log" || true
  exit 1
fi

runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 -c "ALTER ROLE postgres PASSWORD 'postgres'"
log "PostgreSQL $version ready on 127.0.0.1:5432"
