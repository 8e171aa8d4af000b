#!/usr/bin/env bash
# make demo: provision the demo fleet, serve HTTPS on every device, verify with real clients, re-run.
# Usage: demo/run.sh   (expects .venv and the in-place collection link; `make demo` makes both)
set -euo pipefail
cd "$(dirname "$0")/.."

STATE=${FLEET_DEMO_STATE:-$PWD/.demo}
PORT=${FLEET_DEMO_PORT:-8443}
export FLEET_DEMO_STATE=$STATE
export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
PY="$PWD/.venv/bin/python"
mkdir -p "$STATE"

step() { printf '\n==> %s\n' "$*"; }
recap_changes() {  # sum of changed= over the PLAY RECAP of a log
  awk '/^PLAY RECAP/ {r=1; next} r && /changed=/ {sub(/.*changed=/, ""); sub(/ .*/, ""); s += $0} END {print s + 0}' "$1"
}

trap '"$PY" demo/fleet_demo.py stop --state "$STATE"' EXIT

step "1/5 Provision the demo fleet (inventory/demo)"
ansible-playbook -i inventory/demo playbooks/provision.yml | tee "$STATE/provision-1.log" | grep -E '^(PLAY|TASK|changed|fatal|failed)|: ok=' || true
grep -qE 'failed=[1-9]|unreachable=[1-9]' "$STATE/provision-1.log" && { echo "provision failed: see $STATE/provision-1.log"; exit 1; }

step "2/5 Start each device's HTTPS endpoint with its delivered key and full chain"
"$PY" demo/fleet_demo.py serve --state "$STATE" --port "$PORT"

step "3/5 Verify every endpoint with openssl, curl and Python ssl, trusting only the fleet CA"
"$PY" demo/fleet_demo.py verify --state "$STATE" --port "$PORT"

step "4/5 Provision again: nothing may change"
ansible-playbook -i inventory/demo playbooks/provision.yml > "$STATE/provision-2.log"
grep -E '^[a-z].*: ok=' "$STATE/provision-2.log" | sed 's/^/    /'
changes=$(recap_changes "$STATE/provision-2.log")
[ "$changes" -eq 0 ] || { echo "second run changed $changes task(s): see $STATE/provision-2.log"; exit 1; }

step "5/5 Summary"
devices=$(find "$STATE/devices" -mindepth 1 -maxdepth 1 -type d | wc -l)
cat <<SUMMARY
    CA                 $STATE/pki/ca/ca.crt ($(openssl x509 -in "$STATE/pki/ca/ca.crt" -noout -subject | sed 's/subject=//'))
    devices            $devices, each with key, cert, chain and full chain in $STATE/devices/<name>/
    client trust       $STATE/clients/ops-laptop/ca-bundle.pem
    TLS verification   every device passed openssl s_client, curl and Python ssl; a foreign CA was refused
    second provision   changed=0 on every host
    Try it:            curl --cacert $STATE/clients/ops-laptop/ca-bundle.pem https://127.0.0.11:$PORT/
                       (the endpoints stop when this script ends; run demo/fleet_demo.py serve to keep them up)
SUMMARY
