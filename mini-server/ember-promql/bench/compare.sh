#!/usr/bin/env bash
# Dashboard-style range queries (24 h at 60 s) on ember-promql over ember-tsdb blocks and
# on Prometheus over promtool-backfilled blocks, the same data, in one run.
#
# usage: mini-server/ember-promql/bench/compare.sh [RUNS]        (default 7)
# needs: python3, prometheus and promtool (apt: prometheus), curl (apt: curl)
# env:   CARGO_TARGET_DIR (default target), WORK (default a fresh temp dir, removed at
#        the end unless given), DATASET (default "50 24 15"), QUERIES (default
#        bench/queries.tsv: name<TAB>query per line)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
gen="$root/../shared/bench/gen_dataset.py"
runs=${1:-7}
read -r hosts hours step <<< "${DATASET:-50 24 15}"
queries=${QUERIES:-$here/queries.tsv}
target=${CARGO_TARGET_DIR:-$root/target}
for b in prometheus promtool; do
  command -v $b >/dev/null || { echo "$b missing: apt-get install prometheus" >&2; exit 1; }
done
command -v curl >/dev/null || { echo "curl missing: apt-get install curl" >&2; exit 1; }
[ -f "$gen" ] || { echo "dataset generator not found at $gen" >&2; exit 1; }
if [ -n "${WORK:-}" ]; then work=$WORK; keep=1; else work=$(mktemp -d); keep=0; fi
mkdir -p "$work"
prom_pid=
cleanup() {
  [ -n "$prom_pid" ] && kill "$prom_pid" 2>/dev/null && wait "$prom_pid" 2>/dev/null
  [ "$keep" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

(cd "$root" && cargo build --release -q -p ember-tsdb --bin ember-tsdb \
  && cargo build --release -q -p ember-promql --features tsdb --example query_bench)

om="$work/data.om"
[ -s "$om" ] || python3 "$gen" "$hosts" "$hours" "$step" > "$om"
echo "dataset: gen_dataset.py $hosts $hours $step: $(grep -vc '^#' "$om") samples"
if [ ! -d "$work/ember" ]; then
  "$target/release/ember-tsdb" import openmetrics "$om" "$work/ember" --max-block-duration=24h > /dev/null
fi
if [ ! -d "$work/prom" ]; then
  promtool tsdb create-blocks-from openmetrics --max-block-duration=24h "$om" "$work/prom" > /dev/null
fi
[ "$keep" = 1 ] || rm -f "$om"

# Range: the data's whole day (gen_dataset.py starts at 1700000000).
start=1700000000 end=$((1700000000 + ${hours%.*} * 3600)) qstep=60

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'global:\n  scrape_interval: 1h\nscrape_configs: []\n' > "$work/prometheus.yml"
# Retention far back enough that the backfilled 2023 blocks are not deleted on start.
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prom" \
  --storage.tsdb.retention.time=100y --web.listen-address="127.0.0.1:$port" \
  --log.level=warn > "$work/prometheus.log" 2>&1 &
prom_pid=$!
for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$port/-/ready" > /dev/null && break
  kill -0 "$prom_pid" 2>/dev/null || { cat "$work/prometheus.log" >&2; exit 1; }
  sleep 0.2
done
curl -sf "http://127.0.0.1:$port/-/ready" > /dev/null || { echo "prometheus not ready" >&2; exit 1; }

python3 "$here/compare.py" --prom "http://127.0.0.1:$port" \
  --ours "$target/release/examples/query_bench" --blocks "$work/ember" \
  --queries "$queries" --start "$start" --end "$end" --step "$qstep" --runs "$runs"
