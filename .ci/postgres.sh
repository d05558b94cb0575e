#!/usr/bin/env bash
# Install (when missing) and start Debian's PostgreSQL for the tests, as root:
# the role `postgres` gets the password `postgres` for TCP connections on 127.0.0.1:5432, and
# the server speaks TLS (ssl = on, Debian's snakeoil certificate).
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

# TLS for bptl-store's tests/connect.rs (postgres_over_tls_when_the_url_asks_for_it): Debian's
# snakeoil certificate from the ssl-cert package, readable by the server (group ssl-cert).
# A cluster created before ssl-cert was installed has ssl off: turn it on and reload.
cert=/etc/ssl/certs/ssl-cert-snakeoil.pem
key=/etc/ssl/private/ssl-cert-snakeoil.key
if [ ! -r "$cert" ] || [ ! -r "$key" ]; then
  log "installing ssl-cert (the snakeoil certificate)"
  export DEBIAN_FRONTEND=noninteractive
  dpkg -s ssl-cert >/dev/null 2>&1 || { apt-get update -qq; apt-get install -y -qq ssl-cert >/dev/null; }
  [ -r "$key" ] || make-ssl-cert generate-default-snakeoil --force-overwrite
fi
id -nG postgres | grep -qw ssl-cert || usermod -a -G ssl-cert postgres
psql_admin() { runuser -u postgres -- psql -qtA -v ON_ERROR_STOP=1 "$@"; }
if [ "$(psql_admin -c 'SHOW ssl')" != on ]; then
  log "turning ssl on (snakeoil certificate)"
  psql_admin -c "ALTER SYSTEM SET ssl_cert_file = '$cert'" \
    -c "ALTER SYSTEM SET ssl_key_file = '$key'" -c "ALTER SYSTEM SET ssl = on" \
    -c "SELECT pg_reload_conf()" >/dev/null
  sleep 1
  if [ "$(psql_admin -c 'SHOW ssl')" != on ]; then
    log "reload did not turn ssl on; restarting cluster $version/main"
    pg_ctlcluster --skip-systemctl-redirect "$version" main restart
    for _ in $(seq 1 60); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
  fi
fi
if [ "$(psql_admin -c 'SHOW ssl')" != on ]; then
  log "ssl is still off; the server's log:"
  tail -n 20 "/var/log/postgresql/postgresql-$version-main.log" || true
  exit 1
fi
log "PostgreSQL $version ready on 127.0.0.1:5432, TLS on"
