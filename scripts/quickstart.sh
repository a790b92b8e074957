#!/usr/bin/env bash
# Brings up a local Wharf under ./.wharf and returns once it is ready:
#   - nats-server with JetStream: client nats://127.0.0.1:4222, monitoring http://127.0.0.1:8222,
#     config ./.wharf/nats.conf, store ./.wharf/nats, log ./.wharf/nats.log;
#   - WHARF_NODES broker nodes (default 3), node-1..node-N, each with its data in ./.wharf/data/node-<i>,
#     its log in ./.wharf/node-<i>.log and its metrics on http://127.0.0.1:<9463+i>/metrics;
#   - the inspector page (`wharf inspect`) on http://127.0.0.1:9400/, log ./.wharf/inspect.log.
# Queues are replicated over the nodes (3 copies by default, fewer with fewer nodes).
# Pids go to ./.wharf/*.pid; `npm run stop` stops everything. A previous run is stopped first.
# WHARF_AUTH=true turns authentication and authorization on (docs/security.md): credentials go to
# ./.wharf/secrets (`wharf security init`: the admin `admin` and the principal `demo` of tenant
# `demo`), NATS requires them, and the nodes check every request.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

WHARF_DIR=.wharf
NATS_PORT=4222
MONITOR_PORT=8222
NODES=${WHARF_NODES:-3}
HTTP_BASE_PORT=9464
SQS_BASE_PORT=9324
INSPECT_PORT=9400
NATS_START_TIMEOUT_S=10
NODE_READY_TIMEOUT_S=${WHARF_READY_TIMEOUT_S:-60}
AUTH=${WHARF_AUTH:-false}
SECRETS=${WHARF_DIR}/secrets

say() { printf 'quickstart: %s\n' "$*"; }
die() { printf 'quickstart: %s\n' "$*" >&2; exit 1; }

[[ "${NODES}" =~ ^[1-9][0-9]*$ ]] || die "WHARF_NODES must be a positive integer, got '${NODES}'"
[[ "${AUTH}" =~ ^(true|false)$ ]] || die "WHARF_AUTH must be true or false, got '${AUTH}'"

bash scripts/setup.sh

nats_server=
for candidate in "${NATS_SERVER_BIN:-}" "$(command -v nats-server 2>/dev/null || true)" /usr/sbin/nats-server /usr/local/sbin/nats-server; do
  if [ -n "${candidate}" ] && [ -x "${candidate}" ]; then nats_server=${candidate}; break; fi
done
[ -n "${nats_server}" ] || die 'nats-server not found: run `npm run setup` or `apt-get install nats-server`'

# A previous run of this script holds the ports: stop it through its pid files.
bash scripts/stop.sh --quiet

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in "${NATS_PORT}" "${MONITOR_PORT}" "${INSPECT_PORT}" $(seq "${HTTP_BASE_PORT}" $((HTTP_BASE_PORT + NODES - 1))) $(seq "${SQS_BASE_PORT}" $((SQS_BASE_PORT + NODES - 1))); do
  port_in_use "${port}" && die "port ${port} on 127.0.0.1 is taken by a process this script did not start; stop it and run again"
done

fail() {
  local log=$1
  shift
  printf 'quickstart: %s\n' "$*" >&2
  if [ -f "${log}" ]; then
    printf 'quickstart: last lines of %s:\n' "${log}" >&2
    tail -n 20 "${log}" >&2
  fi
  bash scripts/stop.sh --quiet >&2
  exit 1
}

mkdir -p "${WHARF_DIR}/nats" "${WHARF_DIR}/data"
root=$(pwd)

# fsync every JetStream write where the server knows the setting (nats-server >= 2.10; Debian 12
# ships 2.9, which rejects the unknown field and keeps its default of syncing every 2 minutes).
sync_line=
if version=$("${nats_server}" --version 2>/dev/null) && [[ "${version}" =~ v([0-9]+)\.([0-9]+) ]] &&
  { [ "${BASH_REMATCH[1]}" -gt 2 ] || { [ "${BASH_REMATCH[1]}" -eq 2 ] && [ "${BASH_REMATCH[2]}" -ge 10 ]; }; }; then
  sync_line='  sync_interval: always'
fi
# With WHARF_AUTH=true: the users, their passwords and permissions (kept across runs).
auth_line=
node_auth=()
admin_auth=()
if [ "${AUTH}" = true ]; then
  node --import tsx src/cli/main.ts security init --cluster local --out "${SECRETS}" --principal demo@demo >/dev/null
  auth_line="include \"secrets/nats-auth.conf\""
  node_auth=(WHARF_AUTH=true WHARF_AUTH_ADMINS=admin WHARF_NATS_USER=wharf-node "WHARF_NATS_PASSWORD_FILE=${SECRETS}/wharf-node.password")
  admin_auth=(--user admin --password-file "${SECRETS}/admin.password")
fi
cat >"${WHARF_DIR}/nats.conf" <<CONF
# written by scripts/quickstart.sh
${auth_line}
server_name: wharf-local
listen: 127.0.0.1:${NATS_PORT}
http: 127.0.0.1:${MONITOR_PORT}
max_payload: 8MB
jetstream {
  store_dir: "${root}/${WHARF_DIR}/nats"
${sync_line}
}
CONF

# setsid + nohup: the processes outlive this script and the terminal's Ctrl-C.
setsid nohup "${nats_server}" -c "${WHARF_DIR}/nats.conf" >"${WHARF_DIR}/nats.log" 2>&1 </dev/null &
nats_pid=$!
echo "${nats_pid}" >"${WHARF_DIR}/nats.pid"

deadline=$((SECONDS + NATS_START_TIMEOUT_S))
while [ "${SECONDS}" -lt "${deadline}" ]; do
  kill -0 "${nats_pid}" 2>/dev/null || fail "${WHARF_DIR}/nats.log" 'nats-server exited at start'
  port_in_use "${NATS_PORT}" && break
  sleep 0.1
done
port_in_use "${NATS_PORT}" || fail "${WHARF_DIR}/nats.log" "nats-server did not listen on ${NATS_PORT} within ${NATS_START_TIMEOUT_S} s"
say "nats-server is up (pid ${nats_pid})"

# glibc's allocator settings of every node (docs/operations.md, "Memory").
MALLOC_SETTINGS=(MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=65536 MALLOC_TRIM_THRESHOLD_=1048576)
for ((n = 1; n <= NODES; n++)); do
  id="node-${n}"
  env "${node_auth[@]}" "${MALLOC_SETTINGS[@]}" WHARF_NODE_ID="${id}" WHARF_CLUSTER=local WHARF_NATS_URL="nats://127.0.0.1:${NATS_PORT}" \
    WHARF_DATA_DIR="./${WHARF_DIR}/data/${id}" WHARF_HTTP_PORT=$((HTTP_BASE_PORT + n - 1)) \
    WHARF_SQS_PORT=$((SQS_BASE_PORT + n - 1)) WHARF_SQS_ALLOW_UNSIGNED=true \
    setsid nohup node --import tsx src/node/main.ts >"${WHARF_DIR}/${id}.log" 2>&1 </dev/null &
  echo "$!" >"${WHARF_DIR}/${id}.pid"
done

# Ready = the node logged pino's {"msg":"node ready"}.
for ((n = 1; n <= NODES; n++)); do
  id="node-${n}"
  log="${WHARF_DIR}/${id}.log"
  pid=$(cat "${WHARF_DIR}/${id}.pid")
  ready=false
  deadline=$((SECONDS + NODE_READY_TIMEOUT_S))
  while [ "${SECONDS}" -lt "${deadline}" ]; do
    if grep -q '"msg":"node ready"' "${log}" 2>/dev/null; then ready=true; break; fi
    kill -0 "${pid}" 2>/dev/null || fail "${log}" "${id} exited before it was ready"
    sleep 0.1
  done
  [ "${ready}" = true ] || fail "${log}" "${id} was not ready within ${NODE_READY_TIMEOUT_S} s"
  say "${id} is ready (pid ${pid}, data ./${WHARF_DIR}/data/${id}, log ./${log})"
done

# Ready = it printed where it listens.
if [ "${AUTH}" = true ]; then
  node --import tsx src/cli/main.ts auth apply "${SECRETS}/principals.json" --server "nats://127.0.0.1:${NATS_PORT}" --cluster local \
    "${admin_auth[@]}" >/dev/null || fail "${WHARF_DIR}/node-1.log" 'storing the principals failed'
  say "authorization is on: credentials in ./${SECRETS} (admin: admin, tenant demo: demo)"
fi

setsid nohup node --import tsx src/cli/main.ts inspect --server "nats://127.0.0.1:${NATS_PORT}" --cluster local "${admin_auth[@]}" \
  --port "${INSPECT_PORT}" >"${WHARF_DIR}/inspect.log" 2>&1 </dev/null &
inspect_pid=$!
echo "${inspect_pid}" >"${WHARF_DIR}/inspect.pid"
deadline=$((SECONDS + NODE_READY_TIMEOUT_S))
until grep -q 'inspector of cluster' "${WHARF_DIR}/inspect.log" 2>/dev/null; do
  kill -0 "${inspect_pid}" 2>/dev/null || fail "${WHARF_DIR}/inspect.log" 'the inspector exited at start'
  [ "${SECONDS}" -lt "${deadline}" ] || fail "${WHARF_DIR}/inspect.log" "the inspector did not start within ${NODE_READY_TIMEOUT_S} s"
  sleep 0.1
done
say "the inspector is up (pid ${inspect_pid}, log ./${WHARF_DIR}/inspect.log)"

cat <<INFO

Wharf is running (cluster "local", ${NODES} node(s)):
  NATS        nats://127.0.0.1:${NATS_PORT}   (monitoring http://127.0.0.1:${MONITOR_PORT})
  inspector   http://127.0.0.1:${INSPECT_PORT}/   (cluster map, queues, message search, actors, live)
  SQS API     http://127.0.0.1:${SQS_BASE_PORT} … :$((SQS_BASE_PORT + NODES - 1))   (any AWS SDK; unsigned, local only: docs/sqs.md)
  metrics     http://127.0.0.1:${HTTP_BASE_PORT}/metrics … :$((HTTP_BASE_PORT + NODES - 1))   (health: /healthz, /readyz)
  logs        ./${WHARF_DIR}/nats.log, ./${WHARF_DIR}/node-<n>.log, ./${WHARF_DIR}/inspect.log
  data        ./${WHARF_DIR}/nats, ./${WHARF_DIR}/data/node-<n>

Try:
  npm run wharf -- queue create demo
  npm run wharf -- cluster
  echo hello | npm run wharf -- send demo
  npm run wharf -- receive demo --delete

Stop it with:
  npm run stop
INFO
if [ "${AUTH}" = true ]; then
  cat <<INFO

Authorization is on: connect as a principal, e.g. the tenant demo's (its queues are named demo_*):
  export WHARF_NATS_USER=demo WHARF_NATS_PASSWORD_FILE=./${SECRETS}/demo.password
  npm run wharf -- queue create demo_orders
  npm run wharf -- auth whoami
and manage principals as the admin (WHARF_NATS_USER=admin, ./${SECRETS}/admin.password):
  npm run wharf -- auth list
INFO
fi
