# Shared helpers of the local-cluster scripts (sourced, not run).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="$ROOT/.local"          # logs, pids and Azurite's data live here (git-ignored)
mkdir -p "$STATE"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
AZURITE_PORT="${AZURITE_PORT:-10000}"
AZURITE_CONN="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:${AZURITE_PORT}/devstoreaccount1;"

log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

need_tools() {
  command -v dotnet >/dev/null || { echo "dotnet SDK 10 is required" >&2; exit 1; }
  command -v node >/dev/null && command -v npm >/dev/null || { log "installing Node.js and npm (apt)"; apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; }
}

build() {
  log "building silo and edge host (Release)"
  dotnet build "$ROOT/silo/SpecEdge.Silo.csproj" -c Release -v quiet -nologo -clp:ErrorsOnly
  dotnet build "$ROOT/edge-host/SpecEdge.EdgeHost.csproj" -c Release -v quiet -nologo -clp:ErrorsOnly
}

start_azurite() {
  if [ ! -d "$ROOT/tests/azurite/node_modules" ]; then
    log "installing Azurite (npm ci in tests/azurite)"
    (cd "$ROOT/tests/azurite" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  if (exec 3<>/dev/tcp/127.0.0.1/"$AZURITE_PORT") 2>/dev/null; then log "Azurite already listening on $AZURITE_PORT"; return; fi
  log "starting Azurite on 127.0.0.1:$AZURITE_PORT (data in .local/azurite, kept across restarts)"
  mkdir -p "$STATE/azurite"
  node "$ROOT/tests/azurite/node_modules/azurite/dist/src/blob/main.js" --blobHost 127.0.0.1 --blobPort "$AZURITE_PORT" \
    --location "$STATE/azurite" --skipApiVersionCheck --disableTelemetry --silent >"$STATE/azurite.log" 2>&1 &
  echo $! >"$STATE/azurite.pid"
  wait_port "$AZURITE_PORT" 30 Azurite
}

# start_silo NAME SILO_PORT GATEWAY_PORT [extra args...]; its OpenAI-compatible API listens on 127.0.0.1:8080 for silo
# port 11111, 8081 for 11112, and so on.
start_silo() {
  local name=$1 port=$2 gateway=$3; shift 3
  local http=$((8080 + port - 11111))
  if (exec 3<>/dev/tcp/127.0.0.1/"$gateway") 2>/dev/null; then
    echo "port $gateway is already in use (another silo still running? see .local/*.pid)" >&2; return 1
  fi
  log "starting silo $name (silo port $port, gateway $gateway, HTTP http://127.0.0.1:$http: OpenAI API, /health/ready, /metrics); log in .local/$name.log"
  (cd "$ROOT" && exec "$ROOT/silo/bin/Release/net10.0/linux-x64/SpecEdge.Silo" \
    --Cluster:SiloName "$name" --Cluster:SiloPort "$port" --Cluster:GatewayPort "$gateway" --urls "http://127.0.0.1:$http" \
    --Cluster:StorageConnectionString "$AZURITE_CONN" "$@") >"$STATE/$name.log" 2>&1 &
  echo $! >"$STATE/$name.pid"
  wait_port "$gateway" 120 "silo $name" "$STATE/$name.log"
}

# wait_port PORT SECONDS WHAT [LOG]
wait_port() {
  for _ in $(seq 1 $(( $2 * 4 ))); do
    if (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; then return 0; fi
    sleep 0.25
  done
  echo "$3 did not open port $1 within $2 s" >&2
  [ -n "${4:-}" ] && tail -n 30 "$4" >&2
  return 1
}

stop_all() {
  local pids=()
  # Silos and edges first, while Redis and Azurite are still there for their graceful shutdown.
  for pidfile in $(ls "$STATE"/*.pid 2>/dev/null | grep -v -e redis -e azurite) "$STATE/redis.pid" "$STATE/azurite.pid"; do
    [ -e "$pidfile" ] || continue
    local pid; pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null || true; pids+=("$pid"); fi
    rm -f "$pidfile"
  done
  # Wait for a clean shutdown (silos leave the cluster gracefully), then insist: a straggler would hold the ports.
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  done
}

edge() {
  (cd "$ROOT" && "$ROOT/edge-host/bin/Release/net10.0/linux-x64/SpecEdge.EdgeHost" "$@")
}

# --- Credentials (docs/security.md). The signing key lives in a file; it never appears on a command line. ---
SECURITY="$STATE/security"

ensure_signing_key() {
  mkdir -p "$SECURITY" && chmod 700 "$SECURITY"
  if [ ! -f "$SECURITY/keys.json" ]; then
    log "creating a development signing key in .local/security/keys.json"
    (umask 077; printf '{"activeKeyId": "dev1", "keys": {"dev1": "%s"}}\n' "$(openssl rand -base64 32)" >"$SECURITY/keys.json")
  fi
}

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

# hmac_sha256 KEY_BYTES_FILE < message > digest. Built from two plain SHA-256 runs (RFC 2104) so that the key is
# never an argument of openssl, where any local user could read it in the process list.
hmac_sha256() {
  local keyhex ipad="" opad="" i b inner
  keyhex=$(od -An -v -tx1 "$1" | tr -d ' \n')
  while [ ${#keyhex} -lt 128 ]; do keyhex="${keyhex}00"; done
  for ((i = 0; i < 128; i += 2)); do
    b=$((16#${keyhex:i:2}))
    ipad+=$(printf '\\x%02x' $((b ^ 0x36)))
    opad+=$(printf '\\x%02x' $((b ^ 0x5c)))
  done
  inner=$(mktemp)
  { printf "$ipad"; cat; } | openssl dgst -sha256 -binary >"$inner"
  { printf "$opad"; cat "$inner"; } | openssl dgst -sha256 -binary
  rm -f "$inner"
}

# issue_credential OUT_FILE CLAIMS_JSON_FIELDS LIFETIME_SECONDS: the format of contracts/Security/CredentialCodec.cs.
issue_credential() {
  local out=$1 claims=$2 lifetime=$3 keybytes payload body
  keybytes=$(mktemp) && chmod 600 "$keybytes"
  sed -E 's/.*"dev1": *"([^"]+)".*/\1/' "$SECURITY/keys.json" | base64 -d >"$keybytes"
  payload=$(printf '{%s,"x":%d,"k":"dev1"}' "$claims" $(( $(date +%s) + lifetime )) | b64url)
  body="v1.$payload"
  (umask 077; printf '%s.%s\n' "$body" "$(printf '%s' "$body" | hmac_sha256 "$keybytes" | b64url)" >"$out")
  rm -f "$keybytes"
}

# edge_credential SESSION EDGE_ID: an edge credential (role 0) with the chat right, valid 12 hours; prints its file.
edge_credential() {
  local file="$SECURITY/edge-${2}.token"
  issue_credential "$file" "\"r\":0,\"t\":\"local\",\"c\":\"$1\",\"e\":\"$2\",\"u\":true" 43200
  echo "$file"
}

# service_credential TENANT: a service credential (role 1) for TENANT, valid 12 hours, e.g. an API key for the silo's
# OpenAI-compatible API (Authorization: Bearer $(cat FILE)); prints its file.
service_credential() {
  local file="$SECURITY/service-${1}.token"
  issue_credential "$file" "\"r\":1,\"t\":\"$1\"" 43200
  echo "$file"
}

# --- Development PKI for TLS (docs/security.md): a cluster CA (silo certificates) and an edge CA (enrolment). ---
PKI="$SECURITY/pki"

new_authority() {  # new_authority NAME "Common Name"
  [ -f "$PKI/$1.pem" ] && return
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$PKI/$1.key" -out "$PKI/$1.pem" -days 3650 \
    -subj "/CN=$2" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# issue_certificate CA NAME: a certificate for server and client use, as PKCS#12 (no password, mode 600); prints its path.
issue_certificate() {
  local ca=$1 name=$2 ext
  if [ ! -f "$PKI/$name.pfx" ]; then
    ext=$(mktemp)
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n' >"$ext"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$PKI/$name.key" -out "$PKI/$name.csr" -subj "/CN=$name" 2>/dev/null
    openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.pem" -CAkey "$PKI/$ca.key" -set_serial "0x$(openssl rand -hex 12)" \
      -days 365 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
    openssl pkcs12 -export -inkey "$PKI/$name.key" -in "$PKI/$name.crt" -out "$PKI/$name.pfx" -passout pass: 2>/dev/null
    chmod 600 "$PKI/$name.key" "$PKI/$name.pfx"
    rm -f "$ext" "$PKI/$name.csr"
  fi
  echo "$PKI/$name.pfx"
}

ensure_pki() {
  mkdir -p "$PKI" && chmod 700 "$PKI"
  if [ ! -f "$PKI/cluster-ca.pem" ]; then log "creating a development cluster CA and edge CA in .local/security/pki"; fi
  new_authority cluster-ca "SpecEdge development cluster CA"
  new_authority edge-ca "SpecEdge development edge CA"
  touch "$PKI/revoked.txt"   # withdraw an edge: add its certificate's thumbprint or serial; silos re-read it
}

# silo_tls_args NAME: the Tls:* switches of a silo (paths only; no secret is on the command line).
silo_tls_args() {
  echo --Tls:CertificateFile "$(issue_certificate cluster-ca "$1")" --Tls:ClusterCaFile "$PKI/cluster-ca.pem" \
    --Tls:EdgeCaFile "$PKI/edge-ca.pem" --Tls:RevocationFile "$PKI/revoked.txt"
}

# edge_tls_args EDGE_ID: the enrolment certificate and the CA that silos' certificates must chain to.
edge_tls_args() {
  echo --certificate "$(issue_certificate edge-ca "$1")" --cluster-ca "$PKI/cluster-ca.pem"
}
