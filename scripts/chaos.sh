#!/usr/bin/env bash
# The longer chaos tier: every fault scenario of test/chaos keeps injecting its faults for
# WHARF_CHAOS_SECONDS (default 120) instead of the CI tier's few rounds, one scenario at a time
# (each starts its own nats-server and nodes; two at once would share 2 cores).
#
#   npm run chaos:local                                # 120 s per scenario
#   WHARF_CHAOS_SECONDS=600 npm run chaos:local        # longer
#   WHARF_CHAOS_REPLICATED=0 npm run chaos:local       # one node, without the scenarios that need replicas
#   WHARF_CHAOS_SEED=123 npm run chaos:local -- test/chaos/kill-primary.test.ts   # one scenario, one schedule
#
# Other knobs (WHARF_CHAOS_NODES, WHARF_CHAOS_NODE_ENV) are described in test/chaos/scenario.ts.
# Histories (JSONL) and one summary line per run are kept in test-artifacts/chaos/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export WHARF_CHAOS_SECONDS="${WHARF_CHAOS_SECONDS:-120}"
if [ "$#" -eq 0 ]; then set -- test/unit/checker.test.ts 'test/chaos/*.test.ts'; fi
printf 'chaos: %s s of faults per scenario, histories in test-artifacts/chaos/\n' "${WHARF_CHAOS_SECONDS}"
exec npx ava --concurrency 1 --serial --timeout 30m "$@"
