#!/usr/bin/env bash
# Installs what Wharf needs on a Debian machine and is safe to run again:
#   - nats-server, from Debian's package `nats-server`, when it is not installed;
#   - Chromium, from Debian's package `chromium`, when /usr/bin/chromium is missing (the browser
#     test of the inspector page drives it);
#   - iproute2 and iptables, when `ip` or `iptables` is missing (the multi-host fault harness's
#     short tier, test/chaos-netns, puts hosts in network namespaces and partitions them), and
#     libfaketime when it is missing (the harness's clock-jump and mixed scenarios);
#   - the npm dependencies (`npm ci`), when node_modules is missing or older than package-lock.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

# Debian installs nats-server in /usr/sbin, which is not on every user's PATH.
find_nats_server() {
  if [ -n "${NATS_SERVER_BIN:-}" ] && [ -x "${NATS_SERVER_BIN}" ]; then echo "${NATS_SERVER_BIN}"; return 0; fi
  local found dir
  # bash's `command -v` also reports files that are not executable, hence the -x check.
  if found=$(command -v nats-server 2>/dev/null) && [ -x "${found}" ]; then echo "${found}"; return 0; fi
  for dir in /usr/sbin /usr/local/sbin /sbin; do
    if [ -x "${dir}/nats-server" ]; then echo "${dir}/nats-server"; return 0; fi
  done
  return 1
}

apt_updated=false
# apt-get install, after one apt-get update per run; `sudo` when not root.
apt_install() {
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  if [ "${apt_updated}" = false ]; then
    "${sudo[@]}" apt-get update -q || return 1
    apt_updated=true
  fi
  "${sudo[@]}" apt-get install -y -q "$@"
}

install_nats_server() {
  local manual='install the Debian package "nats-server" (apt-get install nats-server) or put a nats-server binary on PATH, then run this again'
  command -v apt-get >/dev/null 2>&1 || die "nats-server is missing and apt-get is not available: ${manual}"
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "nats-server is missing and installing it needs root (no sudo found): ${manual}"
  fi
  say "installing nats-server (apt-get install nats-server)"
  apt_install nats-server || die "could not install nats-server with apt-get: ${manual}"
}

# Chromium serves only the browser test, so a machine that cannot install it still runs Wharf.
install_chromium() {
  local manual='install the Debian package "chromium" (apt-get install chromium): the browser test needs /usr/bin/chromium'
  if ! command -v apt-get >/dev/null 2>&1; then say "warning: chromium is missing and apt-get is not available: ${manual}"; return 0; fi
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then say "warning: chromium is missing and installing it needs root (no sudo found): ${manual}"; return 0; fi
  say 'installing chromium for the browser test (apt-get install chromium)'
  apt_install chromium || say "warning: could not install chromium with apt-get: ${manual}"
}

# Only the fault harness needs them (and root), so a machine that cannot install them still runs Wharf.
install_harness_tools() {
  local manual="install the Debian packages $*: the fault harness (chaos/, test/chaos-netns) needs them"
  if ! command -v apt-get >/dev/null 2>&1; then say "warning: $* missing and apt-get is not available: ${manual}"; return 0; fi
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then say "warning: $* missing and installing needs root (no sudo found): ${manual}"; return 0; fi
  say "installing $* for the fault harness (apt-get install $*)"
  apt_install "$@" || say "warning: could not install $* with apt-get: ${manual}"
}

# Where Debian's libfaketime package puts the library (chaos/topology.ts looks there too).
have_libfaketime() {
  local dir
  for dir in /usr/lib/x86_64-linux-gnu/faketime /usr/lib/aarch64-linux-gnu/faketime /usr/lib/faketime; do
    [ -e "${dir}/libfaketime.so.1" ] && return 0
  done
  return 1
}

command -v node >/dev/null 2>&1 || die 'node is not installed: Wharf needs Node.js >= 20.19 with npm'
command -v npm >/dev/null 2>&1 || die 'npm is not installed: Wharf needs Node.js >= 20.19 with npm'

if nats_server=$(find_nats_server); then
  say "nats-server found at ${nats_server}"
else
  install_nats_server
  nats_server=$(find_nats_server) || die 'nats-server was installed but cannot be found (looked on PATH and in /usr/sbin)'
fi

if [ -x /usr/bin/chromium ]; then
  say 'chromium found at /usr/bin/chromium'
else
  install_chromium
fi

# Debian installs iptables in /usr/sbin, which is not on every user's PATH.
if PATH="${PATH}:/usr/sbin:/sbin" command -v ip >/dev/null 2>&1 && PATH="${PATH}:/usr/sbin:/sbin" command -v iptables >/dev/null 2>&1; then
  say 'ip and iptables found'
else
  install_harness_tools iproute2 iptables
fi

if have_libfaketime; then
  say 'libfaketime found'
else
  install_harness_tools libfaketime
fi

# npm writes node_modules/.package-lock.json on every install; it marks when node_modules was made.
marker=node_modules/.package-lock.json
if [ ! -d node_modules ] || [ ! -e "${marker}" ] || [ package-lock.json -nt "${marker}" ]; then
  say 'installing npm dependencies (npm ci)'
  npm ci --no-audit --no-fund || die 'npm ci failed: package-lock.json must match package.json (run npm install and commit the lock)'
  touch "${marker}"
else
  say 'node_modules is up to date with package-lock.json (npm ci skipped)'
fi

say "node $(node --version), npm $(npm --version), $("${nats_server}" --version)"
