#!/usr/bin/python3
"""summarize.py KIND RAW_DIR: markdown summary of one bench run (KIND: throughput, newsignal, latency).

Throughput and p99 are medians over rounds. A ratio is the median of the per-round ratios, each taken
between two targets measured in the same round (noise on the shared machine hits a round's targets alike).
CPU per request = (utime+stime ticks of the process over the run) / requests; the clock tick is 10 ms."""
import csv
import os
import statistics
import sys

TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")


def med(xs):
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float("nan")


def fmt(x, spec=",.0f"):
    return "—" if x != x else format(x, spec)


def load(raw, name="measure.tsv"):
    rows = list(csv.DictReader(open(os.path.join(raw, name)), delimiter="\t"))
    for r in rows:
        for k in r:
            if k not in ("target",):
                try:
                    r[k] = float(r[k])
                except ValueError:
                    r[k] = float("nan")
    return rows


def header(raw):
    print(open(os.path.join(raw, "machine.txt")).read().rstrip().replace("\n", "  \n"))
    print()
    p = os.path.join(raw, "checks.txt")
    if os.path.exists(p):
        print("Checks:\n")
        for line in open(p):
            print("- " + line.rstrip())
        print()


ALERTS = {"nginx": 1, "am": 1, "dup": 1, "fixture": 2, "storm": 50, "stormnew": 50}
LABEL = {"nginx": "nginx `return 200` (ceiling)", "am": "Alertmanager 0.25 /api/v2/alerts",
         "dup": "gateway duplicate, 1 alert", "fixture": "gateway duplicate, 2-alert fixture",
         "storm": "gateway storm, 50 alerts", "stormnew": "gateway storm, 50 new alerts every webhook"}


def throughput(raw):
    rows = load(raw)
    header(raw)
    by = {}  # (target, conns) -> {round: row}
    for r in rows:
        by.setdefault((r["target"], int(r["conns"])), {})[int(r["round"])] = r

    def ratio(t, base, c, key="rps"):
        a, b = by.get((t, c), {}), by.get((base, c), {})
        return med([a[k][key] / b[k][key] for k in a if k in b and b[k][key]])

    conns = sorted({c for (_t, c) in by})
    for c in conns:
        print(f"### wrk -t1 -c{c}, keep-alive\n")
        print("| target | req/s (median) | alerts/s | per-round req/s | p99 ms (median) | ÷ nginx | ÷ Alertmanager "
              "| server CPU µs/req | Redis CPU µs/req | wrk CPU µs/req | both CPUs busy | script calls/req "
              "| non-2xx, socket errors |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for t in ("nginx", "am", "dup", "fixture", "storm", "stormnew"):
            runs = by.get((t, c))
            if not runs:
                continue
            rs = [runs[k] for k in sorted(runs)]
            rps = med([x["rps"] for x in rs])
            cpu = med([x["server_ticks"] * TICK_US / x["requests"] for x in rs if x["requests"]])
            rcpu = med([x["redis_ticks"] * TICK_US / x["requests"] for x in rs if x["requests"]]) \
                if t in ("dup", "fixture", "storm", "stormnew") else float("nan")
            # the load generator's CPU (runs before this column existed have none: nan), and the share
            # of the machine's 2 CPUs the server, Redis and wrk kept busy together
            lcpu = med([x.get("load_ticks", float("nan")) * TICK_US / x["requests"] for x in rs if x["requests"]])
            busy = med([((x["server_ticks"] + (x["redis_ticks"] if t in ("dup", "fixture", "storm", "stormnew") else 0)
                          + x.get("load_ticks", float("nan"))) * TICK_US / x["requests"]) * x["rps"] / 2e6
                        for x in rs if x["requests"]])
            ev = med([x["evalsha"] / x["requests"] for x in rs if x["requests"]]) \
                if t in ("dup", "fixture", "storm", "stormnew") else float("nan")
            errs = f"{int(sum(x['non2xx'] for x in rs))}, {int(sum(x['sock_errors'] for x in rs))}"
            print(f"| {LABEL[t]} | {fmt(rps)} | {fmt(rps * ALERTS[t])} | "
                  + " / ".join(f"{x['rps'] / 1000:.1f}k" for x in rs)
                  + f" | {fmt(med([x['p99_ms'] for x in rs]), '.2f')} | {fmt(ratio(t, 'nginx', c), '.2f')} | "
                  f"{fmt(ratio(t, 'am', c), '.2f')} | {fmt(cpu, '.1f')} | {fmt(rcpu, '.1f')} | {fmt(lcpu, '.1f')} | "
                  f"{fmt(busy * 100, '.0f') + ' %' if busy == busy else '—'} | {fmt(ev, '.3f')} | {errs} |")
        print()

    rb = {t: by[(t, 64)] for t in ("rb1", "rb2", "rb1-sep", "rb2-sep", "rbmin1") if (t, 64) in by}
    if rb:
        print("### issue 3: the gateway against redis-benchmark making the same decide call (64 connections)\n")
        print("| Redis client | calls/s (median) | per-round | p99 ms | Redis CPU µs per call | gateway target "
              "| gateway req/s ÷ calls/s (median of per-round ratios) |")
        print("|---|---|---|---|---|---|---|")
        pair = {"rb1": "dup", "rb2": "fixture", "rb1-sep": "dup", "rb2-sep": "fixture", "rbmin1": "dup"}
        desc = {"rb1": "redis-benchmark, dup ARGV (n=1), client on CPU 1 with Redis (as wrk)",
                "rb2": "redis-benchmark, fixture ARGV (n=2), client on CPU 1 with Redis (as wrk)",
                "rb1-sep": "redis-benchmark, dup ARGV (n=1), client on CPU 0, Redis alone on CPU 1",
                "rb2-sep": "redis-benchmark, fixture ARGV (n=2), client on CPU 0, Redis alone on CPU 1",
                "rbmin1": "(experiment) redis-benchmark, dup ARGV, bench/min-dup.lua: only GET + SET PXAT of the record string, "
                          "client on CPU 1"}
        for t, runs in rb.items():
            rs = [runs[k] for k in sorted(runs)]
            rcpu = med([x["redis_ticks"] * TICK_US / x["evalsha"] for x in rs if x["evalsha"]])
            print(f"| {desc[t]} | {fmt(med([x['rps'] for x in rs]))} | "
                  + " / ".join(f"{x['rps'] / 1000:.1f}k" for x in rs)
                  + f" | {fmt(med([x['p99_ms'] for x in rs]), '.2f')} | {fmt(rcpu, '.1f')} | {pair[t]} | "
                  f"{fmt(ratio(pair[t], t, 64), '.2f')} |")
        print()

    # the issue's targets
    print("### Targets (issue)\n")
    print("| target | measured (median) | met |")
    print("|---|---|---|")

    def line(name, val, ok):
        print(f"| {name} | {val} | {'yes' if ok else 'no'} |")

    if ("dup", 64) in by and ("nginx", 64) in by:
        x = ratio("dup", "nginx", 64)
        line("duplicate path ≥ 0.5× nginx (64 conns)", f"{x:.2f}×", x >= 0.5)
    if ("dup", 1000) in by and ("nginx", 1000) in by:
        x = ratio("dup", "nginx", 1000)
        line("duplicate path ≥ 0.5× nginx (1,000 conns; same goal, informative)", f"{x:.2f}×", x >= 0.5)
    if ("dup", 64) in by and ("am", 64) in by:
        x = ratio("dup", "am", 64)
        line("duplicate path ≥ 3× Alertmanager intake (64 conns)", f"{x:.2f}×", x >= 3)
    if ("dup", 64) in by:
        x = med([v["p99_ms"] for v in by[("dup", 64)].values()])
        line("duplicate path p99 < 5 ms (64 conns)", f"{x:.2f} ms", x < 5)
    if ("storm", 64) in by:
        x = med([v["p99_ms"] for v in by[("storm", 64)].values()])
        line("storm webhook p99 < 10 ms (64 conns)", f"{x:.2f} ms", x < 10)
        ev = max(v["evalsha"] / v["requests"] for v in by[("storm", 64)].values() if v["requests"])
        line("storm webhook ≤ 2 Redis round trips (INFO commandstats evalsha + fcall ÷ webhooks, worst round)",
             f"{ev:.3f} script calls per webhook", ev <= 2)
    if ("stormnew", 64) in by:
        x = med([v["p99_ms"] for v in by[("stormnew", 64)].values()])
        line("storm webhook of 50 new alerts p99 < 10 ms (64 conns)", f"{x:.2f} ms", x < 10)
    print()


def newsignal(raw):
    rows = load(raw)
    header(raw)
    by = {}
    for r in rows:
        by.setdefault(r["target"], {})[int(r["round"])] = r
    print("| target | per second (median) | per-round | p99 ms | client/gateway CPU µs per RR | API server CPU µs per RR "
          "| RRs created | non-2xx, socket errors |")
    print("|---|---|---|---|---|---|---|---|")
    desc = {"gw": "wrk -c64 → gateway → API server (RRs created/s)", "gw32": "wrk -c32 → gateway → API server (RRs created/s)",
            "api": "wrk -c32 → API server directly (POST RR/s)"}
    for t in ("gw", "gw32", "api"):
        rs = [by[t][k] for k in sorted(by.get(t, {}))]
        if not rs:
            continue
        print(f"| {desc[t]} | {fmt(med([x['rate'] for x in rs]))} | "
              + " / ".join(f"{x['rate']:.0f}" for x in rs)
              + f" | {fmt(med([x['p99_ms'] for x in rs]), '.1f')} | "
              f"{fmt(med([x['client_ticks'] * TICK_US / x['created'] for x in rs if x['created']]), '.0f') if t != 'api' else '—'} | "
              f"{fmt(med([x['api_ticks'] * TICK_US / x['created'] for x in rs if x['created']]), '.0f')} | "
              f"{int(sum(x['created'] for x in rs))} | {int(sum(x['non2xx'] for x in rs))}, {int(sum(x['sock_errors'] for x in rs))} |")
    print()
    a = by.get("api", {})
    for t in ("gw", "gw32"):
        g = by.get(t, {})
        ratios = [g[k]["rate"] / a[k]["rate"] for k in g if k in a and a[k]["rate"]]
        print(f"- {desc[t].split(' (')[0]}: RRs/s ÷ the API server's direct POST/s, median of per-round ratios: "
              f"**{fmt(med(ratios), '.2f')}**")
    g = by.get("gw", {})
    cpu = med([x["client_ticks"] * TICK_US / x["created"] for x in list(g.values()) + list(by.get("gw32", {}).values())
               if x["created"]])
    api = med([x["rate"] for x in a.values()])
    if cpu == cpu and cpu > 0:
        print(f"- gateway CPU per RR {cpu:.0f} µs → one gateway core could create ≈ {1e6 / cpu:,.0f} RRs/s, "
              f"{1e6 / cpu / api:.1f}× what the API test server accepts directly ({api:,.0f}/s)")
    print()


def latency(raw):
    """s4-latency.sh: per offered rate, medians over rounds of the rate reached and the latency."""
    rows = load(raw)
    header(raw)
    by = {}
    for r in rows:
        by.setdefault((r["target"] if "target" in r else "", int(r["rate"])), []).append(r)
    open_loop = "mode: open" in open(os.path.join(raw, "machine.txt")).read()
    if open_loop:
        print("Latency from each request's scheduled instant (bench/openloop.lua: open loop, corrected for "
              "coordinated omission); \"late\" = requests sent after their instant because every connection "
              "was busy, summed over rounds.\n")
    print("| offered req/s | reached req/s (median) | alerts/s | per-round req/s | p50 ms | p99 ms (median) "
          "| p99 per round | max ms (median) | gateway CPU µs/req | Redis CPU µs/req | non-2xx, socket errors |"
          + (" late |" if open_loop else ""))
    print("|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if open_loop else ""))
    for (_, rate), rs in sorted(by.items(), key=lambda kv: kv[0][1]):
        body = open(os.path.join(raw, "machine.txt")).read()
        alerts = 50 if ("body: storm-50" in body or "body: storm-new-50" in body) else 2 if "body: fixture-2" in body else 1
        rps = med([x["rps"] for x in rs])
        print(f"| {rate:,} | {fmt(rps)} | {fmt(rps * alerts)} | " + " / ".join(f"{x['rps']:.0f}" for x in rs)
              + f" | {fmt(med([x['p50_ms'] for x in rs]), '.2f')} | **{fmt(med([x['p99_ms'] for x in rs]), '.2f')}** | "
              + " / ".join(f"{x['p99_ms']:.1f}" for x in rs)
              + f" | {fmt(med([x['max_ms'] for x in rs]), '.1f')} | "
              f"{fmt(med([x['server_ticks'] * TICK_US / x['requests'] for x in rs if x['requests']]), '.1f')} | "
              f"{fmt(med([x['redis_ticks'] * TICK_US / x['requests'] for x in rs if x['requests']]), '.1f')} | "
              f"{int(sum(x['non2xx'] for x in rs))}, {int(sum(x['sock_errors'] for x in rs))} |"
              + (f" {int(sum(x['late'] for x in rs))} |" if open_loop else ""))
    print()


def latency_ab(top, a, b):
    """compare-latency.sh: s4-latency.sh runs of two commits, one per commit per round, in
    top/<commit>-r<round>/; per offered rate, each commit's medians over its rounds."""
    runs = sorted(d for d in os.listdir(top) if os.path.isdir(os.path.join(top, d)))
    print(open(os.path.join(top, runs[0], "machine.txt")).read().rstrip().replace("\n", "  \n"))
    print()
    print(f"A = {a}, B = {b}; {len(runs) // 2} round(s), one s4-latency.sh run per commit per round, alternating.\n")
    by = {}
    for d in runs:
        c = d.rsplit("-r", 1)[0]
        for r in load(os.path.join(top, d)):
            by.setdefault((int(r["rate"]), c), []).append(r)
    print("| offered req/s | commit | reached req/s | p50 ms | p99 ms (median) | p99 per round | late | gateway CPU µs/req | Redis CPU µs/req | non-2xx |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for rate in sorted({k[0] for k in by}):
        for c in (a, b):
            rs = by.get((rate, c), [])
            if not rs:
                continue
            late = sum(x["late"] for x in rs if x["late"] == x["late"])
            print(f"| {rate:,} | {c} | {fmt(med([x['rps'] for x in rs]))} | {fmt(med([x['p50_ms'] for x in rs]), '.2f')} | "
                  f"**{fmt(med([x['p99_ms'] for x in rs]), '.2f')}** | " + " / ".join(f"{x['p99_ms']:.1f}" for x in rs)
                  + f" | {int(late)} | {fmt(med([x['server_ticks'] * TICK_US / x['requests'] for x in rs if x['requests']]), '.1f')} | "
                  f"{fmt(med([x['redis_ticks'] * TICK_US / x['requests'] for x in rs if x['requests']]), '.1f')} | "
                  f"{int(sum(x['non2xx'] for x in rs))} |")
    print()


if __name__ == "__main__":
    {"throughput": throughput, "newsignal": newsignal, "latency": latency,
     "latency_ab": latency_ab}[sys.argv[1]](*sys.argv[2:])
