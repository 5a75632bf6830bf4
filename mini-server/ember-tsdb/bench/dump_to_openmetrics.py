#!/usr/bin/env python3
"""Turns `promtool tsdb dump` output into OpenMetrics text with timestamps (seconds), as
`promtool tsdb create-blocks-from openmetrics` and `ember-tsdb import openmetrics` read it:
families contiguous (sorted by name), series sorted by labels, samples in time order.

usage: promtool tsdb dump DIR | dump_to_openmetrics.py > out.om
"""
import json
import re
import sys
from collections import defaultdict

PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def unquote(v):
    try:
        return json.loads('"' + v + '"')
    except ValueError:
        return v.replace('\\"', '"').replace("\\\\", "\\")


def escape(v):
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def number(s):
    f = float(s)
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    return repr(f)


series = defaultdict(list)
for line in sys.stdin:
    line = line.rstrip("\n")
    if not line.startswith("{"):
        continue
    end = line.rindex("}")
    labels = [(n, unquote(v)) for n, v in PAIR.findall(line[1:end])]
    value, ts = line[end + 1:].split()
    series[tuple(labels)].append((int(ts), value))

families = defaultdict(list)
for labels, samples in series.items():
    name = dict(labels).get("__name__", "")
    rest = tuple((n, v) for n, v in labels if n != "__name__")
    families[name].append((rest, samples))

out = sys.stdout
for name in sorted(families):
    for rest, samples in sorted(families[name]):
        text = ",".join(f'{n}="{escape(v)}"' for n, v in rest)
        head = f"{name}{{{text}}}" if text else name
        samples.sort()
        last = None
        for ts, value in samples:
            if ts == last:
                continue
            last = ts
            out.write(f"{head} {number(value)} {ts // 1000}.{ts % 1000:03d}\n")
out.write("# EOF\n")
