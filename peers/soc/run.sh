#!/usr/bin/env bash
# The detection engine beside its peers, on one generated nginx access log, in one sitting.
#
#   peers/soc/run.sh [LINES]      (default 10000000; the peers read a 1,000,000-line window)
#   CROWDSEC_LINES=N peers/soc/run.sh   (CrowdSec reads only the first N lines of the window)
#       CrowdSec 1.4.6 replays about 170-200 lines/s on one core here (Go regexp grok and the
#       bad-user-agent regex list, per line), so the whole window takes 1.5 hours; the window's
#       attackers (the probers) are all in its first 40,000 lines, so CROWDSEC_LINES=100000
#       sees the same attacks in 10 minutes.
#
# Installs the peers from Debian (fail2ban, crowdsec) when they are missing, generates the log
# with `tessera bench soc --keep`, then times, one after the other on the same files:
#   - Tessera: `tessera soc replay` with the built-in pack (parse + every rule, one thread);
#   - fail2ban: `fail2ban-regex` with its nginx-botsearch and nginx-http-auth filters (the
#     regular-expression pass every fail2ban jail makes; jails, bans and actions not included);
#   - CrowdSec: `crowdsec -dsn file://... -type nginx` (replay mode) with the collections the
#     Debian package enables from its offline hub (nginx, base-http-scenarios, http-cve, ...).
# Then it writes which of the planted attackers each tool flagged (detections.txt).
# Logs and timings go to peers/soc/results/<date>/.
#
# CrowdSec offline, the way it works on Debian 12 (crowdsec 1.4.6) without the internet:
#   - the package's postinst registers to the Central API (api.crowdsec.net) and fails when it
#     cannot, leaving the package half-configured and the hub not set up. README.Debian's opt-out
#     is a comment in /etc/crowdsec/online_api_credentials.yaml *before* the install; then the
#     postinst links the offline hub (/usr/share/crowdsec/hub) into /var/lib/crowdsec/hub and
#     enables the upstream-recommended items with symlinks under /etc/crowdsec. No `cscli hub
#     update` is needed (it would switch to the online hub and fail offline);
#   - cscli asks version.crowdsec.net for the hub branch on every hub command (`collections
#     list` dies with "error while setting hub branch"); `cscli --branch master` or
#     `cscli: hub_branch:` in the config skips that;
#   - `-no-api` does not run offline replays: the agent still logs in to a local API to push
#     its alerts ("authenticate watcher ... connection refused"). So the replay runs with its own
#     local API (own config, own SQLite file, own port, Central API off), and the alerts are
#     read back afterwards through that API with `cscli alerts list`;
#   - http-path-traversal-probing wants data file http_path_traversal.txt, the package ships it
#     as path_traversal.txt: without a copy, every event logs a multi-kilobyte error.
set -euo pipefail
cd "$(dirname "$0")/../.."
LINES="${1:-10000000}"
OUT="peers/soc/results/$(date -u +%Y-%m-%dT%H%M)"
DATA="${TESSERA_PEER_DATA:-/work/benchdata}"
mkdir -p "$OUT" "$DATA"
LOG="$DATA/soc-peer.log"
WINDOW="$DATA/soc-peer-window.log"
CS="$DATA/crowdsec"                  # the harness's CrowdSec config, database and credentials
CS_PORT=18080                        # its local API, away from a system crowdsec on 8080
CS_METRICS=16060

need() { command -v "$1" >/dev/null || { echo "installing $2"; DEBIAN_FRONTEND=noninteractive apt-get install -y "$2" >/dev/null || true; }; }
# Before the install: no Central API registration (see above); an existing file is left alone.
mkdir -p /etc/crowdsec
[ -s /etc/crowdsec/online_api_credentials.yaml ] ||
  echo "# no thanks: offline benchmark machine (peers/soc/run.sh), see README.Debian" > /etc/crowdsec/online_api_credentials.yaml
need fail2ban-regex fail2ban
need crowdsec crowdsec
# An install made before the opt-out stays half-configured; configuring again finishes it.
if ! dpkg-query -W -f='${Status}' crowdsec 2>/dev/null | grep -q 'install ok installed'; then
  DEBIAN_FRONTEND=noninteractive dpkg --configure crowdsec >/dev/null || true
fi
if [ -f /var/lib/crowdsec/data/path_traversal.txt ] && [ ! -f /var/lib/crowdsec/data/http_path_traversal.txt ]; then
  cp /var/lib/crowdsec/data/path_traversal.txt /var/lib/crowdsec/data/http_path_traversal.txt
fi

BIN="${TESSERA_BIN:-target/release/tessera}"
# Others edit the workspace while this runs: a build that fails leaves the last good binary,
# which is still worth measuring (machine.txt says so).
BUILD="built now"
cargo build --release -p tessera >/dev/null 2>"$OUT/build.txt" || BUILD="BUILD FAILED (see build.txt), binary from $(date -u -r "$BIN" 2>/dev/null || echo never)"
[ -x "$BIN" ] || { echo "no $BIN"; exit 1; }
{ echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(date -u)"; git log --oneline -1; echo "tessera: $BIN, $BUILD"; } | tee "$OUT/machine.txt"

# The log is kept between runs: regenerate it only when asked for another size.
if [ ! -s "$LOG" ] || [ "$(cat "$LOG.lines" 2>/dev/null)" != "$LINES" ]; then
  TESSERA_LOG=error "$BIN" bench soc --lines "$LINES" --runs 1 --keep "$LOG" | tee "$OUT/tessera-bench.txt"
  echo "$LINES" > "$LOG.lines"
fi
# The window starts just before the first prober (192.0.2.20, see crates/tessera-bench/src/soc.rs).
FIRST=$(grep -n -m1 '^192\.0\.2\.20 ' "$LOG" | cut -d: -f1)
START=$(( FIRST > 10000 ? FIRST - 10000 : 1 ))
sed -n "${START},$(( START + 999999 ))p" "$LOG" > "$WINDOW"
echo "window: lines $START..$(( START + 999999 )) of $LOG, $(wc -l < "$WINDOW") lines" | tee "$OUT/window.txt"

t() { local name="$1"; shift; /usr/bin/time -f "$name: %e s wall, %U s user, %M kB max RSS" "$@"; }
t "tessera soc replay (window)" "$BIN" soc replay "$WINDOW" > "$OUT/tessera-window-alerts.txt" 2> "$OUT/tessera-window.txt"
t "tessera soc replay (whole log)" "$BIN" soc replay "$LOG" > "$OUT/tessera-alerts.txt" 2> "$OUT/tessera.txt"
for f in nginx-botsearch nginx-http-auth; do
  t "fail2ban-regex $f (window)" fail2ban-regex "$WINDOW" "/etc/fail2ban/filter.d/$f.conf" > "$OUT/fail2ban-$f.txt" 2>&1 || true
  # Untimed second pass for who matched (printing every matched line would weigh on the time).
  fail2ban-regex --print-all-matched "$WINDOW" "/etc/fail2ban/filter.d/$f.conf" 2>/dev/null |
    grep -oE '^\|  [0-9.]+ ' | awk '{print $2}' | sort | uniq -c | sort -rn > "$OUT/fail2ban-$f-ips.txt" || true
done

# CrowdSec: its own config, so that the system's (and its database) are not touched.
crowdsec_config() {
  mkdir -p "$CS"
  cat > "$CS/config.yaml" <<YAML
common:
  daemonize: false
  log_media: stdout
  log_level: info
  working_dir: .
config_paths:
  config_dir: /etc/crowdsec/
  data_dir: /var/lib/crowdsec/data/
  simulation_path: /etc/crowdsec/simulation.yaml
  hub_dir: /var/lib/crowdsec/hub/
  index_path: /var/lib/crowdsec/hub/.index.json
  notification_dir: /etc/crowdsec/notifications/
  plugin_dir: /usr/lib/crowdsec/plugins/
crowdsec_service:
  acquisition_path: /etc/crowdsec/acquis.yaml
  parser_routines: 1   # as Debian ships it
cscli:
  output: human
  hub_branch: master   # else cscli asks version.crowdsec.net
db_config:
  log_level: info
  type: sqlite
  db_path: $CS/crowdsec.db
  use_wal: true
api:
  client:
    credentials_path: $CS/local_api_credentials.yaml
  server:
    log_level: info
    listen_uri: 127.0.0.1:$CS_PORT
    profiles_path: /etc/crowdsec/profiles.yaml
    trusted_ips: [127.0.0.1]
prometheus:
  enabled: true        # lines read and parsed, polled while it runs
  level: full
  listen_addr: 127.0.0.1
  listen_port: $CS_METRICS
YAML
  # A fresh database each run, so that the alerts read back are this run's.
  rm -f "$CS"/crowdsec.db*
  cscli -c "$CS/config.yaml" machines add tessera-peer --auto -f "$CS/local_api_credentials.yaml" >/dev/null 2>&1
}
if [ -L /var/lib/crowdsec/hub/.index.json ] && cscli --branch master collections list -o raw 2>/dev/null | grep -q '^crowdsecurity/nginx,enabled'; then
  crowdsec_config
  CS_IN="$WINDOW"
  if [ -n "${CROWDSEC_LINES:-}" ]; then
    CS_IN="$DATA/soc-peer-window-head.log"
    head -n "$CROWDSEC_LINES" "$WINDOW" > "$CS_IN"
  fi
  echo "crowdsec reads $(wc -l < "$CS_IN") lines ($CS_IN)" | tee "$OUT/crowdsec-input.txt"
  # The metrics vanish with the process: keep the last reading.
  ( while sleep 5; do curl -s "http://127.0.0.1:$CS_METRICS/metrics" > "$OUT/crowdsec-metrics.tmp" 2>/dev/null &&
      [ -s "$OUT/crowdsec-metrics.tmp" ] && mv "$OUT/crowdsec-metrics.tmp" "$OUT/crowdsec-metrics.txt"; done ) &
  POLL=$!
  t "crowdsec replay ($(wc -l < "$CS_IN") lines of the window)" crowdsec -c "$CS/config.yaml" -dsn "file://$CS_IN" -type nginx -no-capi > "$OUT/crowdsec.txt" 2>&1 || true
  kill "$POLL" 2>/dev/null || true
  grep -E '^cs_(parser_hits|parser_hits_ok|parser_hits_ko|bucket_overflowed|bucket_poured)_total' "$OUT/crowdsec-metrics.txt" > "$OUT/crowdsec-counts.txt" 2>/dev/null || true
  # Its alerts, read back through its local API (started alone, then stopped).
  crowdsec -c "$CS/config.yaml" -no-cs -no-capi > "$OUT/crowdsec-lapi.txt" 2>&1 &
  LAPI=$!
  for _ in $(seq 30); do curl -s -o /dev/null "http://127.0.0.1:$CS_PORT/" && break; sleep 1; done
  cscli -c "$CS/config.yaml" alerts list -l 0 -o raw > "$OUT/crowdsec-alerts.csv" 2>&1 || true
  kill "$LAPI" 2>/dev/null || true
  wait "$LAPI" 2>/dev/null || true
else
  echo "crowdsec: SKIPPED: its offline hub is not set up (see the CrowdSec notes at the top of this script)" | tee "$OUT/crowdsec.txt"
fi

# Who each tool flagged, against the attackers the generator planted (soc.rs); fans are
# 80.0.0.0-111.255.255.255 and the distributed flood's bots 45.0.0.0/8.
{
  echo "crowdsec read: $(cat "$OUT/crowdsec-input.txt" 2>/dev/null || echo nothing)"
  echo "attacker            what                 in window  tessera   fail2ban  crowdsec"
  flagged_t=$(grep -oE '\b[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+\b' "$OUT/tessera-window-alerts.txt" | sort -u)
  flagged_f=$(cat "$OUT"/fail2ban-*-ips.txt 2>/dev/null | awk '{print $2}' | sort -u)
  flagged_c=$(awk -F, 'NR>1 {sub(/^Ip:/, "", $3); print $3}' "$OUT/crowdsec-alerts.csv" 2>/dev/null | sort -u)
  while read -r ip what; do
    n=$(grep -c "^$ip " "$WINDOW" || true)
    yn() { grep -qx "$ip" <<<"$1" && echo yes || echo no; }
    printf "%-19s %-20s %9s  %-8s  %-8s  %s\n" "$ip" "$what" "$n" "$(yn "$flagged_t")" "$(yn "$flagged_f")" "$(yn "$flagged_c")"
  done <<ATTACKERS
203.0.113.66 flood
198.51.100.10 scanner
198.51.100.11 scanner
198.51.100.12 scanner
192.0.2.20 prober
192.0.2.21 prober
192.0.2.22 prober
192.0.2.23 prober
192.0.2.24 prober
185.220.101.1 brute-force
185.220.101.2 brute-force
185.220.101.3 brute-force
ATTACKERS
  fans() { grep -E '^(8[0-9]|9[0-9]|10[0-9]|11[01])\.' <<<"$1" | grep -c . || true; }
  bots() { grep -E '^45\.' <<<"$1" | grep -c . || true; }
  echo
  echo "fans flagged (false positives): tessera $(fans "$flagged_t"), fail2ban $(fans "$flagged_f"), crowdsec $(fans "$flagged_c")"
  echo "distributed-flood bots flagged: tessera $(bots "$flagged_t"), fail2ban $(bots "$flagged_f"), crowdsec $(bots "$flagged_c")"
  echo "crowdsec alerts by scenario:"; awk -F, 'NR>1 {print "  " $4}' "$OUT/crowdsec-alerts.csv" 2>/dev/null | sort | uniq -c
} | tee "$OUT/detections.txt"
grep -h -E "s wall|lines/s\)|^Lines:|SKIPPED|^crowdsec reads|^cs_parser_hits_ok" \
  "$OUT"/{machine,window,tessera-window,tessera,fail2ban-nginx-botsearch,fail2ban-nginx-http-auth,crowdsec-input,crowdsec,crowdsec-counts}.txt 2>/dev/null |
  tee "$OUT/summary.txt"
