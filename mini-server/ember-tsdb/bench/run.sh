#!/usr/bin/env bash
# Disk size, import and read-all figures of ember-tsdb against Prometheus's promtool on
# the same OpenMetrics file, in one run.
#
# usage: mini-server/ember-tsdb/bench/run.sh [HOSTS HOURS STEP]   (default 50 24 15)
# needs: python3, promtool (apt: prometheus), GNU time (apt: time)
# env:   CARGO_TARGET_DIR (default target), WORK (default a fresh temp dir)
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
gen="$root/../shared/bench/gen_dataset.py"
hosts=${1:-50} hours=${2:-24} step=${3:-15}
work=${WORK:-$(mktemp -d)}
target=${CARGO_TARGET_DIR:-$root/target}
command -v promtool >/dev/null || { echo "promtool missing: apt-get install prometheus" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time missing: apt-get install time" >&2; exit 1; }

(cd "$root" && cargo build --release -q -p ember-tsdb --bin ember-tsdb --example read_all)
bin="$target/release/ember-tsdb"
read_all="$target/release/examples/read_all"

om="$work/data.om"
[ -s "$om" ] || python3 "$gen" "$hosts" "$hours" "$step" > "$om"
samples=$(grep -vc '^#' "$om")
echo "dataset: gen_dataset.py $hosts $hours $step: $samples samples, $(stat -L -c %s "$om") bytes"
bytes_of() { find "$1" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}'; }
timed() { /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$@"; read -r wall user sys rss < "$work/time"; }

# The input is in the page cache (read by the count above) for both tools.
rm -rf "$work/ember" "$work/prom"
timed "$bin" import openmetrics "$om" "$work/ember" --max-block-duration=24h > /dev/null
e_wall=$wall e_cpu=$(echo "$user + $sys" | bc) e_rss=$rss
timed promtool tsdb create-blocks-from openmetrics --max-block-duration=24h "$om" "$work/prom" > /dev/null
p_wall=$wall p_cpu=$(echo "$user + $sys" | bc) p_rss=$rss
e_bytes=$(bytes_of "$work/ember") p_bytes=$(bytes_of "$work/prom")
e_index=$(find "$work/ember" -name index -printf '%s\n' | awk '{s+=$1} END {print s+0}')
p_index=$(find "$work/prom" -name index -printf '%s\n' | awk '{s+=$1} END {print s+0}')

timed "$bin" dump "$work/ember" > /dev/null
ed_wall=$wall
mkdir -p "$work/prom/wal" # promtool tsdb dump opens the directory as a database
timed promtool tsdb dump "$work/prom" > /dev/null
pd_wall=$wall

printf '\n| tool | bytes on disk (index) | bytes/sample | import wall s | import samples/s (wall) | import samples/CPU-s | import max RSS MB | dump all as text, wall s |\n|---|---|---|---|---|---|---|---|\n'
row() { # name bytes index wall cpu rss dump
  awk -v n="$1" -v b="$2" -v i="$3" -v w="$4" -v c="$5" -v r="$6" -v d="$7" -v s="$samples" 'BEGIN {
    printf "| %s | %d (%d) | %.3f | %.2f | %.2f M | %.2f M | %d | %.2f |\n", n, b, i, b/s, w, s/w/1e6, s/c/1e6, r/1024, d }'
}
row "ember-tsdb" "$e_bytes" "$e_index" "$e_wall" "$e_cpu" "$e_rss" "$ed_wall"
row "promtool $(promtool --version 2>&1 | awk 'NR==1 {print $3}')" "$p_bytes" "$p_index" "$p_wall" "$p_cpu" "$p_rss" "$pd_wall"
echo
echo "read all samples through the query path (ember-tsdb; block files in the page cache):"
timed "$read_all" "$work/ember" 5
awk -v s="$samples" -v u="$user" -v y="$sys" -v w="$wall" 'BEGIN {
  printf "5 rounds: %.2f s wall, %.2f CPU-s: %.1f M samples/CPU-s\n", w, u+y, 5*s/(u+y)/1e6 }'
echo "work dir: $work"
