#!/usr/bin/env python3
"""summarize.py RAW_DIR CG_REQUESTS: turn run.sh's raw outputs into the markdown summary.

Throughput and p99 are medians over rounds; each ratio is the median of the per-round ratios against
uvllhttp measured in the same round (noise on the shared machine hits servers in one round alike)."""
import glob
import os
import re
import statistics
import sys

BASE = "uvllhttp"
ORDER = ["h2o", "mhd", "uvllhttp", "uvllhttp-d"]
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def parse_wrk(path):
    text = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    p99 = float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")
    if p99 == 0:  # wrk 4.1 prints 0 for high percentiles under pipelining: not a measurement
        p99 = float("nan")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errs = re.search(r"Socket errors: (.*)", text)
    note = ("non-2xx " + bad.group(1) if bad else "") + (" socket errors: " + errs.group(1) if errs else "")
    return rps, p99, note.strip()


def cg_total(path):
    for line in open(path):
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise ValueError(f"no totals in {path}")


def cg_inclusive(path, func):
    for line in open(path):
        if re.search(r":%s \[" % re.escape(func), line) or line.rstrip().endswith(":" + func):
            return int(line.split()[0].replace(",", ""))
    return 0


def med(xs):
    xs = [x for x in xs if x == x]  # drop NaN
    return statistics.median(xs) if xs else float("nan")


def main(raw, cg_n):
    cg_n = int(cg_n)
    wrk = {}  # (mode, server) -> {round: (rps, p99, note)}
    for path in glob.glob(os.path.join(raw, "wrk-r*-*.txt")):
        m = re.match(r"wrk-r(\d+)-(.+)-(ka|pipe)\.txt$", os.path.basename(path))
        wrk.setdefault((m.group(3), m.group(2)), {})[int(m.group(1))] = parse_wrk(path)
    servers = [s for s in ORDER if any(k[1] == s for k in wrk)]

    print(open(os.path.join(raw, "machine.txt")).read().rstrip().replace("\n", "  \n"))
    print()
    for mode, title in (("ka", "keep-alive, wrk -t1 -c64"), ("pipe", "pipelined x8, wrk -t1 -c64")):
        # wrk 4.1's latency percentiles are not meaningful under pipelining (it prints 0 for p99)
        lat = mode == "ka"
        print(f"### {title}\n")
        print("| server | req/s (median) | ratio to uvllhttp |" + (" p99 ms (median) | p99 ratio |" if lat else "")
              + " per round req/s | notes |")
        print("|---|---|---|" + ("---|---|" if lat else "") + "---|---|")
        base = wrk.get((mode, BASE), {})
        for s in servers:
            runs = wrk.get((mode, s), {})
            rounds = sorted(runs)
            ratios = [runs[r][0] / base[r][0] for r in rounds if r in base]
            p99r = [runs[r][1] / base[r][1] for r in rounds if r in base]
            notes = "; ".join(sorted({runs[r][2] for r in rounds if runs[r][2]}))
            per = " / ".join(f"{runs[r][0] / 1000:.1f}k" for r in rounds)
            p99 = f" {med([runs[r][1] for r in rounds]):.2f} | {med(p99r):.2f} |" if lat else ""
            print(f"| {s} | {med([runs[r][0] for r in rounds]):,.0f} | {med(ratios):.2f} |{p99} {per} | {notes} |")
        print()

    cg_rows = []
    for s in servers:
        lo, hi = os.path.join(raw, f"cg-{s}-200"), os.path.join(raw, f"cg-{s}-{200 + cg_n}")
        if not os.path.exists(hi + ".out"):
            continue
        total = (cg_total(hi + ".out") - cg_total(lo + ".out")) / cg_n
        handler = (cg_inclusive(hi + ".txt", "bench_handle") - cg_inclusive(lo + ".txt", "bench_handle")) / cg_n
        cg_rows.append((s, total, handler))
    if cg_rows:
        print(f"### callgrind: instructions per request ({cg_n} sequential keep-alive requests, start-up subtracted)\n")
        print("| server | total | handler (cJSON parse + reply) | HTTP layer + event loop + syscalls wrappers |")
        print("|---|---|---|---|")
        for s, total, handler in cg_rows:
            print(f"| {s} | {total:,.0f} | {handler:,.0f} | {total - handler:,.0f} |")
        print()

    rss = []
    for s in servers:
        path = os.path.join(raw, f"rss-{s}.txt")
        if os.path.exists(path):
            rss.append((s, dict(kv.split("=") for kv in open(path).read().split()[1:])))
    if rss:
        keys = list(rss[0][1])
        print("### RSS (KiB, VmRSS)\n")
        print("| server | " + " | ".join(keys) + " |")
        print("|---" * (len(keys) + 1) + "|")
        for s, d in rss:
            print(f"| {s} | " + " | ".join(d[k] for k in keys) + " |")
        print()


if __name__ == "__main__":
    main(*sys.argv[1:3])
