"""sgwredis.py: test harness for the Redis Lua scripts of the state store.

RedisServer starts a private redis-server (Debian's /usr/bin/redis-server) on a free
loopback port and stops it by PID. Store loads src/state/scripts/*.lua with SCRIPT LOAD and
calls them with EVALSHA exactly as src/state/redis.c does (numkeys 0, ARGV per
docs/redis-keys.md), turning replies into the store.h item fields. After every script call
it checks that every key under the prefix has a TTL (except the lease counter).
"""
import collections
import hashlib
import os
import socket
import subprocess
import time

import redis

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, '..', '..'))
SCRIPTS_DIR = os.path.join(ROOT, 'src', 'state', 'scripts')
REDIS_SERVER = '/usr/bin/redis-server'
SCRIPTS = ('decide', 'commit', 'claim', 'flushed')

CREATE, STORM_CREATE, MEMBER, DUPLICATE, AGGREGATED, IN_PROGRESS, RESOLVED, STALE = range(1, 9)
VERDICT_NAMES = {1: 'CREATE', 2: 'STORM_CREATE', 3: 'MEMBER', 4: 'DUPLICATE', 5: 'AGGREGATED',
                 6: 'IN_PROGRESS', 7: 'RESOLVED', 8: 'STALE'}

# the parameters of tests/unit/test_store.c setup()
DEFAULT_PARAMS = dict(
    dedup_ttl_ms=300000, lease_ms=10000, storm_enabled=True,
    rate_threshold=10, rate_window_ms=60000,
    pattern_threshold=5, pattern_window_ms=120000,
    storm_window_ms=60000, storm_flag_ttl_ms=300000,
    storm_update_interval_ms=1000, storm_max_resources=200,
)


def decide_meta(it):
    """An item's second decide argument, as redis.c decide_item_meta() writes it:
    "resolved|firing_ms|len(name)|len(namespace)|len(resource_id)|" + the three + ref."""
    name, ns, res, ref = (v.encode() for v in (it.name, it.namespace, it.resource_id, it.ref or ''))
    head = b'%d|%d|%d|%d|%d|' % (1 if it.resolved else 0, it.firing_ms, len(name), len(ns), len(res))
    return head + name + ns + res + ref


def kx(x):
    """A dedup record's Redis expiry for its expiry x (decide.lua kx()): x rounded down to the
    second, plus two seconds."""
    return x - x % 1000 + 2000


def now_ms():
    return int(time.time() * 1000)


def storm_hash(name, ns, start):
    """The caller's storm hash (src/state/storm_id.c store_storm_id)."""
    return hashlib.sha256(f'{name}:{ns}:{start}'.encode()).hexdigest()


class RedisServer:
    def __init__(self):
        self.proc = None
        self.port = None

    @staticmethod
    def _free_port():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(('127.0.0.1', 0))
            return s.getsockname()[1]

    def start(self):
        last = None
        for _ in range(5):   # a port can be taken between probing and binding: retry
            self.port = self._free_port()
            self.proc = subprocess.Popen(
                [REDIS_SERVER, '--save', '', '--appendonly', 'no', '--port', str(self.port),
                 '--bind', '127.0.0.1', '--loglevel', 'warning'],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            deadline = time.time() + 10
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    last = self.proc.stderr.read().decode(errors='replace')
                    break
                try:
                    c = redis.Redis(host='127.0.0.1', port=self.port, socket_timeout=1)
                    if c.ping():
                        c.close()
                        return self
                except redis.exceptions.ConnectionError as e:
                    last = str(e)
                time.sleep(0.05)
            self.stop()
        raise RuntimeError(f'redis-server did not start: {last}')

    def client(self, **kw):
        return redis.Redis(host='127.0.0.1', port=self.port, decode_responses=True, **kw)

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                os.kill(self.proc.pid, 15)
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.kill(self.proc.pid, 9)
                    self.proc.wait()
            if self.proc.stderr:
                self.proc.stderr.close()
            self.proc = None


def load_scripts(r):
    shas = {}
    for name in SCRIPTS:
        with open(os.path.join(SCRIPTS_DIR, name + '.lua')) as f:
            shas[name] = r.script_load(f.read())
    return shas


class Item:
    """A store_item: inputs, then the outputs decide() fills in."""

    def __init__(self, fp, name, ns, res, resolved=False, firing_ms=0, ref='ns/rr-x'):
        self.fingerprint, self.name, self.namespace, self.resource_id = fp, name, ns, res
        self.resolved, self.firing_ms, self.ref = resolved, firing_ms, ref
        self.verdict = 0
        self.count = self.first_seen_ms = self.last_seen_ms = self.lease = 0
        self.storm_type = None
        self.storm_hash = None
        self.storm_start_ms = 0
        self.storm_resources = []
        self.raw = None

    def __repr__(self):
        return (f'Item({self.fingerprint} {VERDICT_NAMES.get(self.verdict, self.verdict)} '
                f'n={self.count} ref={self.ref} type={self.storm_type})')


class Flush:
    def __init__(self, raw):
        (self.name, self.namespace, self.ref, self.count, self.last_seen_ms, self.storm_type,
         self.start_ms, self.lease, self.resources) = raw
        self.storm_hash = storm_hash(self.name, self.namespace, self.start_ms)
        self.raw = raw


def load_decide_function(r):
    """decide.lua as redis.c loads it (FUNCTION LOAD, two lines before the file); its name."""
    with open(os.path.join(SCRIPTS_DIR, 'decide.lua')) as f:
        code = f.read()
    hex16 = hashlib.sha1(code.encode()).hexdigest()[:16]
    name = 'sgw_decide_' + hex16
    # loaded once per server, as by a gateway: the function's state carries over between
    # calls (and between Stores with different parameters), which is what must be tested
    if not r.execute_command('FUNCTION', 'LIST', 'LIBRARYNAME', 'sgw_' + hex16):
        r.execute_command('FUNCTION', 'LOAD', f"#!lua name=sgw_{hex16}\nlocal SGW_FUNCTION = '{name}'\n" + code)
    return name


class Store:
    """function=True: decide runs as the gateway runs it where Redis allows (FCALL of the
    function); False: as the script (EVALSHA, the fallback)."""

    def __init__(self, r, prefix='sgw:', params=None, check_ttl=True, function=False, coalesce=True):
        self.r = r
        # coalesce: send an alert repeated in a batch once with its count, as redis.c does
        # (False: every item apart); repeated_calls counts the calls that did
        self.coalesce = coalesce
        self.repeated_calls = 0
        self.repeated_verdicts = collections.Counter()   # a sent-once alert's first verdict
        self.function = load_decide_function(r) if function else None
        self.prefix = prefix
        self.p = dict(DEFAULT_PARAMS)
        if params:
            self.p.update(params)
        self.check_ttl = check_ttl
        self.shas = load_scripts(r)

    # ---- invariants ------------------------------------------------------------------
    def keys(self):
        return sorted(self.r.scan_iter(match=self.prefix + '*', count=1000))

    def keys_without_ttl(self):
        """Keys under the prefix with no TTL, except the lease counter (monotonic by design)."""
        keys = [k for k in self.keys() if k != self.prefix + 'lease']
        pipe = self.r.pipeline(transaction=False)
        for k in keys:
            pipe.pttl(k)
        return [(k, t) for k, t in zip(keys, pipe.execute()) if t < 0]

    def records_off_their_expiry(self):
        """Dedup records (P d2:) whose Redis expiry is not kx(x) of the x they hold: their
        x rounded down to the second, plus two (decide.lua kx()). The fast path keeps a key's
        TTL (KEEPTTL) when the new x is in the same second as the stored one: this is the
        invariant that makes that safe (a key never expires before its record does)."""
        # in one call, server-side: this runs after every call of the differential test
        got = self.r.eval("""
            local out = {}
            for _, k in ipairs(redis.call('KEYS', ARGV[1] .. 'd2:*')) do
                out[#out + 1] = k
                out[#out + 1] = redis.call('GET', k)
                out[#out + 1] = redis.call('PEXPIRETIME', k)
            end
            return out""", 0, self.prefix)
        bad = []
        for k, v, t in zip(got[0::3], got[1::3], got[2::3]):
            if t != kx(int(v[1:14])):
                bad.append((k, v, t))
        return bad

    def _after(self, what):
        if self.check_ttl:
            bad = self.keys_without_ttl()
            if bad:
                raise AssertionError(f'after {what}: keys without a TTL: {bad}')
            bad = self.records_off_their_expiry()
            if bad:
                raise AssertionError(f'after {what}: records whose key expires off kx(x): {bad}')

    def evalsha(self, script, *args):
        return self.r.evalsha(self.shas[script], 0, *[a if isinstance(a, bytes) else str(a) for a in args])

    # ---- the four operations, as redis.c calls them ------------------------------------
    def decide(self, items, now, callers=None):
        """callers: the sizes of the parts of items that belong to different callers (as
        redis.c batches the decide calls of one loop iteration); None = one caller.
        As redis.c decide_flush(): a fingerprint whose occurrences all carry the same meta is
        sent once, at its first occurrence, with its count in the repeats argument; the
        replies are spread back over the occurrences as decide_reply.c does."""
        p = self.p
        metas = [decide_meta(it) for it in items]
        owner = []
        for c, size in enumerate(callers or []):
            owner += [c] * size
        owner += [len(callers or [])] * (len(items) - len(owner))
        groups = {}                       # fp -> [first occurrence, mixed, occurrences]
        for g, it in enumerate(items):
            grp = groups.get(it.fingerprint)
            if grp is None:
                groups[it.fingerprint] = [g, not self.coalesce, 1]
            else:
                grp[2] += 1
                grp[1] = grp[1] or metas[g] != metas[grp[0]]
        uniq, uid, rank, taken = [], [], [], {}
        sizes = [0] * (max(owner) + 1 if owner else 1)
        for g, it in enumerate(items):
            head, mixed, count = groups[it.fingerprint]
            if mixed or count == 1 or g == head:
                uid.append(len(uniq))
                rank.append(1)
                uniq.append((g, 1 if mixed else count))
                sizes[owner[g]] += 1
                taken[g] = 1
            else:
                uid.append(uid[head])
                taken[head] += 1
                rank.append(taken[head])
        repeats = ','.join('%d:%d' % (u + 1, m) for u, (_, m) in enumerate(uniq) if m > 1)
        if repeats:
            self.repeated_calls += 1
        args = [self.prefix, now, p['dedup_ttl_ms'], p['lease_ms'], 1 if p['storm_enabled'] else 0,
                p['rate_threshold'], p['rate_window_ms'], p['pattern_threshold'],
                p['pattern_window_ms'], p['storm_window_ms'], p['storm_flag_ttl_ms'],
                p['storm_max_resources'], len(uniq), ','.join(str(c) for c in sizes) if callers else '',
                repeats]
        for g, _ in uniq:
            args += [items[g].fingerprint, metas[g]]
        if self.function:
            reply = self.r.execute_command('FCALL', self.function, 0,
                                           *[a if isinstance(a, bytes) else str(a) for a in args])
        else:
            reply = self.evalsha('decide', *args)
        self._after('decide')
        # the flat reply (decide.lua): n strings, then one array per STORM_CREATE item
        assert isinstance(reply, list) and len(reply) >= len(uniq), reply
        windows = iter(reply[len(uniq):])
        parsed = []
        for s in reply[:len(uniq)]:
            assert isinstance(s, str), reply
            if s.startswith('c'):
                # the fast path: a DUPLICATE answered with its new record (decide_reply.c),
                # "c<expiry: 13 digits><last: 13 digits>|count|first|lease|le|rf|ref"
                assert s[27] == '|' and s[1:27].isdigit(), s
                f = s[28:].split('|', 5)
                assert len(f) == 6, s
                e = [DUPLICATE, int(f[0]), int(f[1]), int(s[14:27]), 0, f[5], '', 0]
                for k in (2, 3, 4):
                    int(f[k])
            else:
                f = s.split('|', 7)
                assert len(f) == 8, s
                e = [int(f[0]), int(f[1]), int(f[2]), int(f[3]), int(f[4]), f[7], f[6], int(f[5])]
            e.append(list(next(windows)) if e[0] == STORM_CREATE else [])
            parsed.append(e)
        assert next(windows, None) is None, reply   # exactly one array per STORM_CREATE
        for (_, m), e in zip(uniq, parsed):
            if m > 1:
                self.repeated_verdicts[VERDICT_NAMES[e[0]]] += 1
        for g, it in enumerate(items):
            e, k, m = list(parsed[uid[g]]), rank[g], uniq[uid[g]][1]
            if e[0] == DUPLICATE:
                e[1] = e[1] - m + k                  # each occurrence its own count
            elif k > 1 and e[0] in (CREATE, STORM_CREATE, MEMBER, AGGREGATED):
                e = [IN_PROGRESS, 0, 0, 0, 0, it.ref or '', '', 0, []]   # behind the first
            it.raw = e
            it.verdict, it.count, it.first_seen_ms, it.last_seen_ms, it.lease = e[0:5]
            # redis.c decide_reply(): "" keeps the intended ref only for CREATE
            if e[5]:
                it.ref = e[5]
            elif it.verdict != CREATE:
                it.ref = None
            it.storm_type = e[6] or None
            it.storm_start_ms = e[7]
            it.storm_hash = storm_hash(it.name, it.namespace, e[7]) if it.storm_type else None
            it.storm_resources = list(e[8])
        return items

    def commit(self, commits, now):
        """commits: tuples (fingerprint, name, namespace, verdict, lease, ok, ref)."""
        args = [self.prefix, now, self.p['dedup_ttl_ms'], len(commits)]
        for fp, name, ns, verdict, lease, ok, ref in commits:
            args += [fp, name or '', ns or '', verdict, lease, 1 if ok else 0, ref or '']
        reply = self.evalsha('commit', *args)
        self._after('commit')
        return reply

    def commit_one(self, it, ok, ref, now):
        return self.commit([(it.fingerprint, it.name, it.namespace, it.verdict, it.lease, ok, ref)], now)

    def claim(self, now, max_=8):
        reply = self.evalsha('claim', self.prefix, now, self.p['storm_update_interval_ms'],
                             self.p['lease_ms'], max_)
        self._after('claim')
        for e in reply:
            assert len(e) == 9 and all(isinstance(e[k], int) for k in (3, 4, 6, 7)), e
        return [Flush(e) for e in reply]

    def flushed(self, f, ok, now):
        reply = self.evalsha('flushed', self.prefix, now, f.name, f.namespace, f.lease,
                             1 if ok else 0, f.count)
        self._after('flushed')
        return reply
