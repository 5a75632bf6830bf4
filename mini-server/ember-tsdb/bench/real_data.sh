#!/usr/bin/env bash
# Bytes per sample on real data: Prometheus scrapes a local node_exporter every STEP for
# MINUTES, its store is dumped to OpenMetrics (dump_to_openmetrics.py), and the file is
# imported by ember-tsdb and by promtool with 24 h blocks, as in run.sh.
#
# usage: mini-server/ember-tsdb/bench/real_data.sh [MINUTES [STEP]]   (default 60 5s)
#        DATA=DIR mini-server/ember-tsdb/bench/real_data.sh   (reuse a Prometheus data dir)
# needs: prometheus, promtool (apt: prometheus), prometheus-node-exporter, python3
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
minutes=${1:-60} step=${2:-5s}
work=${WORK:-$(mktemp -d)}
target=${CARGO_TARGET_DIR:-$root/target}
for b in prometheus promtool prometheus-node-exporter; do
  command -v "$b" >/dev/null || { echo "$b missing: apt-get install prometheus prometheus-node-exporter" >&2; exit 1; }
done
(cd "$root" && cargo build --release -q -p ember-tsdb --bin ember-tsdb)

data=${DATA:-}
if [ -z "$data" ]; then
  data="$work/prom-data"
  read -r ne pr < <(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
  printf 'global:\n  scrape_interval: %s\nscrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ["127.0.0.1:%s"]\n' "$step" "$ne" > "$work/prometheus.yml"
  prometheus-node-exporter --web.listen-address="127.0.0.1:$ne" > "$work/ne.log" 2>&1 & nepid=$!
  prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$data" \
    --web.listen-address="127.0.0.1:$pr" > "$work/prom.log" 2>&1 & prpid=$!
  trap 'kill $nepid $prpid 2>/dev/null || true' EXIT
  sleep $((minutes * 60))
  kill "$prpid"; wait "$prpid" || true
  kill "$nepid"; wait "$nepid" || true
  trap - EXIT
fi

om="$work/real.om"
promtool tsdb dump "$data" | python3 "$here/dump_to_openmetrics.py" > "$om"
samples=$(grep -vc '^#' "$om")
bytes_of() { find "$1" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}'; }
rm -rf "$work/ember" "$work/prom"
"$target/release/ember-tsdb" import openmetrics "$om" "$work/ember" --max-block-duration=24h
promtool tsdb create-blocks-from openmetrics --max-block-duration=24h "$om" "$work/prom" > /dev/null
series=$("$target/release/ember-tsdb" analyze "$work/ember" | awk '/^series:/ {print $2}')
e=$(bytes_of "$work/ember") p=$(bytes_of "$work/prom")
awk -v s="$samples" -v n="$series" -v e="$e" -v p="$p" 'BEGIN {
  printf "real node_exporter data: %d series, %d samples (%.0f per series)\n", n, s, s/n
  printf "| tool | bytes on disk | bytes/sample |\n|---|---|---|\n"
  printf "| ember-tsdb | %d | %.3f |\n| promtool | %d | %.3f |\n", e, e/s, p, p/s }'
echo "work dir: $work"
