#!/usr/bin/env bash
# A two-silo cluster on this machine: Redis (membership) + Azurite (sessions) + silo-a + silo-b + several edge hosts.
#   bash infra/local/run-multi.sh            3 edge hosts reply to 3 prompts concurrently, then everything stops
#   EDGES=5 bash infra/local/run-multi.sh    more edge hosts
# Sessions are spread over both silos (each next to its silo's verifier); logs are in .local/.
source "$(dirname "$0")/common.sh"
need_tools
command -v redis-server >/dev/null || { log "installing redis-server (apt)"; apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; }
trap stop_all EXIT
build
start_azurite
REDIS_PORT="${REDIS_PORT:-6390}"
log "starting redis-server on 127.0.0.1:$REDIS_PORT"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$STATE/redis.log" 2>&1 &
echo $! >"$STATE/redis.pid"
wait_port "$REDIS_PORT" 20 redis
ensure_signing_key
# One machine: advertise loopback explicitly (silos on several machines advertise their own address, the default).
REDIS=(--Security:KeyFile "$SECURITY/keys.json" --Cluster:Clustering redis --Cluster:RedisConnectionString "127.0.0.1:$REDIS_PORT" --Cluster:FailureDetectionSeconds 2
       --Cluster:AdvertisedAddress 127.0.0.1
       --SpecEdge:TargetModel "$ROOT/models/demo/target")
ensure_pki
# Edges come in through each silo's edge gateway (30443, 30444); the Orleans gateways take cluster-CA certificates only.
start_silo silo-a 11111 30000 "${REDIS[@]}" $(silo_tls_args silo-a) --Gateway:Port 30443
start_silo silo-b 11112 30001 "${REDIS[@]}" $(silo_tls_args silo-b) --Gateway:Port 30444
wait_port 30443 30 "the edge gateway of silo-a" "$STATE/silo-a.log"
wait_port 30444 30 "the edge gateway of silo-b" "$STATE/silo-b.log"

prompts=("The history of the city" "In the morning the farmers" "The president of the company" "She looked at the house and" "Most of the students")
pids=()
for i in $(seq 0 $(( ${EDGES:-3} - 1 ))); do
  prompt="${prompts[$(( i % ${#prompts[@]} ))]}"
  log "edge host $i: \"$prompt\" (output in .local/edge-$i.out)"
  edge --edge-gateway https://127.0.0.1:30443,https://127.0.0.1:30444 --draft "$ROOT/models/demo/draft" --raw --max-new-tokens 48 \
    --credential-file "$(edge_credential "local/multi-$i-$(date +%s)" "edge-$i")" $(edge_tls_args "edge-$i") --prompt "$prompt" >"$STATE/edge-$i.out" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
for i in $(seq 0 $(( ${EDGES:-3} - 1 ))); do echo; cat "$STATE/edge-$i.out"; done
exit $status
