#!/usr/bin/env bash
# Stops what scripts/quickstart.sh started, using the pid files in ./.wharf: the inspector, the
# nodes, then nats-server. SIGTERM, then SIGKILL after 15 s. A pid file whose process is gone, or is no longer
# ours, is removed without killing anything. `--quiet` prints nothing when there is nothing to stop.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

WHARF_DIR=.wharf
quiet=false
[ "${1:-}" = '--quiet' ] && quiet=true

say() { printf 'stop: %s\n' "$*"; }

alive() { kill -0 "$1" 2>/dev/null; }

# The command line must still be the one we started, so a recycled pid is never killed.
ours() {
  local pid=$1 expected=$2 cmdline
  cmdline=$(tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null) || return 1
  [[ "${cmdline}" == *"${expected}"* ]]
}

stop_one() {
  local file=$1 expected=$2 name pid
  name=$(basename "${file}" .pid)
  pid=$(tr -dc '0-9' <"${file}")
  if [ -z "${pid}" ] || ! alive "${pid}" || ! ours "${pid}" "${expected}"; then
    rm -f "${file}"
    return 0
  fi
  kill -TERM "${pid}" 2>/dev/null || true
  local waited=0
  while alive "${pid}" && [ "${waited}" -lt 150 ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  if alive "${pid}"; then
    say "${name} (pid ${pid}) did not stop within 15 s, killing it"
    kill -KILL "${pid}" 2>/dev/null || true
  fi
  rm -f "${file}"
  say "stopped ${name} (pid ${pid})"
  stopped=$((stopped + 1))
}

stopped=0
shopt -s nullglob
if [ -f "${WHARF_DIR}/inspect.pid" ]; then stop_one "${WHARF_DIR}/inspect.pid" 'src/cli/main.ts inspect'; fi
for file in "${WHARF_DIR}"/node-*.pid; do stop_one "${file}" 'src/node/main.ts'; done
if [ -f "${WHARF_DIR}/nats.pid" ]; then stop_one "${WHARF_DIR}/nats.pid" 'nats-server'; fi

if [ "${stopped}" -eq 0 ] && [ "${quiet}" = false ]; then say 'nothing was running'; fi
