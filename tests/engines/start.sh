#!/usr/bin/env bash
# tests/engines/start.sh ENGINE PORT — build (once) and run a real engine in the foreground.
#
# ENGINE: operaton | camunda. The engine-rest API answers at http://127.0.0.1:PORT/engine-rest;
# the engine is ready when GET /engine-rest/engine answers (this script then prints "ready").
# The engine's output goes to a log file whose path is printed first (BPTL_ENGINE_LOG overrides
# it). SIGINT/SIGTERM stop the engine. Maven's local repository caches the build: the first run
# downloads the engine (a few minutes), later runs build offline in seconds.
#
# Environment: BPTL_ENGINE_JAVA_HOME (default: JAVA_HOME, else Java 17), BPTL_ENGINE_JAVA_OPTS,
# BPTL_ENGINE_TZ (the JVM's time zone, default Europe/Amsterdam), BPTL_ENGINE_LOG.
set -euo pipefail

usage() { echo "usage: $0 operaton|camunda PORT" >&2; exit 2; }
[ $# -eq 2 ] || usage
engine=$1 port=$2
case "$engine" in operaton|camunda) ;; *) usage ;; esac
case "$port" in ''|*[!0-9]*) usage ;; esac

dir=$(cd "$(dirname "$0")/$engine" && pwd)
target=$dir/target

# Both engines run on Java 17 (Operaton 1.x and Camunda 7.24 CE alike).
java_home=${BPTL_ENGINE_JAVA_HOME:-${JAVA_HOME:-}}
if [ -z "$java_home" ] && [ -d /usr/lib/jvm/java-17-openjdk-amd64 ]; then
  java_home=/usr/lib/jvm/java-17-openjdk-amd64
fi
if [ -n "$java_home" ]; then
  export JAVA_HOME=$java_home
  java=$java_home/bin/java
else
  java=java
fi
command -v "$java" >/dev/null || { echo "start.sh: no java found (install a JDK 17)" >&2; exit 1; }
command -v mvn >/dev/null || { echo "start.sh: no mvn found (apt-get install -y maven)" >&2; exit 1; }

# Build when there is no build yet or the project changed. Offline first (everything cached),
# else online. A lock keeps two start.sh of one engine from building at once.
needs_build() {
  [ ! -f "$target/classpath.txt" ] && return 0
  [ -n "$(find "$dir/pom.xml" "$dir/src" -newer "$target/classpath.txt" -print -quit)" ]
}
exec 9>"$dir/.build.lock"
flock 9
if needs_build; then
  echo "start.sh: building $engine (mvn package; the first build downloads the engine)" >&2
  build_log=$(mktemp)
  if ! (cd "$dir" && mvn -B -q -o -DskipTests package >"$build_log" 2>&1); then
    if ! (cd "$dir" && mvn -B -q -DskipTests package >"$build_log" 2>&1); then
      tail -n 40 "$build_log" >&2
      rm -f "$build_log"
      echo "start.sh: the $engine build failed" >&2
      exit 1
    fi
  fi
  rm -f "$build_log"
fi
flock -u 9

log=${BPTL_ENGINE_LOG:-$target/engine-$port.log}
echo "start.sh: $engine on port $port, log: $log"
classpath="$target/classes:$(cat "$target/classpath.txt")"
[ -d "$target/extra" ] && classpath="$classpath:$target/extra/*"

# shellcheck disable=SC2086 # the options are words
# Europe/Amsterdam, not UTC: dates come back with the engine's own offset, as in production.
"$java" -Duser.timezone="${BPTL_ENGINE_TZ:-Europe/Amsterdam}" ${BPTL_ENGINE_JAVA_OPTS:--Xms256m -Xmx1g} -cp "$classpath" bptl.engine.Engine \
  --server.port="$port" --server.address=127.0.0.1 >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; exit 143' TERM INT

url=http://127.0.0.1:$port/engine-rest
while kill -0 "$pid" 2>/dev/null; do
  if curl -fsS -o /dev/null "$url/engine" 2>/dev/null; then
    echo "start.sh: $engine ready at $url"
    break
  fi
  sleep 0.3
done
status=0
wait "$pid" || status=$?
echo "start.sh: $engine exited ($status); log: $log" >&2
exit "$status"
