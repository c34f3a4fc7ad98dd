#!/usr/bin/env bash
# The detection engine beside its peers, on one generated nginx access log, in one sitting.
#
#   peers/soc/run.sh [LINES]      (default 10000000; the peers read a 1,000,000-line window)
#
# Installs the peers from Debian (fail2ban, crowdsec) when they are missing, generates the log
# with `tessera bench soc --keep`, then times, one after the other on the same files:
#   - Tessera: `tessera soc replay` with the built-in pack (parse + every rule, one thread);
#   - fail2ban: `fail2ban-regex` with its nginx-botsearch and nginx-http-auth filters (the
#     regular-expression pass every fail2ban jail makes; jails, bans and actions not included);
#   - CrowdSec: `crowdsec -dsn file://... -type nginx -no-api` (replay mode) with the nginx and
#     base-http-scenarios collections, when its hub is installed; otherwise it says why not.
# Logs and timings go to peers/soc/results/<date>/.
set -euo pipefail
cd "$(dirname "$0")/../.."
LINES="${1:-10000000}"
OUT="peers/soc/results/$(date -u +%Y-%m-%dT%H%M)"
DATA="${TESSERA_PEER_DATA:-/work/benchdata}"
mkdir -p "$OUT" "$DATA"
LOG="$DATA/soc-peer.log"
WINDOW="$DATA/soc-peer-window.log"

need() { command -v "$1" >/dev/null || { echo "installing $2"; DEBIAN_FRONTEND=noninteractive apt-get install -y "$2" >/dev/null || true; }; }
need fail2ban-regex fail2ban
need crowdsec crowdsec

cargo build --release -p tessera >/dev/null
BIN=target/release/tessera
{ echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(date -u)"; git log --oneline -1; } | tee "$OUT/machine.txt"

TESSERA_LOG=error "$BIN" bench soc --lines "$LINES" --runs 1 --keep "$LOG" | tee "$OUT/tessera-bench.txt"
# The window starts just before the first prober (192.0.2.20, see crates/tessera-bench/src/soc.rs).
FIRST=$(grep -n -m1 '^192\.0\.2\.20 ' "$LOG" | cut -d: -f1)
START=$(( FIRST > 10000 ? FIRST - 10000 : 1 ))
sed -n "${START},$(( START + 999999 ))p" "$LOG" > "$WINDOW"

t() { local name="$1"; shift; /usr/bin/time -f "$name: %e s wall, %U s user, %M kB max RSS" "$@"; }
t "tessera soc replay (window)" "$BIN" soc replay "$WINDOW" > "$OUT/tessera-window-alerts.txt" 2> "$OUT/tessera-window.txt"
t "tessera soc replay (whole log)" "$BIN" soc replay "$LOG" > "$OUT/tessera-alerts.txt" 2> "$OUT/tessera.txt"
for f in nginx-botsearch nginx-http-auth; do
  t "fail2ban-regex $f (window)" fail2ban-regex "$WINDOW" "/etc/fail2ban/filter.d/$f.conf" > "$OUT/fail2ban-$f.txt" 2>&1 || true
done
if [ -f /var/lib/crowdsec/hub/.index.json ] && cscli collections list -o raw 2>/dev/null | grep -q crowdsecurity/nginx; then
  t "crowdsec replay (window)" crowdsec -dsn "file://$WINDOW" -type nginx -no-api > "$OUT/crowdsec.txt" 2>&1 || true
else
  echo "crowdsec: SKIPPED: its hub is not installed (cscli needs the hub index; the Debian package ships the hub under /usr/share/crowdsec/hub but cscli could not set it up offline here)" | tee "$OUT/crowdsec.txt"
fi
grep -h -E "wall|lines/s|Lines:|SKIPPED" "$OUT"/*.txt | tee "$OUT/summary.txt"
