#!/usr/bin/env python3
"""Steady voting for the swarm suite (conftest.py, Voting; standard library
only), run in the probe's network namespace.

  voter.py --urls URL[,URL...] --prefix P --out FILE
           [--threads N] [--interval S] [--count N] [--stop-file F]
           [--max-seconds S] [--timeout S]

Each of N threads casts votes of new voters P-<thread>-<i> (option a, or b
for every third), one every S seconds, round robin over the URLs (POST
URL/api/vote, JSON). It stops after --count votes in all, when --stop-file
exists, or after --max-seconds. Every answer is one line of FILE:

  <t_sent> <t_answered> <voter> <option> <status> <retry_after> <url>

(times in seconds since the start; status 0 when no HTTP answer came, e.g.
refused or timed out; retry_after "-" when the header is missing). The last
line on stdout is a JSON summary: counts by status, how many answers break
the rules (anything but 200, or 503 with Retry-After), the longest pause
between two consecutive 200s, and when it was.
"""
import argparse
import http.client
import json
import os
import sys
import threading
import time
from urllib.parse import urlparse


def post(url, voter, option, timeout):
    u = urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    try:
        body = json.dumps({"vote": option, "voter_id": voter})
        conn.request("POST", "/api/vote", body,
                     {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        return r.status, r.getheader("Retry-After") or "-"
    except (OSError, http.client.HTTPException):
        return 0, "-"
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--urls", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--stop-file", default=None)
    ap.add_argument("--max-seconds", type=float, default=300)
    ap.add_argument("--timeout", type=float, default=35)
    a = ap.parse_args()
    urls = a.urls.split(",")
    t0 = time.monotonic()
    lock = threading.Lock()
    lines = []
    sent = [0]

    def stop():
        if a.stop_file and os.path.exists(a.stop_file):
            return True
        return time.monotonic() - t0 > a.max_seconds

    def run(k):
        i = 0
        nxt = time.monotonic()
        while not stop():
            with lock:
                if a.count and sent[0] >= a.count:
                    return
                n = sent[0]
                sent[0] += 1
            voter = "%s-%d-%d" % (a.prefix, k, i)
            option = "b" if n % 3 == 2 else "a"
            url = urls[n % len(urls)]
            ts = time.monotonic() - t0
            st, ra = post(url, voter, option, a.timeout)
            te = time.monotonic() - t0
            with lock:
                lines.append((ts, te, voter, option, st, ra, url))
            i += 1
            nxt += a.interval
            d = nxt - time.monotonic()
            if d > 0:
                time.sleep(d)
            else:
                nxt = time.monotonic()

    th = [threading.Thread(target=run, args=(k,)) for k in range(a.threads)]
    for t in th:
        t.start()
    for t in th:
        t.join()

    lines.sort(key=lambda x: x[1])
    with open(a.out, "w") as f:
        for x in lines:
            f.write("%.3f %.3f %s %s %d %s %s\n" % x)
    by = {}
    bad = 0
    for x in lines:
        by[str(x[4])] = by.get(str(x[4]), 0) + 1
        if x[4] != 200 and not (x[4] == 503 and x[5] != "-"):
            bad += 1
    acks = [x[1] for x in lines if x[4] == 200]
    gap, at = 0.0, 0.0
    for p, q in zip(acks, acks[1:]):
        if q - p > gap:
            gap, at = q - p, p
    print(json.dumps({"votes": len(lines), "status": by, "bad": bad,
                      "acked": len(acks), "longest_pause_s": round(gap, 3),
                      "pause_at_s": round(at, 3),
                      "seconds": round(time.monotonic() - t0, 3)}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
