#!/usr/bin/env bash
# Tessera's results feed beside a peer, in one sitting: `tessera bench results` against
# Tessera, then the same subscribers and source against a NATS server's WebSocket listener
# (`--peer nats`), alternated, RUNS times each.
#
#   peers/results/run.sh [RUNS] [-- BENCH ARGS...]     (default 3 runs, 10,000 subscribers)
#
# Why NATS and not Centrifugo (the server the issue names): Centrifugo is a Go program
# released on GitHub, which none of the registries this project may use carries. NATS is the
# nearest installable one: a Go fan-out server with a WebSocket listener, built for one
# publication to many subscribers (Centrifugo can use it as its broker). It is installed from
# Debian's package when missing. Core NATS keeps no history, writes nothing durable and
# checks no entitlement, so it does less per change than Tessera; no reconnect storm is run
# against it (it has no position to come back to).
#
# Both are measured by the same code: the subscribers' threads under SCHED_IDLE, each
# change's receipt the kernel's receive time-stamp on the subscriber's socket. Build first:
# `cargo build --release -p tessera`. The log goes to peers/results/results/<date>.log.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${1:-3}"
shift || true
[ "${1:-}" = "--" ] && shift
if ! command -v nats-server >/dev/null; then
  apt-get install -y nats-server
fi
BIN=target/release/tessera
export TESSERA_LOG="${TESSERA_LOG:-error}"
[ -x "$BIN" ] || { echo "build first: cargo build --release -p tessera" >&2; exit 1; }
mkdir -p peers/results/results
LOG="peers/results/results/$(date -u +%Y-%m-%dT%H%M).log"
{
  echo "# peers/results/run.sh $RUNS $*  ($(git rev-parse --short HEAD), $(date -u), nproc $(nproc), $(free -g | awk '/Mem:/{print $2}') GiB)"
  for run in $(seq 1 "$RUNS"); do
    for who in tessera nats; do
      peer=()
      [ "$who" = nats ] && peer=(--peer nats)
      echo "## $who (run $run; load $(cut -d' ' -f1-3 /proc/loadavg))"
      sh -c 'ulimit -n "$(ulimit -Hn)" && exec "$0" bench results "$@"' "$BIN" "${peer[@]}" "$@" 2>&1
      sleep 5
    done
  done
} | tee "$LOG"
