#!/usr/bin/env python3
"""Times range queries on Prometheus (HTTP API) and on ember-promql (query_bench, in
process over ember-tsdb blocks) in interleaved rounds, checks that both return the same
answer, and prints a Markdown table. Called by compare.sh."""
import argparse, http.client, json, math, statistics, subprocess, sys, time, urllib.parse

ap = argparse.ArgumentParser()
for a in ("prom", "ours", "blocks", "queries", "start", "end", "step"):
    ap.add_argument("--" + a, required=True)
ap.add_argument("--runs", type=int, default=7)
args = ap.parse_args()

queries = []
with open(args.queries) as f:
    for line in f:
        line = line.rstrip("\n")
        if line and not line.startswith("#"):
            name, q = line.split("\t", 1)
            queries.append((name, q))

url = urllib.parse.urlsplit(args.prom)
conn = http.client.HTTPConnection(url.hostname, url.port)


def prom(q):
    """(wall ms of the HTTP request with the body read, server execTotalTime ms, data)"""
    qs = urllib.parse.urlencode({"query": q, "start": args.start, "end": args.end,
                                 "step": args.step, "stats": "all"})
    t0 = time.perf_counter()
    conn.request("GET", "/api/v1/query_range?" + qs)
    body = conn.getresponse().read()
    wall = (time.perf_counter() - t0) * 1000
    r = json.loads(body)
    if r.get("status") != "success":
        sys.exit(f"prometheus failed on {q}: {body[:300]!r}")
    exec_ms = r["data"]["stats"]["timings"]["execTotalTime"] * 1000
    return wall, exec_ms, r["data"]


def ours():
    """{name: (ms of the timed run, data)}: one process, each query run twice, the
    second (warm) run timed, as a server that has answered queries before."""
    inp = "".join(f"{n}\t{q}\n" for n, q in queries)
    out = subprocess.run([args.ours, args.blocks, args.start, args.end, args.step, "2"],
                         input=inp, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"query_bench failed: {out.stderr}")
    res = {}
    for line in out.stdout.splitlines():
        r = json.loads(line)
        res[r["name"]] = (r["ms"][-1], r["data"])
    return res


def num(s):
    return float(s)  # "NaN", "+Inf", "-Inf" parse as Python floats


def close(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if a == b:
        return True
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b))


def check(name, p, o):
    """Same series, timestamps and values (relative 1e-9); returns (series, points, sum)."""
    if p["resultType"] != o["resultType"]:
        sys.exit(f"{name}: result types differ: {p['resultType']} vs {o['resultType']}")
    key = lambda s: tuple(sorted(s["metric"].items()))
    ps = {key(s): s["values"] for s in p["result"]}
    os_ = {key(s): s["values"] for s in o["result"]}
    if ps.keys() != os_.keys():
        sys.exit(f"{name}: series differ: only Prometheus {sorted(ps.keys() - os_.keys())[:3]}, "
                 f"only ours {sorted(os_.keys() - ps.keys())[:3]}")
    points, total = 0, 0.0
    for k, pv in ps.items():
        ov = os_[k]
        if [t for t, _ in pv] != [t for t, _ in ov]:
            sys.exit(f"{name}: timestamps differ for {k}")
        for (t, a), (_, b) in zip(pv, ov):
            a, b = num(a), num(b)
            if not close(a, b):
                sys.exit(f"{name}: {k} at {t}: Prometheus {a!r}, ours {b!r}")
            if math.isfinite(a):
                total += a
        points += len(pv)
    return len(ps), points, total


# Warm-up round (discarded) for both, which also checks the answers.
warm = ours()
checks = {}
for name, q in queries:
    _, _, pdata = prom(q)
    checks[name] = check(name, pdata, warm[name][1])

t_ours = {n: [] for n, _ in queries}
t_wall = {n: [] for n, _ in queries}
t_exec = {n: [] for n, _ in queries}
for _ in range(args.runs):
    o = ours()
    for name, q in queries:
        t_ours[name].append(o[name][0])
        w, e, _ = prom(q)
        t_wall[name].append(w)
        t_exec[name].append(e)

try:
    load = open("/proc/loadavg").read().split()[:3]
except OSError:
    load = ["?"]
print(f"\n{args.runs} rounds after a warm-up round, load average {' '.join(load)}; "
      "times in ms as median (min–max)\n")
print("| query | series | points | checksum (sum of values) | ours in-process | Prometheus server exec | Prometheus HTTP | ours / Prom exec | ours / Prom HTTP |")
print("|---|---|---|---|---|---|---|---|---|")
r_exec, r_wall = [], []
fmt = lambda xs: f"{statistics.median(xs):.1f} ({min(xs):.1f}–{max(xs):.1f})"
for name, _ in queries:
    s, p, c = checks[name]
    mo, me, mw = (statistics.median(x[name]) for x in (t_ours, t_exec, t_wall))
    r_exec.append(mo / me)
    r_wall.append(mo / mw)
    print(f"| {name} | {s} | {p} | {c:.6g} | {fmt(t_ours[name])} | {fmt(t_exec[name])} | "
          f"{fmt(t_wall[name])} | {mo / me:.3f} | {mo / mw:.3f} |")
gm = lambda xs: math.exp(sum(map(math.log, xs)) / len(xs))
print(f"\ngeometric mean of ours/Prometheus: {gm(r_exec):.3f} against server exec time, "
      f"{gm(r_wall):.3f} against HTTP wall time; worst query {max(r_exec):.3f} / {max(r_wall):.3f}")
print("all answers agree (same series and timestamps, values within 1e-9 relative)")
