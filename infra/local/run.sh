#!/usr/bin/env bash
# The main job: a local SpecEdge cluster with the demo model pair.
#   Azurite (session storage) + one silo (target model, verifier) + an edge host (draft model) chatting in this terminal.
# Arguments go to the edge host, e.g.:
#   bash infra/local/run.sh --prompt "The history of the city" --raw      one-shot reply, then everything stops
#   bash infra/local/run.sh --session chat-1234                           resume a conversation (it survives restarts)
# Everything stops when the edge host exits (or on Ctrl+C).
# Security (docs/security.md): .local/security holds a development signing key, CAs and certificates; the edge is
# enrolled (TLS client certificate + a 12-hour edge credential) for its one conversation.
source "$(dirname "$0")/common.sh"
need_tools
trap stop_all EXIT
build
start_azurite
ensure_signing_key
# The edge is enrolled for one conversation: the one asked for with --session, or a new one.
session=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do [ "${args[i]}" = "--session" ] && session="${args[i+1]:-}"; done
# Conversation ids are 'tenant/name'; this cluster's tenant is 'local', so a bare name means local/NAME.
if [ -n "$session" ] && [[ "$session" != */* ]]; then
  session="local/$session"
  for ((i = 0; i < ${#args[@]}; i++)); do [ "${args[i]}" = "--session" ] && args[i+1]="$session"; done
  set -- "${args[@]}"
fi
if [ -z "$session" ]; then session="local/chat-$(date +%s)"; set -- "$@" --session "$session"; fi
credential=$(edge_credential "$session" "edge-local")
ensure_pki
# The silo's Orleans gateway (30000) is for operators' tools; edges come in through the edge gateway (gRPC, 30443).
start_silo silo-a 11111 30000 --SpecEdge:TargetModel "$ROOT/models/demo/target" --Security:KeyFile "$SECURITY/keys.json" $(silo_tls_args silo-a) \
  --Gateway:Port 30443
wait_port 30443 30 "the edge gateway of silo-a" "$STATE/silo-a.log"
log "OpenAI-compatible API: http://127.0.0.1:8080/v1, API key (tenant 'local') in $(service_credential local)"
log "edge host (draft models/demo/draft, enrolled for $session) -> edge gateway https://127.0.0.1:30443"
edge --edge-gateway https://127.0.0.1:30443 --draft "$ROOT/models/demo/draft" --credential-file "$credential" $(edge_tls_args edge-local) "$@"
