#!/usr/bin/env bash
# Checks the deployment files: the systemd unit with `systemd-analyze verify`, the Kubernetes
# manifest against the Kubernetes schema (kubernetes-validate from PyPI ships the schemas, so
# nothing is downloaded from GitHub), the sample bptl.toml and the ConfigMap's copy with
# `worker check`, and that shutdown_grace leaves time before Kubernetes' SIGKILL.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! command -v systemd-analyze >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq systemd >/dev/null
fi
if ! command -v kubernetes-validate >/dev/null; then
  pip3 install -q kubernetes-validate==1.37.0
fi

cargo build -q --example worker
worker="${CARGO_TARGET_DIR:-target}/debug/examples/worker"
worker=$(realpath "$worker")

# The unit names /usr/local/bin/bptl-worker; verify it with the binary just built.
sed "s|/usr/local/bin/bptl-worker|$worker|g" deploy/bptl.service > "$tmp/bptl.service"
out=$(systemd-analyze verify "$tmp/bptl.service" 2>&1) || { echo "$out"; exit 1; }
if [ -n "$out" ]; then echo "systemd-analyze verify deploy/bptl.service:"; echo "$out"; exit 1; fi
echo "deploy/bptl.service: systemd-analyze verify OK"

kubernetes-validate --strict --quiet deploy/kubernetes.yaml
echo "deploy/kubernetes.yaml: valid against the Kubernetes 1.37 schema"

ENGINE_PASSWORD=check "$worker" check --config deploy/bptl.toml
python3 - "$tmp/configmap.toml" <<'PY'
import re, sys, yaml
docs = list(yaml.safe_load_all(open("deploy/kubernetes.yaml")))
config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]["bptl.toml"]
open(sys.argv[1], "w").write(config)
deployment = next(d for d in docs if d["kind"] == "Deployment")
kill_after = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
for name, text in [("deploy/bptl.toml", open("deploy/bptl.toml").read()), ("the ConfigMap", config)]:
    grace = int(re.search(r'shutdown_grace\s*=\s*"(\d+)s"', text).group(1))
    if grace + 5 > kill_after:
        sys.exit(f"{name}: shutdown_grace {grace}s leaves under 5 s before the SIGKILL at {kill_after}s")
print(f"shutdown_grace leaves time before terminationGracePeriodSeconds ({kill_after}s)")
PY
ENGINE_PASSWORD=check "$worker" check --config "$tmp/configmap.toml"
