#!/usr/bin/env python3
"""Start-to-ready time of ember-server: from spawning the process to the first 200 on
/-/ready, polled every millisecond over a raw socket (no client start-up cost).

    python3 scripts/start_to_ready.py BINARY [--runs 20] [--data DIR]
    python3 scripts/start_to_ready.py BINARY --fill DIR --series 10000 --seconds 120

Without --data every run gets a fresh, empty data directory; with --data DIR every run
opens DIR (e.g. a store filled by an earlier run or by `ember-tsdb import`). BINARY may also
be Debian's `prometheus`: the flags used are spelled the same. Prints min, median, p90
and max in milliseconds.

--fill DIR first fills DIR: BINARY scrapes a synthetic target (SERIES gauges) every
second for SECONDS, then stops with SIGTERM; the runs then open DIR (WAL replay).
"""
import argparse
import http.server
import threading
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ready(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"GET /-/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            head = s.recv(64)
            return head.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def one_run(binary, data, workdir):
    port = free_port()
    config = os.path.join(workdir, "prometheus.yml")
    with open(config, "w") as f:
        f.write("global:\n  scrape_interval: 15s\nscrape_configs: []\n")
    args = [
        binary,
        f"--web.listen-address=127.0.0.1:{port}",
        f"--storage.tsdb.path={data}",
        f"--config.file={config}",
    ]
    start = time.perf_counter()
    p = subprocess.Popen(args, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = start + 60
        while not ready(port):
            if p.poll() is not None:
                sys.exit(f"{binary} exited with {p.returncode}")
            if time.perf_counter() > deadline:
                sys.exit(f"{binary} not ready after 60 s")
            time.sleep(0.001)
        elapsed = time.perf_counter() - start
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return elapsed * 1000


def fill(binary, data, series, seconds):
    body = "".join(
        f'synthetic_gauge{{shard="{i % 100}",id="{i}"}} {i}\n' for i in range(series)
    ).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    target = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    work = tempfile.mkdtemp(prefix="ember-fill-")
    try:
        config = os.path.join(work, "prometheus.yml")
        with open(config, "w") as f:
            f.write(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
                f"  - job_name: synthetic\n    static_configs: [{{targets: ['127.0.0.1:{target.server_port}']}}]\n"
            )
        port = free_port()
        p = subprocess.Popen(
            [binary, f"--web.listen-address=127.0.0.1:{port}",
             f"--storage.tsdb.path={data}", f"--config.file={config}"],
            cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(seconds)
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)
    finally:
        target.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    size = sum(
        os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(data) for f in fs
    )
    print(f"filled {data}: {series} series x {seconds} s, {size / 1e6:.1f} MB on disk")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--data")
    ap.add_argument("--fill")
    ap.add_argument("--series", type=int, default=10000)
    ap.add_argument("--seconds", type=int, default=120)
    a = ap.parse_args()
    if a.fill:
        fill(a.binary, a.fill, a.series, a.seconds)
        a.data = a.fill
    times = []
    for _ in range(a.runs):
        work = tempfile.mkdtemp(prefix="ember-ready-")
        try:
            data = a.data or os.path.join(work, "data")
            times.append(one_run(a.binary, data, work))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    times.sort()
    p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
    print(
        f"runs={len(times)} min={times[0]:.1f}ms median={statistics.median(times):.1f}ms "
        f"p90={p90:.1f}ms max={times[-1]:.1f}ms"
    )


if __name__ == "__main__":
    main()
