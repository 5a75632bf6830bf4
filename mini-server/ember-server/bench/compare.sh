#!/usr/bin/env bash
# ember-server and Prometheus 2.42 side by side on this machine (issue 7, section 6).
#
#   mini-server/ember-server/bench/compare.sh [MINUTES]      # default 10
#
# One `load_targets` process serves TARGETS x SERIES series (default 100 x 1,000 =
# 100,000) whose values change on every scrape. Each server in turn (ember-server, then
# prometheus) scrapes them every INTERVAL (default 15s) on a fresh data directory; after a
# warm-up of two intervals, a steady window of MINUTES is measured:
#
# - CPU seconds per million samples: utime+stime of the server from /proc/PID/stat over
#   the window, divided by the samples appended in the window (the server's own
#   `*_tsdb_head_samples_appended_total` counter from /metrics if it has one, otherwise
#   computed from its `scrape_samples_post_metric_relabeling` and `up` series);
# - resident memory per active series: VmRSS at the end of the window divided by the head
#   series (`/api/v1/status/tsdb` `headStats.numSeries`);
# - start to ready on an empty and on the full data directory: spawn to the first 200 on
#   `/-/ready`, polled every 1 ms, median of STARTS starts (default 5).
#
# Prints a markdown table with the ratios against the targets (CPU <= 0.5x, memory <= 1/3x,
# ready on an empty directory < 50 ms). Needs: prometheus (Debian's 2.42), curl, jq, bc.
# Environment: TARGETS, SERIES, INTERVAL (seconds), STARTS, SERVERS ("ember prometheus"),
# SAMPLES_FROM=api (count samples from the report series even when a counter exists),
# KEEP=1 keeps the work directory.
set -euo pipefail
cd "$(dirname "$0")/../../.."

minutes="${1:-10}"
targets="${TARGETS:-100}"
series="${SERIES:-1000}"
interval="${INTERVAL:-15}"
starts="${STARTS:-5}"
servers="${SERVERS:-ember prometheus}"

for tool in curl jq bc; do
  command -v "$tool" >/dev/null || { echo "compare.sh: needs $tool" >&2; exit 1; }
done
if [[ " $servers " == *" prometheus "* ]] && ! command -v prometheus >/dev/null; then
  echo "compare.sh: needs prometheus (apt-get install prometheus)" >&2
  exit 1
fi

echo "==> building ember-server and load_targets (release)" >&2
cargo build --release --locked -p ember-server --bin ember-server --example load_targets >&2
target_dir=$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)
ember_bin="$target_dir/release/ember-server"
load_bin="$target_dir/release/examples/load_targets"

work=$(mktemp -d /tmp/ember-compare.XXXXXX)
load_pid=""
server_pid=""
cleanup() {
  for pid in $server_pid $load_pid; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in $server_pid $load_pid; do wait "$pid" 2>/dev/null || true; done
  if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "work directory kept: $work" >&2; fi
}
trap cleanup EXIT

"$load_bin" --targets "$targets" --series "$series" --addresses-file "$work/targets" \
  >/dev/null 2>"$work/load_targets.log" &
load_pid=$!
for _ in $(seq 1 600); do [ -s "$work/targets" ] && break; sleep 0.05; done
[ -s "$work/targets" ] || { echo "load_targets did not start" >&2; cat "$work/load_targets.log" >&2; exit 1; }
series_per_target=$(curl -s "http://$(head -n 1 "$work/targets")/metrics" | grep -vc '^#')

{
  printf 'global:\n  scrape_interval: %ss\n  scrape_timeout: 10s\nscrape_configs:\n' "$interval"
  printf '  - job_name: load\n    static_configs:\n      - targets:\n'
  sed 's/.*/          - "&"/' "$work/targets"
} >"$work/prometheus.yml"

# A port nobody answers on.
port=""
for _ in $(seq 1 100); do
  p=$((20000 + RANDOM % 40000))
  if ! { exec {probe}<>"/dev/tcp/127.0.0.1/$p"; } 2>/dev/null; then port=$p; break; fi
  exec {probe}>&-
done
[ -n "$port" ] || { echo "compare.sh: no free port found" >&2; exit 1; }
addr="127.0.0.1:$port"

# A 1 ms sleep without forking: a read that times out on a pipe nobody writes.
exec {never}<> <(:)
nap() { read -r -t "$1" -u "$never" _ || true; }

# Is /-/ready 200? bash's /dev/tcp, so a poll costs no fork.
ready_now() {
  local line
  { exec {fd}<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
  printf 'GET /-/ready HTTP/1.0\r\nHost: %s\r\n\r\n' "$addr" >&"$fd"
  read -r -t 2 -u "$fd" line || line=""
  exec {fd}>&-
  [[ "$line" == *" 200"* ]]
}

server_cmd() { # name data_dir
  local bin
  case "$1" in
  ember) bin="$ember_bin" ;;
  prometheus) bin=prometheus ;;
  esac
  printf '%s\0' "$bin" "--config.file=$work/prometheus.yml" "--storage.tsdb.path=$2" \
    "--web.listen-address=$addr"
}

# Starts server $1 on data dir $2 in the background; sets server_pid and ready_ms.
start_server() {
  local -a cmd
  mapfile -d '' cmd < <(server_cmd "$1" "$2")
  local t0=$EPOCHREALTIME
  "${cmd[@]}" >>"$work/$1.log" 2>&1 &
  server_pid=$!
  local deadline=$((${t0%.*} + 300))
  until ready_now; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "$1 exited before it was ready:" >&2
      tail -n 20 "$work/$1.log" >&2
      exit 1
    fi
    [ "${EPOCHREALTIME%.*}" -lt "$deadline" ] || { echo "$1 not ready after 300 s" >&2; exit 1; }
    nap 0.001
  done
  local t1=$EPOCHREALTIME
  ready_ms=$(echo "($t1 - $t0) * 1000" | bc -l)
}

stop_server() {
  kill -TERM "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# Median start-to-ready (ms) of server $1 on data dir $2 over $starts starts; $3=fresh
# wipes the directory before each start.
ready_median() {
  local i out=()
  for ((i = 0; i < starts; i++)); do
    [ "$3" = fresh ] && rm -rf "$2" && mkdir -p "$2"
    start_server "$1" "$2"
    out+=("$ready_ms")
    stop_server
  done
  printf '%s\n' "${out[@]}" | median
}

cpu_ticks() { awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
api_query() { # PromQL -> value of the first sample (0 when empty)
  curl -s --get "http://$addr/api/v1/query" --data-urlencode "query=$1" |
    jq -r '.data.result[0].value[1] // "0"'
}
samples_counter() { # sum of the server's samples-appended counter, or empty
  curl -s "http://$addr/metrics" |
    awk '/^(prometheus|ember)_tsdb_head_samples_appended_total[{ ]/ {s += $NF; n++} END {if (n) printf "%.0f\n", s}'
}

hz=$(getconf CLK_TCK)
declare -A cpu_per_m mem_per_series ready_empty ready_full samples head_series rss_mib cpu_s source

for s in $servers; do
  echo "==> $s: start to ready on an empty data directory ($starts starts)" >&2
  ready_empty[$s]=$(ready_median "$s" "$work/$s-empty" fresh)

  echo "==> $s: scraping $targets targets x $series_per_target series every ${interval}s; warm-up $((2 * interval)) s, then $minutes min" >&2
  data="$work/$s-data"
  mkdir -p "$data"
  start_server "$s" "$data"
  sleep $((2 * interval))
  c0=$(cpu_ticks "$server_pid")
  n0=$(samples_counter)
  t0=$EPOCHREALTIME
  sleep $((minutes * 60))
  c1=$(cpu_ticks "$server_pid")
  n1=$(samples_counter)
  t1=$EPOCHREALTIME
  window=$(printf '%.0f' "$(echo "$t1 - $t0" | bc -l)")
  if [ -n "$n0" ] && [ -n "$n1" ] && [ "${SAMPLES_FROM:-}" != api ]; then
    samples[$s]=$((n1 - n0))
    source[$s]="samples-appended counter"
  else
    post=$(api_query "sum(sum_over_time(scrape_samples_post_metric_relabeling{job=\"load\"}[${window}s]))")
    scrapes=$(api_query "sum(count_over_time(up{job=\"load\"}[${window}s]))")
    samples[$s]=$(printf '%.0f' "$(echo "$post + 5 * $scrapes" | bc -l)")
    source[$s]="scrape_samples_post_metric_relabeling + 5 report series per scrape"
  fi
  rss=$(rss_kb "$server_pid")
  head_series[$s]=$(curl -s "http://$addr/api/v1/status/tsdb" | jq -r '.data.headStats.numSeries')
  cpu_s[$s]=$(echo "($c1 - $c0) / $hz" | bc -l)
  cpu_per_m[$s]=$(echo "${cpu_s[$s]} * 1000000 / ${samples[$s]}" | bc -l)
  mem_per_series[$s]=$(echo "$rss * 1024 / ${head_series[$s]}" | bc -l)
  rss_mib[$s]=$(echo "$rss / 1024" | bc -l)
  stop_server

  echo "==> $s: start to ready on the full data directory ($starts starts)" >&2
  ready_full[$s]=$(ready_median "$s" "$data" keep)
done

fmt() { printf "%.${2:-2}f" "$1"; }
ratio() { # ember / prometheus
  if [ -n "${2:-}" ] && [ -n "${1:-}" ] && [ "$(echo "$2 > 0" | bc -l)" = 1 ]; then
    fmt "$(echo "$1 / $2" | bc -l)" 2
  else
    echo "—"
  fi
}
col() { # measure server digits
  local v
  eval "v=\${$1[$2]:-}"
  if [ -n "$v" ]; then fmt "$v" "${3:-2}"; else echo "—"; fi
}

cat <<EOF

$targets targets x $series_per_target series, scraped every ${interval}s; steady window $minutes min after a $((2 * interval)) s warm-up; start-to-ready medians of $starts starts; $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo).

| measure | ember-server | Prometheus 2.42 | ember / Prometheus | target |
|---|---:|---:|---:|---|
| CPU seconds per million samples | $(col cpu_per_m ember 3) | $(col cpu_per_m prometheus 3) | $(ratio "${cpu_per_m[ember]:-}" "${cpu_per_m[prometheus]:-}") | ≤ 0.5 |
| resident memory per active series (bytes) | $(col mem_per_series ember 0) | $(col mem_per_series prometheus 0) | $(ratio "${mem_per_series[ember]:-}" "${mem_per_series[prometheus]:-}") | ≤ 0.33 |
| start to ready, empty data dir (ms) | $(col ready_empty ember 1) | $(col ready_empty prometheus 1) | $(ratio "${ready_empty[ember]:-}" "${ready_empty[prometheus]:-}") | ember < 50 ms |
| start to ready, full data dir (ms) | $(col ready_full ember 1) | $(col ready_full prometheus 1) | $(ratio "${ready_full[ember]:-}" "${ready_full[prometheus]:-}") | — |
| samples ingested in the window | $(col samples ember 0) | $(col samples prometheus 0) | | |
| head series | $(col head_series ember 0) | $(col head_series prometheus 0) | | |
| CPU seconds in the window | $(col cpu_s ember 2) | $(col cpu_s prometheus 2) | | |
| VmRSS at the end (MiB) | $(col rss_mib ember 1) | $(col rss_mib prometheus 1) | | |

Samples counted from: $(for s in $servers; do printf '%s: %s; ' "$s" "${source[$s]}"; done)
EOF
