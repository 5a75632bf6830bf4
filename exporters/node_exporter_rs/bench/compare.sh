#!/usr/bin/env bash
# node_exporter_rs next to Debian's node_exporter 1.5 on this host, in one run.
#
# Starts three exporters on free loopback ports (all at once; each is idle while the
# others are measured):
#   1. node_exporter_rs (the shipped build: `--profile dist`) with its default collectors,
#   2. node_exporter 1.5 with exactly the same collectors (--collector.disable-defaults
#      plus --collector.NAME for each collector node_exporter_rs enables by default),
#   3. node_exporter 1.5 with its own defaults (for reference: what a user runs today),
# and for each measures, scraping with Prometheus's request headers (Accept with
# OpenMetrics, Accept-Encoding: gzip, X-Prometheus-Scrape-Timeout-Seconds):
#   - scrape latency with one client (wrk -c1): median and p99,
#   - CPU time per scrape: utime+stime from /proc/PID/stat over the -c1 run, divided by
#     the number of scrapes wrk completed,
#   - latency with 10 concurrent clients (wrk -c10): median and p99,
#   - resident memory: VmRSS after 5 warm-up scrapes, after the first one-client run (a
#     single scraper's steady state, before any concurrent load), after the last
#     10-client run, and the peak (VmHWM) at the end,
#   - the size of one uncompressed scrape and its number of samples.
# Each figure is the median of ROUNDS rounds (default 3) that take the exporters in
# turn, so that load from elsewhere on the host falls on all of them alike. Prints a
# Markdown table. Needs: wrk, curl, prometheus-node-exporter (apt).
#
# Usage: exporters/node_exporter_rs/bench/compare.sh            (builds --profile dist first)
#        DURATION=5 ROUNDS=3 OURS=/path/to/node_exporter_rs exporters/node_exporter_rs/bench/compare.sh
set -euo pipefail

DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
GO=${GO:-/usr/bin/prometheus-node-exporter}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}

for tool in wrk curl "$GO"; do
    command -v "$tool" >/dev/null || {
        echo "missing $tool: apt-get install wrk curl prometheus-node-exporter" >&2
        exit 1
    }
done

if [[ -z ${OURS:-} ]]; then
    (cd "$root" && cargo build --profile dist --locked -p node_exporter_rs >&2)
    OURS=$target/dist/node_exporter_rs
fi

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Collectors node_exporter_rs enables by default, from its --help.
mapfile -t ours_default < <("$OURS" --help | grep -oE 'Enable the [a-z0-9_]+ collector \(default: enabled\)' | awk '{print $3}')
go_known=$("$GO" --help 2>&1)
same=(--collector.disable-defaults)
for c in "${ours_default[@]}"; do
    if grep -q -- "--collector.$c " <<<"$go_known" || grep -q -- "--\[no-\]collector.$c " <<<"$go_known"; then
        same+=("--collector.$c")
    fi
done

ACCEPT='Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
GZIP='Accept-Encoding: gzip'
TIMEOUT='X-Prometheus-Scrape-Timeout-Seconds: 10'

start() { # name binary args... ; sets $pid $addr
    local name=$1 bin=$2
    shift 2
    addr=127.0.0.1:$(free_port)
    "$bin" --web.listen-address="$addr" "$@" >"$work/$name.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 1 100); do
        curl -sf -o /dev/null "http://$addr/metrics" && return 0
        sleep 0.1
    done
    echo "$name did not start:" >&2
    cat "$work/$name.log" >&2
    exit 1
}

mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# wrk's latency ("812.00us", "1.20ms", "2.01s") in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n *= 1; else if (v ~ /s$/) n *= 1000
        printf "%.2f", n
    }'
}
percentile() { awk -v p="$2" '/Latency Distribution/ {f = 1} f && $1 == p {print $2; exit}' "$1"; }
requests() { awk '/requests in/ {print $1; exit}' "$1"; }

# One measurement of exporter $1 (pid $2, address $3) in round $4: appends
# "c1_p50 c1_p99 c1_scrapes cpu_ms c10_p50 c10_p99 rss_c1_kb rss_c10_kb" to $work/$1.rounds.
measure_round() {
    local name=$1 pid=$2 url=http://$3/metrics
    local c0 c1 n1 rss_c1 hz cpu_ms
    c0=$(cpu_ticks "$pid")
    wrk -t1 -c1 -d"${DURATION}s" --latency -H "$ACCEPT" -H "$GZIP" -H "$TIMEOUT" "$url" >"$work/$name.c1"
    c1=$(cpu_ticks "$pid")
    n1=$(requests "$work/$name.c1")
    rss_c1=$(rss_kb "$pid" VmRSS)
    wrk -t2 -c10 -d"${DURATION}s" --latency -H "$ACCEPT" -H "$GZIP" -H "$TIMEOUT" "$url" >"$work/$name.c10"
    hz=$(getconf CLK_TCK)
    cpu_ms=$(awk -v d=$((c1 - c0)) -v n="$n1" -v hz="$hz" 'BEGIN {printf "%.2f", d * 1000 / hz / n}')
    echo "$(to_ms "$(percentile "$work/$name.c1" 50%)") $(to_ms "$(percentile "$work/$name.c1" 99%)") $n1 $cpu_ms" \
        "$(to_ms "$(percentile "$work/$name.c10" 50%)") $(to_ms "$(percentile "$work/$name.c10" 99%)")" \
        "$rss_c1 $(rss_kb "$pid" VmRSS)" >>"$work/$name.rounds"
}

# The median of column $2 of file $1.
median() { awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

names=(node_exporter_rs "node_exporter 1.5, same collectors" "node_exporter 1.5, its defaults")
keys=(ours go_same go_default)
declare -A pid_of addr_of warm_of
start ours "$OURS"
pid_of[ours]=$pid addr_of[ours]=$addr
start go_same "$GO" "${same[@]}"
pid_of[go_same]=$pid addr_of[go_same]=$addr
start go_default "$GO"
pid_of[go_default]=$pid addr_of[go_default]=$addr
for k in "${keys[@]}"; do
    url=http://${addr_of[$k]}/metrics
    for _ in 1 2 3 4 5; do curl -s -o /dev/null -H "$ACCEPT" -H "$GZIP" "$url"; done
    warm_of[$k]=$(rss_kb "${pid_of[$k]}" VmRSS)
    curl -s -H 'Accept: text/plain' "$url" >"$work/$k.prom"
done
# Rounds alternate the exporters, so that load from elsewhere on the host falls on all.
for _ in $(seq 1 "$ROUNDS"); do
    for k in "${keys[@]}"; do measure_round "$k" "${pid_of[$k]}" "${addr_of[$k]}"; done
done
# Resident memory only grows with load (allocators keep their peaks), so "after c1" is
# the first round's, taken before any 10-client run, and "after c10" the last round's.
rows=()
for i in 0 1 2; do
    k=${keys[$i]}
    r=$work/$k.rounds
    rows+=("| ${names[$i]} | $(grep -vc '^#' "$work/$k.prom") | $(wc -c <"$work/$k.prom") | $(median "$r" 1) | $(median "$r" 2) | $(median "$r" 3) | $(median "$r" 4) | $(median "$r" 5) | $(median "$r" 6) | $(mb "${warm_of[$k]}") | $(mb "$(head -1 "$r" | awk '{print $7}')") | $(mb "$(tail -1 "$r" | awk '{print $8}')") | $(mb "$(rss_kb "${pid_of[$k]}" VmHWM)") |")
done

echo "host: $(nproc) cores, $(uname -r); $(date -u +%Y-%m-%dT%H:%MZ); ${DURATION}s per wrk run, median of $ROUNDS alternating rounds"
echo "node_exporter_rs default collectors (${#ours_default[@]}): ${ours_default[*]}"
echo "node_exporter 1.5 'same collectors' flags: ${same[*]}"
echo
echo "| exporter | samples | bytes | c1 p50 ms | c1 p99 ms | c1 scrapes | CPU ms/scrape | c10 p50 ms | c10 p99 ms | RSS warm MB | RSS after c1 MB | RSS after c10 MB | RSS peak MB |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
