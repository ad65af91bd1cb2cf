"""test_differential.py: the Redis scripts against the reference, call by call.

Builds src/state/memory.c (with memref.c, a flat C API over it) into a temporary shared
library and drives it and the Redis scripts with the same random sequences of decide,
commit, claim and flushed calls (seeded, so a failure is reproducible), comparing every
result: verdict, count, first/last seen, whether a lease was handed out, ref, storm type,
start, hash and resources; claimed windows; all in the same times.

Lease tokens are opaque and numbered differently by the two stores, so each side commits
and flushes with its own tokens. Scenarios last 80 s of simulated time with short windows
(dedup 20 s, lease 3 s, rate 5 s, pattern 8 s, storm window 10 s, flag 20 s): every
mechanism (expiry, takeover, resolution, sliding windows, window end, flag end, flush
leases) happens many times, while no storm window goes untouched long enough to reach its
Redis expiry (flag TTL + window + 60 s = 90 s), the one place where the Redis store
deliberately differs (memory.c keeps a pending or dirty window for ever).

SGW_DIFF_SEED=<n> runs that one scenario; SGW_DIFF_SCENARIOS=<n> sets how many run.
"""
import collections
import ctypes
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest

from sgwredis import (CREATE, MEMBER, STORM_CREATE, VERDICT_NAMES, Item, RedisServer, Store,
                      now_ms, storm_hash)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, '..', '..'))
SERVER = None
LIB = None
BUILD_DIR = None
BUILD_ERROR = None


def build_reference():
    global LIB, BUILD_DIR, BUILD_ERROR
    cc = shutil.which('cc') or shutil.which('gcc')
    if not cc:
        BUILD_ERROR = 'no C compiler'
        return
    BUILD_DIR = tempfile.mkdtemp(prefix='sgw-memref-')
    out = os.path.join(BUILD_DIR, 'libmemref.so')
    src = [os.path.join(HERE, 'memref.c'), os.path.join(ROOT, 'src/state/memory.c'),
           os.path.join(ROOT, 'src/state/storm_id.c')] + \
          [os.path.join(ROOT, 'src/util', f) for f in ('strmap.c', 'hash.c', 'xalloc.c', 'arena.c', 'defer.c')]
    cmd = [cc, '-std=gnu17', '-O1', '-g', '-fPIC', '-shared', '-D_GNU_SOURCE',
           '-iquote', os.path.join(ROOT, 'src'), '-o', out] + src + ['-luv', '-lnettle', '-lpthread']
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        BUILD_ERROR = 'building memory.c failed:\n' + p.stderr
        return
    lib = ctypes.CDLL(out)
    P, I, L, S = ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_char_p
    SS = ctypes.POINTER(ctypes.c_char_p)
    sigs = {
        'memref_new': ([], P), 'memref_free': ([P], None),
        'memref_params': ([P, L, L, I, I, L, I, L, L, L, L, I], None),
        'memref_decide': ([P, I, SS, SS, SS, SS, ctypes.POINTER(I), ctypes.POINTER(L), SS, L], I),
        'memref_item_int': ([P, I, I], L), 'memref_item_str': ([P, I, I], S),
        'memref_item_res': ([P, I, I], S),
        'memref_commit': ([P, S, S, S, I, ctypes.c_uint64, I, S, L], I),
        'memref_claim': ([P, L, I], I), 'memref_flush_int': ([P, I, I], L),
        'memref_flush_str': ([P, I, I], S), 'memref_flush_res': ([P, I, I], S),
        'memref_flushed': ([P, S, S, ctypes.c_uint64, L, I, L], I),
    }
    for name, (args, res) in sigs.items():
        f = getattr(lib, name)
        f.argtypes, f.restype = args, res
    LIB = lib


def setUpModule():
    global SERVER
    build_reference()
    if LIB is None:
        return
    SERVER = RedisServer()
    unittest.addModuleCleanup(SERVER.stop)
    SERVER.start()


def tearDownModule():
    if BUILD_DIR:
        shutil.rmtree(BUILD_DIR, ignore_errors=True)


class MemRef:
    """The reference store, with the same call shapes as sgwredis.Store."""

    def __init__(self, p):
        self.h = LIB.memref_new()
        self.p = p
        LIB.memref_params(self.h, p['dedup_ttl_ms'], p['lease_ms'], 1 if p['storm_enabled'] else 0,
                          p['rate_threshold'], p['rate_window_ms'], p['pattern_threshold'],
                          p['pattern_window_ms'], p['storm_window_ms'], p['storm_flag_ttl_ms'],
                          p['storm_update_interval_ms'], p['storm_max_resources'])

    def close(self):
        LIB.memref_free(self.h)

    def decide(self, items, now):
        n = len(items)
        arr = lambda vals: (ctypes.c_char_p * max(n, 1))(*[v.encode() for v in vals])
        keep = [arr([i.fingerprint for i in items]), arr([i.name for i in items]),
                arr([i.namespace for i in items]), arr([i.resource_id for i in items]),
                (ctypes.c_int * max(n, 1))(*[1 if i.resolved else 0 for i in items]),
                (ctypes.c_int64 * max(n, 1))(*[i.firing_ms for i in items]),
                arr([i.ref or '' for i in items])]
        assert LIB.memref_decide(self.h, n, *keep, now) == 0
        out = []
        for i in range(n):
            g = lambda f: LIB.memref_item_int(self.h, i, f)
            s = lambda f: LIB.memref_item_str(self.h, i, f).decode()
            out.append(dict(verdict=g(0), count=g(1), first=g(2), last=g(3), lease=g(4), start=g(5),
                            ref=s(0), type=s(1), hash=s(2),
                            res=[LIB.memref_item_res(self.h, i, k).decode() for k in range(g(6))]))
        return out

    def commit(self, commits, now):
        for fp, name, ns, verdict, lease, ok, ref in commits:
            assert LIB.memref_commit(self.h, fp.encode(), name.encode(), ns.encode(), verdict, lease,
                                     1 if ok else 0, (ref or '').encode(), now) == 0

    def claim(self, now, max_):
        k = LIB.memref_claim(self.h, now, max_)
        assert k >= 0
        out = []
        for i in range(k):
            g = lambda f: LIB.memref_flush_int(self.h, i, f)
            s = lambda f: LIB.memref_flush_str(self.h, i, f).decode()
            out.append(dict(name=s(0), ns=s(1), ref=s(2), count=g(0), last=g(1), type=s(3), hash=s(4),
                            lease=g(2), res=[LIB.memref_flush_res(self.h, i, j).decode() for j in range(g(3))]))
        return out

    def flushed(self, name, ns, lease, count, ok, now):
        assert LIB.memref_flushed(self.h, name.encode(), ns.encode(), lease, count, 1 if ok else 0, now) == 0


def redis_view(it):
    """A Redis decide reply in the reference's terms (memref_item_*)."""
    e = it.raw
    return dict(verdict=e[0], count=e[1], first=e[2], last=e[3], lease=e[4], start=e[7], ref=e[5],
                type=e[6], hash=storm_hash(it.name, it.namespace, e[7]) if e[6] else '', res=list(e[8]))


def comparable(d):
    d = dict(d)
    d['lease'] = d['lease'] != 0   # tokens differ; whether one was handed out must not
    return d


PARAM_SETS = [
    dict(dedup_ttl_ms=20000, lease_ms=3000, storm_enabled=True, rate_threshold=4, rate_window_ms=5000,
         pattern_threshold=3, pattern_window_ms=8000, storm_window_ms=10000, storm_flag_ttl_ms=20000,
         storm_update_interval_ms=1000, storm_max_resources=3),
    dict(dedup_ttl_ms=15000, lease_ms=2000, storm_enabled=True, rate_threshold=6, rate_window_ms=4000,
         pattern_threshold=2, pattern_window_ms=6000, storm_window_ms=8000, storm_flag_ttl_ms=12000,
         storm_update_interval_ms=500, storm_max_resources=10),
    dict(dedup_ttl_ms=20000, lease_ms=3000, storm_enabled=True, rate_threshold=1, rate_window_ms=3000,
         pattern_threshold=50, pattern_window_ms=8000, storm_window_ms=5000, storm_flag_ttl_ms=9000,
         storm_update_interval_ms=1000, storm_max_resources=1),
    dict(dedup_ttl_ms=10000, lease_ms=3000, storm_enabled=False, rate_threshold=2, rate_window_ms=5000,
         pattern_threshold=2, pattern_window_ms=8000, storm_window_ms=10000, storm_flag_ttl_ms=20000,
         storm_update_interval_ms=1000, storm_max_resources=3),
]
SPAN_MS = 80000
STEPS = [0, 0, 1, 5, 50, 200, 700, 1500, 3000, 6000]


class Scenario:
    def __init__(self, seed, r, stats, function=False, coalesce=True):
        self.seed, self.rnd, self.stats = seed, random.Random(seed), stats
        self.p = dict(PARAM_SETS[seed % len(PARAM_SETS)])
        self.mem = MemRef(self.p)
        self.red = Store(r, prefix=f'diff{seed}:', params=self.p, function=function, coalesce=coalesce)
        self.log = collections.deque(maxlen=12)
        keys = [(name, ns) for name in ('A', 'B') for ns in ('x', '')]
        self.alerts = {}
        for k, (name, ns) in enumerate(keys):
            for j in range(6):
                fp = f'{k}{j:02d}' + 'f' * 10
                self.alerts[fp] = (name, ns, f'{ns}:Pod:p{self.rnd.randrange(5)}')
        self.occurrence = {fp: 0 for fp in self.alerts}
        self.todo = []   # (due, seq, fn)
        self.seq = 0

    def fail(self, what):
        raise AssertionError(f'seed {self.seed}: {what}\n  recent calls:\n    ' + '\n    '.join(self.log))

    def later(self, due, fn):
        self.seq += 1
        self.todo.append((due, self.seq, fn))

    def run(self):
        T0 = self.T0 = now_ms()
        self.occurrence = {fp: T0 - 1000 for fp in self.alerts}
        t = T0
        try:
            while t < T0 + SPAN_MS:
                t += self.rnd.choice(STEPS)
                due = sorted(x for x in self.todo if x[0] <= t)
                self.todo = [x for x in self.todo if x[0] > t]
                for when, _, fn in due:
                    fn(when)
                a = self.rnd.random()
                if a < 0.6:
                    self.decide(t)
                elif a < 0.85:
                    self.claim(t)
        finally:
            self.mem.close()

    def decide(self, t):
        rnd = self.rnd
        n = rnd.choice([1, 1, 1, 2, 3, 4, 6, 9, 14])
        items = []
        for _ in range(n):
            fp = rnd.choice(list(self.alerts))
            name, ns, res = self.alerts[fp]
            resolved = rnd.random() < 0.15
            firing = 0 if rnd.random() < 0.05 else self.occurrence[fp]
            if not resolved and rnd.random() < 0.05:
                firing = self.occurrence[fp] = t - rnd.choice([0, 10, 100])   # a new occurrence
            items.append(Item(fp, name, ns, res, resolved=resolved, firing_ms=firing, ref=f'{ns}/rr-{fp}'))
        mem = self.mem.decide(items, t)
        self.red.decide(items, t)
        self.log.append(f'T0+{t - self.T0}: decide ' +
                        ' '.join(f'{i.fingerprint[:3]}{"R" if i.resolved else ""}:{VERDICT_NAMES[m["verdict"]]}'
                                 for i, m in zip(items, mem)))
        for k, (it, m) in enumerate(zip(items, mem)):
            rv = redis_view(it)
            if comparable(m) != comparable(rv):
                self.fail(f'decide at {t}, item {k} {it.fingerprint}:\n  memory.c {m}\n  redis    {rv}')
            self.stats[VERDICT_NAMES[m['verdict']]] += 1
        # the sink: creations succeed or fail; sometimes the creator dies (never commits)
        if rnd.random() < 0.1:
            return
        storm_ok = {}
        cm, cr = [], []
        for it, m in zip(items, mem):
            if m['verdict'] not in (CREATE, STORM_CREATE, MEMBER):
                continue
            if m['verdict'] == CREATE:
                ok, ref = rnd.random() < 0.85, f'{it.namespace}/rr-{it.fingerprint[:3]}-{t}'
            else:
                key = (it.name, it.namespace)
                if key not in storm_ok:
                    storm_ok[key] = rnd.random() < 0.85
                ok, ref = storm_ok[key], f'{it.namespace}/storm-{m["start"]}'
            cm.append((it.fingerprint, it.name, it.namespace, m['verdict'], m['lease'], ok, ref))
            cr.append((it.fingerprint, it.name, it.namespace, it.verdict, it.lease, ok, ref))
        if cm:
            def commit(when, cm=cm, cr=cr):
                self.log.append(f'T0+{when - self.T0}: commit ' + ' '.join(f'{c[0][:3]}:{"ok" if c[5] else "fail"}' for c in cm))
                self.mem.commit(cm, when)
                self.red.commit(cr, when)
            self.later(t + rnd.choice([0, 0, 1, 100, 1000, 2500, 4000]), commit)

    def claim(self, t):
        mem = sorted(self.mem.claim(t, 10), key=lambda f: (f['name'], f['ns']))
        red = sorted(self.red.claim(t, 10), key=lambda f: (f.name, f.namespace))
        self.log.append(f'T0+{t - self.T0}: claim {[(f["name"], f["ns"], f["count"]) for f in mem]}')
        rv = [dict(name=f.name, ns=f.namespace, ref=f.ref, count=f.count, last=f.last_seen_ms, type=f.storm_type,
                   hash=f.storm_hash, lease=f.lease, res=list(f.resources)) for f in red]
        if [comparable(f) for f in mem] != [comparable(f) for f in rv]:
            self.fail(f'claim at {t}:\n  memory.c {mem}\n  redis    {rv}')
        self.stats['claimed'] += len(mem)
        for fm, fr in zip(mem, red):
            if self.rnd.random() < 0.1:
                continue   # the writer died: its flush lease runs out
            ok = self.rnd.random() < 0.8

            def flushed(when, fm=fm, fr=fr, ok=ok):
                self.log.append(f'T0+{when - self.T0}: flushed {fm["name"]}/{fm["ns"]} ok={ok}')
                self.mem.flushed(fm['name'], fm['ns'], fm['lease'], fm['count'], ok, when)
                self.red.flushed(fr, ok, when)
            self.later(t + self.rnd.choice([0, 10, 500, 2000, 4000]), flushed)


class Differential(unittest.TestCase):
    def setUp(self):
        if LIB is None:
            self.skipTest(BUILD_ERROR or 'reference not built')
        self.r = SERVER.client()
        self.r.flushall()

    def tearDown(self):
        self.r.close()

    def test_scripts_match_memory_c(self):
        one = os.environ.get('SGW_DIFF_SEED')
        seeds = [int(one)] if one else range(1, 1 + int(os.environ.get('SGW_DIFF_SCENARIOS', '240')))
        stats = collections.Counter()
        repeats = collections.Counter()
        for seed in seeds:
            sc = Scenario(seed, self.r, stats)
            sc.run()
            repeats.update(sc.red.repeated_verdicts)
            if seed % 20 == 0:
                self.r.flushall()
        print(f'\n    {len(seeds)} scenarios, results compared: ' +
              ', '.join(f'{k} {v}' for k, v in sorted(stats.items())) +
              '\n    alerts sent once for several occurrences (redis.c coalescing), by first verdict: ' +
              ', '.join(f'{k} {v}' for k, v in sorted(repeats.items())), file=sys.stderr)
        if not one:   # the scenarios must reach every verdict and flushes
            for v in VERDICT_NAMES.values():
                self.assertGreater(stats[v], 0, v)
            self.assertGreater(stats['claimed'], 0)
            # and send repeated alerts once, whatever the first occurrence's outcome
            for v in VERDICT_NAMES.values():
                self.assertGreater(repeats[v], 0, 'no coalesced alert whose first occurrence was ' + v)

    def test_the_decide_function_matches_memory_c(self):
        # decide.lua as the gateway runs it where Redis allows: one function, loaded once, so
        # what it keeps between calls (the helpers, the converted parameters) must not leak
        # from one call into the next; consecutive scenarios use different parameter sets
        stats = collections.Counter()
        # (and with every item sent apart, as before session 8: both ways must match memory.c)
        for seed in range(1, 1 + int(os.environ.get('SGW_DIFF_FUNCTION_SCENARIOS', '120'))):
            Scenario(seed, self.r, stats, function=True, coalesce=False).run()
            if seed % 20 == 0:
                self.r.flushall()
        for v in VERDICT_NAMES.values():
            self.assertGreater(stats[v], 0, v)

    def test_large_groups_of_one_storm_key_match_memory_c(self):
        # decide.lua feeds a group's resources to the pattern set in chunks (trimmed between
        # them) and only its last rate_threshold+1 arrivals to the rate set: groups of 9-40
        # alerts of one storm key over 2-12 pods, thresholds around their distinct counts
        stats = collections.Counter()
        for seed in range(60):
            rnd = random.Random(seed)
            p = dict(PARAM_SETS[0], rate_threshold=rnd.choice([8, 20, 100]), pattern_threshold=rnd.choice([2, 4, 5, 7]),
                     storm_max_resources=rnd.choice([3, 100]))
            mem = MemRef(p)
            red = Store(self.r, prefix=f'big{seed}:', params=p)
            try:
                t = now_ms()
                for step in range(5):
                    pods = rnd.randrange(2, 13)
                    items = [Item(f'{seed}-{step}-{i}', 'A', 'x', f'x:Pod:p{rnd.randrange(pods):02d}', ref=f'x/rr-{i}')
                             for i in range(rnd.randrange(9, 41))]
                    got = mem.decide(items, t)
                    red.decide(items, t)
                    for k, (it, m) in enumerate(zip(items, got)):
                        rv = redis_view(it)
                        if comparable(m) != comparable(rv):
                            self.fail(f'seed {seed} step {step} item {k} ({pods} pods, {p}):\n  memory.c {m}\n  redis    {rv}')
                        stats[VERDICT_NAMES[m['verdict']]] += 1
                    red.commit([(x.fingerprint, x.name, x.namespace, x.verdict, x.lease, True, 'x/storm')
                                for x in items if x.verdict in (CREATE, STORM_CREATE, MEMBER)], t + 1)
                    mem.commit([(x.fingerprint, x.name, x.namespace, m['verdict'], m['lease'], True, 'x/storm')
                                for x, m in zip(items, got) if m['verdict'] in (CREATE, STORM_CREATE, MEMBER)], t + 1)
                    t += rnd.choice([2, 700, 4000, 9000])
            finally:
                mem.close()
        print(f'\n    large groups, results compared: ' + ', '.join(f'{k} {v}' for k, v in sorted(stats.items())),
              file=sys.stderr)
        for v in ('CREATE', 'STORM_CREATE', 'MEMBER', 'AGGREGATED'):
            self.assertGreater(stats[v], 0, v)


if __name__ == '__main__':
    unittest.main()
