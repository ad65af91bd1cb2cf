"""test_scripts.py: the Redis store scripts (src/state/scripts/*.lua) against a real
redis-server.

Part 1 ports every case of tests/unit/test_store_memory.c (same times relative to T0, which
here is the real clock so Redis TTLs set with PEXPIREAT stay in the future).
Part 2 covers what only Redis has: TTLs on every key, the key schema, one script call per
batch, NOSCRIPT, large batches, bounded detector sets, the dirty-set trim, flush leases, and
the memory used per fingerprint (printed, not asserted).
"""
import copy
import random
import socket
import sys
import time
import unittest

import redis

from sgwredis import (AGGREGATED, CREATE, DEFAULT_PARAMS, DUPLICATE, IN_PROGRESS, MEMBER, RESOLVED, STALE,
                      STORM_CREATE, Item, RedisServer, Store, kx, load_scripts, now_ms)

SERVER = None


def setUpModule():
    global SERVER
    SERVER = RedisServer()
    unittest.addModuleCleanup(SERVER.stop)   # runs even when a test (or setup) fails
    SERVER.start()


def item(fp, name, ns, res):
    return Item(fp, name, ns, res, ref='ns/rr-x')


class Base(unittest.TestCase):
    def setUp(self):
        self.r = SERVER.client()
        self.r.flushall()
        self.s = Store(self.r)
        self.T0 = now_ms()

    def tearDown(self):
        self.r.close()

    def decide(self, items, now):
        if isinstance(items, Item):
            items = [items]
        return self.s.decide(items, now)

    def commit_one(self, it, ok, ref, now):
        self.assertEqual(self.s.commit_one(it, ok, ref, now), 1)


# ---------------------------------------------------------------------------------------
# Batches of callers (redis.c sends the decide calls of one loop iteration as one script
# call): a batch must decide as the same calls made one after the other, in batch order.
# ---------------------------------------------------------------------------------------
class BatchedCallers(unittest.TestCase):
    def setUp(self):
        self.r = SERVER.client()
        self.r.flushall()
        self.T0 = now_ms()

    def tearDown(self):
        self.r.close()

    @staticmethod
    def outcome(items):
        # lease tokens differ (one per script call), everything else must not
        return [(x.verdict, x.count, x.storm_type, x.ref, sorted(x.storm_resources)) for x in items]

    def run_both(self, parts, now, seq, bat):
        """Decides parts (lists of item factories' results) one call each on seq and as one
        batch on bat; returns (sequential items, batched items)."""
        s_items = [[copy.copy(x) for x in part] for part in parts]
        b_items = [[copy.copy(x) for x in part] for part in parts]
        for part in s_items:
            seq.decide(part, now)
        flat = [x for part in b_items for x in part]
        bat.decide(flat, now, callers=[len(part) for part in b_items])
        return s_items, b_items

    def check_same(self, parts, now, seq, bat):
        s_items, b_items = self.run_both(parts, now, seq, bat)
        for k, (sp, bp) in enumerate(zip(s_items, b_items)):
            self.assertEqual(self.outcome(sp), self.outcome(bp), 'caller %d' % k)
        return s_items, b_items

    def commit_all(self, store, parts, now, ref='checkout/rr-s'):
        store.commit([(x.fingerprint, x.name, x.namespace, x.verdict, x.lease, True, x.ref or ref)
                      for part in parts for x in part if x.verdict in (CREATE, STORM_CREATE, MEMBER)], now)

    def test_callers_in_one_batch_decide_as_sequential_calls(self):
        T0 = self.T0
        seq, bat = Store(self.r, prefix='seq:'), Store(self.r, prefix='bat:')

        def pods(name, ns, lo, hi):
            return [item(f'{name}-{i}', name, ns, f'{ns}:Pod:p{i}') for i in range(lo, hi)]

        # below the pattern threshold (5) each, above it together: the second caller opens the storm
        s1, b1 = self.check_same([pods('OOM', 'checkout', 0, 3), pods('OOM', 'checkout', 3, 6)], T0, seq, bat)
        self.assertEqual([x.verdict for x in b1[0]], [CREATE] * 3)
        self.assertEqual(b1[1][0].verdict, STORM_CREATE)
        # a storm in the first caller: the second caller's alerts of that storm wait for it
        s2, b2 = self.check_same([pods('Disk', 'db', 0, 7), pods('Disk', 'db', 7, 9) + pods('Other', 'db', 0, 1)],
                                 T0 + 1, seq, bat)
        self.assertEqual(b2[0][0].verdict, STORM_CREATE)
        self.assertEqual([x.verdict for x in b2[1][:2]], [IN_PROGRESS, IN_PROGRESS])
        self.assertEqual(b2[1][2].verdict, CREATE)
        # the same alert in two callers: the second waits behind the first's lease
        s3, b3 = self.check_same([pods('Net', 'edge', 0, 1), pods('Net', 'edge', 0, 1)], T0 + 2, seq, bat)
        self.assertEqual([b3[0][0].verdict, b3[1][0].verdict], [CREATE, IN_PROGRESS])
        for st, parts in ((seq, s1 + s2 + s3), (bat, b1 + b2 + b3)):
            self.commit_all(st, parts, T0 + 3)
        # after the commits: the waiting alerts are folded in / duplicates, the same way
        self.check_same([pods('Disk', 'db', 7, 9), pods('Net', 'edge', 0, 1) + pods('OOM', 'checkout', 0, 2)],
                        T0 + 4, seq, bat)
        # and the storm windows hold the same counts and resources
        for key in ('OOM\x1fcheckout', 'Disk\x1fdb'):
            self.assertEqual(self.r.hget('seq:w:' + key, 'n'), self.r.hget('bat:w:' + key, 'n'), key)
            self.assertEqual(self.r.lrange('seq:wr:' + key, 0, -1), self.r.lrange('bat:wr:' + key, 0, -1), key)


# ---------------------------------------------------------------------------------------
# Part 1: tests/unit/test_store_memory.c, case by case
# ---------------------------------------------------------------------------------------
class MemoryStoreCases(Base):
    def test_first_sight_creates_then_duplicates_count(self):
        T0 = self.T0
        a = item('fp1', 'A', 'ns', 'ns:Pod:p')
        self.decide(a, T0)
        self.assertEqual(a.verdict, CREATE)
        self.commit_one(a, True, 'ns/rr-fp1', T0)
        for i in range(2, 5):
            d = item('fp1', 'A', 'ns', 'ns:Pod:p')
            self.decide(d, T0 + i)
            self.assertEqual(d.verdict, DUPLICATE)
            self.assertEqual(d.count, i)
            self.assertEqual(d.ref, 'ns/rr-fp1')
            self.assertEqual(d.first_seen_ms, T0)
            self.assertEqual(d.last_seen_ms, T0 + i)

    def test_duplicates_in_one_second_keep_the_key_ttl(self):
        # The fast path writes a duplicate with SET ... KEEPTTL when its new expiry is in the
        # same second as the stored one (the key's expiry, kx(), is then the same); otherwise
        # with PXAT. Seen from outside: an expiry moved by hand survives a same-second
        # duplicate and is reset by the next second's. (The Store of the other tests checks
        # after every call that each key expires exactly at kx() of its record.)
        T0, p = self.T0, self.s.p
        T0 -= T0 % 1000
        s = Store(self.r, check_ttl=False)
        a = item('fp1', 'A', 'ns', 'r')
        s.decide([a], T0)
        s.commit([(a.fingerprint, a.name, a.namespace, a.verdict, a.lease, True, 'ns/rr')], T0)
        d = item('fp1', 'A', 'ns', 'r')
        s.decide([d], T0 + 100)
        self.assertEqual((d.verdict, d.count), (DUPLICATE, 2))
        self.assertEqual(self.r.pexpiretime('sgw:d2:fp1'), kx(T0 + 100 + p['dedup_ttl_ms']))
        self.r.pexpireat('sgw:d2:fp1', kx(T0 + p['dedup_ttl_ms']) + 777)
        d = item('fp1', 'A', 'ns', 'r')
        s.decide([d], T0 + 900)                      # the same second: the TTL is kept
        self.assertEqual((d.verdict, d.count, d.last_seen_ms), (DUPLICATE, 3, T0 + 900))
        self.assertEqual(self.r.pexpiretime('sgw:d2:fp1'), kx(T0 + p['dedup_ttl_ms']) + 777)
        d = item('fp1', 'A', 'ns', 'r')
        s.decide([d], T0 + 1000)                     # the next second: set again
        self.assertEqual((d.verdict, d.count), (DUPLICATE, 4))
        self.assertEqual(self.r.pexpiretime('sgw:d2:fp1'), kx(T0 + 1000 + p['dedup_ttl_ms']))
        # the same fingerprint twice in one call: its first sighting decides for the key
        self.r.pexpireat('sgw:d2:fp1', kx(T0 + 1000 + p['dedup_ttl_ms']) + 5)
        two = [item('fp1', 'A', 'ns', 'r'), item('fp1', 'A', 'ns', 'r')]
        s.decide(two, T0 + 2000)
        self.assertEqual([x.count for x in two], [5, 6])
        self.assertEqual(self.r.pexpiretime('sgw:d2:fp1'), kx(T0 + 2000 + p['dedup_ttl_ms']))

    def test_duplicate_refreshes_ttl(self):
        T0, p = self.T0, self.s.p
        a = item('fp1', 'A', 'ns', 'r')
        self.decide(a, T0)
        self.commit_one(a, True, 'ns/rr', T0)
        t = T0
        for _ in range(5):   # each sighting just inside the TTL keeps it alive
            t += p['dedup_ttl_ms'] - 1
            d = item('fp1', 'A', 'ns', 'r')
            self.decide(d, t)
            self.assertEqual(d.verdict, DUPLICATE)
            # the Redis TTL moves with it: the record's expiry (last sighting + dedup TTL),
            # rounded down to the second, plus two (decide.lua kx())
            self.assertEqual(self.r.pexpiretime('sgw:d2:fp1'), kx(t + p['dedup_ttl_ms']))
        late = item('fp1', 'A', 'ns', 'r')
        self.decide(late, t + p['dedup_ttl_ms'])
        self.assertEqual(late.verdict, CREATE)

    def test_concurrent_sighting_waits_for_the_lease(self):
        T0 = self.T0
        a, b = item('fp1', 'A', 'ns', 'r'), item('fp1', 'A', 'ns', 'r')
        self.decide(a, T0)
        self.decide(b, T0 + 1)
        self.assertEqual(a.verdict, CREATE)
        self.assertEqual(b.verdict, IN_PROGRESS)
        self.commit_one(a, True, 'ns/rr', T0 + 2)
        c = item('fp1', 'A', 'ns', 'r')
        self.decide(c, T0 + 3)
        self.assertEqual(c.verdict, DUPLICATE)
        self.assertEqual(c.count, 2)

    def test_expired_lease_is_taken_over(self):
        T0, L = self.T0, self.s.p['lease_ms']
        a = item('fp1', 'A', 'ns', 'r')
        self.decide(a, T0)
        b = item('fp1', 'A', 'ns', 'r')
        self.decide(b, T0 + L - 1)
        self.assertEqual(b.verdict, IN_PROGRESS)
        self.decide(b, T0 + L + 1)
        self.assertEqual(b.verdict, CREATE)
        self.assertNotEqual(b.lease, a.lease)
        # the dead creator's late commit must not overwrite the new owner
        self.commit_one(a, True, 'ns/old', T0 + L + 2)
        self.commit_one(b, True, 'ns/new', T0 + L + 3)
        c = item('fp1', 'A', 'ns', 'r')
        self.decide(c, T0 + L + 4)
        self.assertEqual(c.verdict, DUPLICATE)
        self.assertEqual(c.ref, 'ns/new')

    def test_failed_creation_releases_the_lease(self):
        T0 = self.T0
        a = item('fp1', 'A', 'ns', 'r')
        self.decide(a, T0)
        self.commit_one(a, False, None, T0 + 1)
        b = item('fp1', 'A', 'ns', 'r')
        self.decide(b, T0 + 2)
        self.assertEqual(b.verdict, CREATE)

    def test_resolution_closes_window_and_stale_firing_is_ignored(self):
        T0 = self.T0
        a = item('fp1', 'A', 'ns', 'r')
        a.firing_ms = T0 - 1000
        self.decide(a, T0)
        self.commit_one(a, True, 'ns/rr', T0)
        r = item('fp1', 'A', 'ns', 'r')
        r.resolved, r.firing_ms = True, T0 - 1000
        self.decide(r, T0 + 10)
        self.assertEqual(r.verdict, RESOLVED)
        self.assertEqual(r.ref, 'ns/rr')
        stale = item('fp1', 'A', 'ns', 'r')
        stale.firing_ms = T0 - 1000
        self.decide(stale, T0 + 20)
        self.assertEqual(stale.verdict, STALE)
        fresh = item('fp1', 'A', 'ns', 'r')
        fresh.firing_ms = T0 + 15
        self.decide(fresh, T0 + 30)
        self.assertEqual(fresh.verdict, CREATE)

    def test_resolved_only_records_nothing_to_create(self):
        T0 = self.T0
        r = item('fp9', 'A', 'ns', 'r')
        r.resolved, r.firing_ms = True, T0 - 5
        self.decide(r, T0)
        self.assertEqual(r.verdict, RESOLVED)
        self.assertIsNone(r.ref)

    def test_same_alert_twice_in_one_batch_is_created_once(self):
        b = [item('fp1', 'A', 'ns', 'r'), item('fp1', 'A', 'ns', 'r')]
        self.decide(b, self.T0)
        self.assertEqual(b[0].verdict, CREATE)
        self.assertEqual(b[1].verdict, IN_PROGRESS)

    def test_pattern_storm_opens_on_the_sixth_distinct_resource(self):
        T0 = self.T0
        fp = [f'fp{i}' for i in range(8)]
        res = [f'ns:Pod:p{i}' for i in range(8)]
        it = []
        for i in range(8):
            it.append(item(fp[i], 'Crash', 'ns', res[i]))
            self.decide(it[i], T0 + i)
            if i < 5:
                self.assertEqual(it[i].verdict, CREATE)
                self.commit_one(it[i], True, 'ns/rr', T0 + i)
        self.assertEqual(it[5].verdict, STORM_CREATE)
        self.assertEqual(it[5].storm_type, 'pattern')
        self.assertEqual(it[5].count, 1)
        self.assertEqual(len(it[5].storm_resources), 1)
        # while the storm RR is being created, later storm alerts wait
        self.assertEqual(it[6].verdict, IN_PROGRESS)
        self.assertEqual(it[7].verdict, IN_PROGRESS)
        self.commit_one(it[5], True, 'ns/rr-storm-x', T0 + 9)
        self.decide(it[6], T0 + 10)
        self.assertEqual(it[6].verdict, AGGREGATED)
        self.assertEqual(it[6].count, 2)
        self.assertEqual(it[6].ref, 'ns/rr-storm-x')
        self.assertEqual(it[6].storm_hash, it[5].storm_hash)
        # a folded alert repeating is a duplicate of the storm RR, not a second fold
        again = item(fp[6], 'Crash', 'ns', res[6])
        self.decide(again, T0 + 11)
        self.assertEqual(again.verdict, DUPLICATE)
        self.assertEqual(again.ref, 'ns/rr-storm-x')

    def test_storm_is_per_name_and_namespace(self):
        # 5 distinct pods in each of two namespaces: counted together they would be a
        # pattern storm from the 6th alert on; per namespace neither is one
        T0 = self.T0
        for i in range(11):
            it = item(f'fp{i}', 'Crash', 'b' if i % 2 else 'a', f'ns{i % 2}:Pod:p{i}')
            self.decide(it, T0 + i)
            self.assertEqual(it.verdict, CREATE if i < 10 else STORM_CREATE, i)
            self.commit_one(it, True, 'x/rr', T0 + i)

    def test_batch_of_fifty_is_one_storm_with_count_fifty(self):
        T0 = self.T0
        it = [item(f'f{i}', 'OOM', 'checkout', f'checkout:Pod:w{i:02d}') for i in range(50)]
        self.decide(it, T0)
        creators = members = 0
        for x in it:
            if x.verdict == STORM_CREATE:
                creators += 1
                self.assertEqual(x.count, 50)
                self.assertEqual(len(x.storm_resources), 50)
            else:
                self.assertEqual(x.verdict, MEMBER)
                members += 1
        self.assertEqual(creators, 1)
        self.assertEqual(members, 49)
        self.assertEqual(self.s.commit(
            [(x.fingerprint, 'OOM', 'checkout', x.verdict, x.lease, True, 'checkout/rr-storm-1') for x in it],
            T0 + 1), 50)
        d = item('f7', 'OOM', 'checkout', 'checkout:Pod:w07')
        self.decide(d, T0 + 2)
        self.assertEqual(d.verdict, DUPLICATE)
        self.assertEqual(d.ref, 'checkout/rr-storm-1')

    def test_rate_storm_uses_a_sliding_window(self):
        self.s.p['pattern_threshold'] = 1000
        t = self.T0
        # 10 new alerts, then one more 61 s after the first: the window slid, no storm
        for i in range(10):
            it = item(f'r{i}', 'Rate', 'n', f'n:Pod:{i}')
            self.decide(it, t + i * 100)
            self.assertEqual(it.verdict, CREATE)
            self.commit_one(it, True, 'n/rr', t)
        late = item('r10', 'Rate', 'n', 'n:Pod:10')
        self.decide(late, t + 61000)
        self.assertEqual(late.verdict, CREATE)
        self.commit_one(late, True, 'n/rr', t + 61000)
        # now 10 more within a second: 11 arrivals inside 60 s → rate storm
        last = None
        for i in range(11, 21):
            last = item(f'r{i}', 'Rate', 'n', f'n:Pod:{i}')
            self.decide(last, t + 61000 + i)
            if last.verdict == CREATE:
                self.commit_one(last, True, 'n/rr', t + 61000 + i)
            else:
                break
        self.assertEqual(last.verdict, STORM_CREATE)
        self.assertEqual(last.storm_type, 'rate')

    def test_storm_window_ends_and_a_new_one_opens(self):
        T0 = self.T0
        it = [item(f'w{i}', 'W', 'n', f'n:Pod:{i}') for i in range(8)]
        self.decide(it[:7], T0)   # 7 distinct > 5 → storm at once
        self.assertEqual(it[0].verdict, STORM_CREATE)
        self.s.commit([(it[0].fingerprint, 'W', 'n', STORM_CREATE, it[0].lease, True, 'n/rr-storm-a')], T0 + 1)
        self.decide(it[7], T0 + self.s.p['storm_window_ms'] + 1)
        self.assertEqual(it[7].verdict, STORM_CREATE)   # flag still on, window over
        self.assertNotEqual(it[7].storm_hash, it[0].storm_hash)

    def test_flush_claims_a_changed_window_once(self):
        T0, s = self.T0, self.s
        it = [item(f's{i}', 'S', 'n', f'n:Pod:{i}') for i in range(8)]
        self.decide(it[:6], T0)
        s.commit([(it[0].fingerprint, 'S', 'n', STORM_CREATE, it[0].lease, True, 'n/rr-storm-s')], T0)
        self.assertEqual(len(s.claim(T0 + 5000, 8)), 0)   # nothing changed since the RR was written
        self.decide(it[6], T0 + 10)
        self.decide(it[7], T0 + 20)
        self.assertEqual(it[7].verdict, AGGREGATED)
        self.assertEqual(len(s.claim(T0 + 500, 8)), 0)    # last write under update_interval ago
        out = s.claim(T0 + 1500, 8)
        self.assertEqual(len(out), 1)
        self.assertEqual(out[0].count, 8)
        self.assertEqual(len(out[0].resources), 8)
        self.assertEqual(out[0].ref, 'n/rr-storm-s')
        self.assertEqual(out[0].storm_hash, it[0].storm_hash)
        self.assertEqual(len(s.claim(T0 + 1600, 8)), 0)   # claimed: one writer
        self.assertEqual(s.flushed(out[0], True, T0 + 1700), 1)
        self.assertEqual(len(s.claim(T0 + 5000, 8)), 0)   # clean now

    def test_storm_disabled_creates_individually(self):
        self.s.p['storm_enabled'] = False
        it = [item(f'd{i}', 'D', 'n', f'n:Pod:{i}') for i in range(20)]
        self.decide(it, self.T0)
        for x in it:
            self.assertEqual(x.verdict, CREATE)
        self.assertEqual([k for k in self.s.keys() if ':d2:' not in k and not k.endswith('lease')], [])


# ---------------------------------------------------------------------------------------
# Part 2: Redis-specific behaviour
# ---------------------------------------------------------------------------------------
class RedisSpecific(Base):
    def storm_batch(self, n, now, name='OOM', ns='checkout', ref='checkout/rr-storm-1', commit=True):
        it = [item(f'{name}-{i}', name, ns, f'{ns}:Pod:w{i:04d}') for i in range(n)]
        self.decide(it, now)
        if commit:
            self.s.commit([(x.fingerprint, name, ns, x.verdict, x.lease, True, ref) for x in it], now + 1)
        return it

    def test_every_key_has_a_ttl_after_each_script(self):
        # Store checks PTTL >= 0 of every key under the prefix after every call; this
        # drives every script through every kind of key, then checks the expiry instants.
        T0, s, p = self.T0, self.s, self.s.p
        a = item('fp1', 'A', 'ns', 'ns:Pod:a')
        self.decide(a, T0)
        self.commit_one(a, True, 'ns/rr-a', T0 + 1)
        r = item('fp1', 'A', 'ns', 'ns:Pod:a')
        r.resolved = True
        self.decide(r, T0 + 2)
        failed = item('fp2', 'A', 'ns', 'ns:Pod:b')
        self.decide(failed, T0 + 3)
        self.commit_one(failed, False, None, T0 + 4)
        it = self.storm_batch(7, T0 + 5)
        self.decide(item('late', 'OOM', 'checkout', 'checkout:Pod:zz'), T0 + 10)
        out = s.claim(T0 + 2000)
        self.assertEqual(len(out), 1)
        s.flushed(out[0], True, T0 + 2001)
        kinds = {k[len('sgw:'):].split(':')[0] for k in s.keys()}
        self.assertEqual(kinds, {'d2', 'r', 'p', 'f', 'w', 'wr', 'lease'})
        self.assertEqual(s.keys_without_ttl(), [])
        self.assertEqual(self.r.pttl('sgw:lease'), -1)   # the token counter never restarts
        # the expiry instants follow now_ms (PEXPIREAT), as the records' own x fields
        key = 'OOM\x1fcheckout'
        self.assertEqual(self.r.pexpiretime('sgw:d2:fp1'), kx(T0 + 2 + p['dedup_ttl_ms']))
        self.assertEqual(int(self.rec('sgw:d2:fp1')['x']), T0 + 2 + p['dedup_ttl_ms'])
        self.assertEqual(self.r.pexpiretime('sgw:f:' + key), T0 + 5 + p['storm_flag_ttl_ms'])
        self.assertEqual(self.r.pexpiretime('sgw:r:' + key), T0 + 10 + p['rate_window_ms'] + 60000)
        self.assertEqual(self.r.pexpiretime('sgw:p:' + key), T0 + 10 + p['pattern_window_ms'] + 60000)
        wx = T0 + 10 + p['storm_flag_ttl_ms'] + p['storm_window_ms'] + 60000
        self.assertEqual(self.r.pexpiretime('sgw:w:' + key), wx)
        self.assertEqual(self.r.pexpiretime('sgw:wr:' + key), wx)
        self.assertEqual(int(self.r.hget('sgw:w:' + key, 'x')), wx)
        self.assertFalse(self.r.exists('sgw:ws'))   # flushed clean: trimmed away
        # a dirty window keeps the dirty set alive at least as long as itself
        self.decide(item('later', 'OOM', 'checkout', 'checkout:Pod:zy'), T0 + 20)
        self.assertEqual(self.r.zscore('sgw:ws', key), T0 + 20)
        self.assertEqual(self.r.pexpiretime('sgw:ws'), T0 + 20 + p['storm_flag_ttl_ms'] + p['storm_window_ms'] + 60000)

    def rec(self, key):
        """The dedup record at key, as a dict of its fields: the string
        "<s><x: 13 digits><l: 13 digits>|n|f|lease|le|rf|ref" (decide.lua)."""
        v = self.r.get(key)
        if v is None:
            return {}
        self.assertEqual(v[27], '|', v)
        parts = v[28:].split('|', 5)
        return dict(zip(('s', 'x', 'l', 'n', 'f', 'lease', 'le', 'rf', 'ref'),
                        [v[0], str(int(v[1:14])), str(int(v[14:27]))] + parts))

    def test_records_of_the_hash_form_are_no_longer_read(self):
        # the form before d1: (a hash at P d:<fp>, up to a7dce5a) is two versions back: its
        # fingerprints are new to this version (an RR's idempotent name makes a second creation
        # a duplicate at the API), and the old key is left alone to expire
        T0 = self.T0
        self.r.hset('sgw:d:old1', mapping={'s': 'c', 'ref': 'ns/rr-old1', 'n': 4, 'f': T0 - 5000, 'l': T0 - 1000,
                                           'x': T0 + 60000, 'lease': 7, 'le': T0 - 4000, 'rf': 0})
        self.r.pexpireat('sgw:d:old1', T0 + 60000)
        a = item('old1', 'A', 'ns', 'ns:Pod:a')
        self.decide(a, T0)
        self.assertEqual((a.verdict, a.count), (CREATE, 1))
        self.assertEqual(self.r.hget('sgw:d:old1', 'n'), '4')

    def test_records_of_the_first_string_form_are_read_during_an_upgrade(self):
        # an older replica (up to session 6) wrote P d1:<fp> = "s|n|f|l|x|lease|le|rf|ref": its
        # count, state, lease and ref carry on at d2:, and the d1: record is left to the older
        # replica (it expires with its TTL)
        T0, p = self.T0, self.s.p
        old = f'c|4|{T0 - 5000}|{T0 - 1000}|{T0 + 60000}|7|{T0 - 4000}|0|ns/rr-old1'
        self.r.set('sgw:d1:old1', old, pxat=T0 + 60000)
        a = item('old1', 'A', 'ns', 'ns:Pod:a')
        self.decide(a, T0)
        self.assertEqual((a.verdict, a.count, a.first_seen_ms, a.ref), (DUPLICATE, 5, T0 - 5000, 'ns/rr-old1'))
        self.assertEqual(self.rec('sgw:d2:old1')['n'], '5')
        self.assertEqual(self.r.get('sgw:d1:old1'), old)
        a = item('old1', 'A', 'ns', 'ns:Pod:a')
        self.decide(a, T0 + 1)                             # now from d2: (the fast path)
        self.assertEqual((a.verdict, a.count, a.ref), (DUPLICATE, 6, 'ns/rr-old1'))
        # a resolution recorded there still makes a later stale firing STALE
        self.r.set('sgw:d1:old2', f'r|1|{T0 - 5000}|{T0 - 5000}|{T0 + 60000}|0|0|{T0 - 6000}|ns/rr-old2',
                   pxat=T0 + 60000)
        b = item('old2', 'B', 'ns', 'ns:Pod:b')
        b.firing_ms = T0 - 6000
        self.decide(b, T0)
        self.assertEqual(b.verdict, STALE)
        # a creation an older replica holds the lease of is waited for, not taken over
        self.r.set('sgw:d1:old3', f'p|1|{T0}|{T0}|{T0 + 60000}|9|{T0 + 30000}|0|ns/rr-old3', pxat=T0 + 60000)
        c = item('old3', 'C', 'ns', 'ns:Pod:c')
        self.decide(c, T0 + 10)
        self.assertEqual(c.verdict, IN_PROGRESS)

    def test_an_alert_repeated_in_a_batch_is_sent_once_and_counts_every_occurrence(self):
        # redis.c (and Store here) sends an alert that several requests of one iteration carry
        # once, with the number of its occurrences: each occurrence still gets its own count,
        # on both of decide.lua's duplicate paths (the generic one, which a d1: record takes,
        # and the fast one)
        T0 = self.T0
        self.r.set('sgw:d1:old1', f'c|4|{T0 - 5000}|{T0 - 1000}|{T0 + 60000}|7|{T0 - 4000}|0|ns/rr-old1',
                   pxat=T0 + 60000)
        calls = self.s.repeated_calls
        a = [item('old1', 'A', 'ns', 'ns:Pod:a') for _ in range(3)]
        self.decide(a, T0)
        self.assertEqual(self.s.repeated_calls, calls + 1)
        self.assertEqual([(x.verdict, x.count, x.ref) for x in a], [(DUPLICATE, k, 'ns/rr-old1') for k in (5, 6, 7)])
        self.assertEqual(self.rec('sgw:d2:old1')['n'], '7')
        b = [item('old1', 'A', 'ns', 'ns:Pod:a') for _ in range(4)]
        self.decide(b, T0 + 1)
        self.assertEqual(self.s.repeated_calls, calls + 2)
        self.assertEqual([(x.verdict, x.count) for x in b], [(DUPLICATE, k) for k in (8, 9, 10, 11)])
        self.assertEqual(self.rec('sgw:d2:old1')['n'], '11')
        # a new alert repeated: created once, the other occurrences wait behind its lease
        c = [item('new1', 'A', 'ns', 'ns:Pod:n') for _ in range(3)]
        self.decide(c, T0 + 2)
        self.assertEqual([x.verdict for x in c], [CREATE, IN_PROGRESS, IN_PROGRESS])
        self.assertEqual([x.ref for x in c], ['ns/rr-x'] * 3)

    def test_occurrences_of_one_fingerprint_that_differ_are_sent_apart(self):
        # a firing and a resolved occurrence of one alert in a batch are not the same item:
        # each is decided in its place, as separate requests would be
        T0 = self.T0
        a = item('fp1', 'A', 'ns', 'r')
        a.firing_ms = T0 - 10
        self.decide(a, T0)
        self.commit_one(a, True, 'ns/rr-1', T0 + 1)
        calls = self.s.repeated_calls
        b = [item('fp1', 'A', 'ns', 'r') for _ in range(3)]
        for x in b:
            x.firing_ms = T0 - 10
        b[1].resolved = True
        self.decide(b, T0 + 2)
        self.assertEqual(self.s.repeated_calls, calls)
        self.assertEqual([x.verdict for x in b], [DUPLICATE, RESOLVED, STALE])
        self.assertEqual((b[0].count, b[1].count), (2, 2))

    def carried_over_then_resolved(self, fp, name, ns, res):
        """An older replica's d1: record (created, count 3), continued at d2: by a duplicate,
        then resolved: the d1: key is still there, for the older replicas."""
        T0 = self.T0
        self.r.set(f'sgw:d1:{fp}', f'c|3|{T0 - 5000}|{T0 - 1000}|{T0 + 60000}|0|0|0|ns/rr-OLD', pxat=T0 + 60000)
        a = item(fp, name, ns, res)
        a.firing_ms = T0 - 5000
        self.decide(a, T0)
        self.assertEqual((a.verdict, a.count, a.ref), (DUPLICATE, 4, 'ns/rr-OLD'))
        r = item(fp, name, ns, res)
        r.resolved, r.firing_ms = True, T0 - 5000
        self.decide(r, T0 + 10)
        self.assertEqual(r.verdict, RESOLVED)

    def test_a_record_carried_over_from_d1_and_then_deleted_does_not_come_back(self):
        # (found by review) the d1: record stays for the older replicas; when the d2: record is
        # deleted (a failed creation's commit, or a new occurrence that waits), the next call
        # must not read the old d1: record again as if it were current
        T0 = self.T0
        self.carried_over_then_resolved('fp1', 'A', 'ns', 'r')
        new = item('fp1', 'A', 'ns', 'r')
        new.firing_ms = T0 + 20
        self.decide(new, T0 + 30)
        self.assertEqual(new.verdict, CREATE)
        self.commit_one(new, False, None, T0 + 40)      # the sink failed: the record is deleted
        self.assertFalse(self.r.exists('sgw:d2:fp1', 'sgw:d1:fp1'))
        retry = item('fp1', 'A', 'ns', 'r')
        retry.firing_ms = T0 + 20
        self.decide(retry, T0 + 50)
        self.assertEqual((retry.verdict, retry.count), (CREATE, 1))

    def test_a_carried_over_record_a_waiting_new_occurrence_deleted_does_not_come_back(self):
        # (found by review) the other way a d2: record is deleted without being written again:
        # a new occurrence that waits (IN_PROGRESS) behind another caller's pending storm window
        T0 = self.T0
        self.carried_over_then_resolved('fpx', 'OOM', 'checkout', 'checkout:Pod:x')
        storm = [item(f'OOM-{i}', 'OOM', 'checkout', f'checkout:Pod:w{i:04d}') for i in range(6)]
        new = item('fpx', 'OOM', 'checkout', 'checkout:Pod:x')
        new.firing_ms = T0 + 15
        self.s.decide(storm + [new], T0 + 20, callers=[len(storm), 1])
        self.assertEqual((storm[0].verdict, new.verdict), (STORM_CREATE, IN_PROGRESS))
        self.assertFalse(self.r.exists('sgw:d2:fpx', 'sgw:d1:fpx'))
        again = item('fpx', 'OOM', 'checkout', 'checkout:Pod:x')
        again.firing_ms = T0 + 15
        self.decide(again, T0 + 30)
        self.assertNotEqual(again.verdict, DUPLICATE)   # not the old record's count 4 again

    def test_key_schema_and_fields(self):
        T0, p = self.T0, self.s.p
        a = item('fp1', 'A', 'ns', 'ns:Pod:a')
        self.decide(a, T0)
        self.assertEqual(self.r.type('sgw:d2:fp1'), 'string')
        h = self.rec('sgw:d2:fp1')
        self.assertEqual(h, {'s': 'p', 'ref': 'ns/rr-x', 'n': '1', 'f': str(T0), 'l': str(T0),
                             'x': str(T0 + p['lease_ms'] + p['dedup_ttl_ms']), 'lease': str(a.lease),
                             'le': str(T0 + p['lease_ms']), 'rf': '0'})
        self.commit_one(a, True, 'ns/rr-1', T0 + 5)
        h = self.rec('sgw:d2:fp1')
        self.assertEqual((h['s'], h['ref'], h['x']), ('c', 'ns/rr-1', str(T0 + 5 + p['dedup_ttl_ms'])))
        it = self.storm_batch(6, T0 + 10, commit=False)
        key = 'OOM\x1fcheckout'
        self.assertEqual(self.r.get('sgw:f:' + key), 'pattern')
        w = self.r.hgetall('sgw:w:' + key)
        self.assertEqual(w['s'], 'p')
        self.assertEqual(w['start'], str(T0 + 10))
        self.assertEqual(w['n'], '6')
        self.assertEqual(w['type'], 'pattern')
        self.assertEqual(w['lease'], str(it[0].lease))
        self.assertEqual(w['dirty'], '0')
        self.assertEqual(self.r.lrange('sgw:wr:' + key, 0, -1), [x.resource_id for x in it])
        self.assertEqual(self.r.zcard('sgw:r:' + key), 6)
        self.assertEqual(self.r.zcard('sgw:p:' + key), 6)
        self.assertTrue(all(m.startswith(f'{it[0].lease}:') for m in self.r.zrange('sgw:r:' + key, 0, -1)))
        # reply shape for each verdict kind
        self.assertEqual(it[0].raw[:8], [STORM_CREATE, 6, T0 + 10, T0 + 10, it[0].lease, 'ns/rr-x', 'pattern', T0 + 10])
        self.assertEqual(it[1].raw, [MEMBER, 6, T0 + 10, T0 + 10, it[0].lease, 'ns/rr-x', 'pattern', T0 + 10, []])

    def test_fifty_alert_batch_is_one_script_call(self):
        before = self.r.info('commandstats').get('cmdstat_evalsha', {}).get('calls', 0)
        it = self.storm_batch(50, self.T0, commit=False)
        after = self.r.info('commandstats')['cmdstat_evalsha']['calls']
        self.assertEqual(after - before, 1)
        verdicts = [x.verdict for x in it]
        self.assertEqual(verdicts.count(STORM_CREATE), 1)
        self.assertEqual(verdicts.count(MEMBER), 49)
        self.assertEqual(len({x.lease for x in it}), 1)   # one lease: committed together

    def test_item_fields_with_any_bytes_arrive_whole(self):
        # an item's name, namespace, resource and ref travel in one argument, cut by their
        # lengths: separators, NULs, UTF-8 and empty fields must come through unchanged
        T0 = self.T0
        self.s.p['storm_enabled'] = False
        odd = [('a|b', 'n|s', 'n|s:Pod:x|y', 'ns/rr|1'), ('\x00z\x00', '', '', ''),
               ('Zählung', 'prod-ü', 'prod-ü:Pod:ß', 'prod-ü/rr-ä'), ('12|3|4|', '5|', '|', '|')]
        its = [Item(f'fp{k}', *o[:3], ref=o[3]) for k, o in enumerate(odd)]
        self.s.decide(its, T0)
        self.assertEqual([x.verdict for x in its], [CREATE] * 4)
        self.assertEqual([x.ref for x in its[:3]], ['ns/rr|1', '', 'prod-ü/rr-ä'])
        for x in its:
            self.s.commit_one(x, True, x.ref or 'ns/rr', T0 + 1)
        # the window keys are cut from name and namespace: each alert has its own
        keys = {k for k in self.r.keys('sgw:*') if not k.startswith('sgw:d2:')}
        self.assertEqual(keys, {'sgw:lease'})
        self.s.p['storm_enabled'] = True
        again = [Item(f'fp{k}', *o[:3], ref='ignored') for k, o in enumerate(odd)]
        self.s.decide(again, T0 + 2)
        self.assertEqual([x.verdict for x in again], [DUPLICATE] * 4)
        self.assertEqual([x.ref for x in again], ['ns/rr|1', 'ns/rr', 'prod-ü/rr-ä', '|'])
        # storms group by the exact name and namespace
        grp = [Item(f'g{k}', 'a|b', 'n|s', f'n|s:Pod:{k}') for k in range(12)]
        self.s.decide(grp, T0 + 3)
        self.assertEqual(sorted({x.verdict for x in grp}), [STORM_CREATE, MEMBER])
        self.assertEqual(grp[0].storm_resources, [f'n|s:Pod:{k}' for k in range(12)])

    def test_a_malformed_item_fails_the_call(self):
        for meta in (b'', b'0|', b'x|1|0|0|0|', b'0|1|5|0|0|abc', b'0|1|a|0|0|'):
            with self.assertRaises(redis.exceptions.ResponseError, msg=meta):
                self.s.evalsha('decide', 'sgw:', self.T0, 300000, 30000, 1, 10, 60000, 5, 120000, 60000,
                               300000, 100, 1, '', 'fp', meta)

    def test_noscript_after_script_flush_is_detectable(self):
        self.r.script_flush()
        with self.assertRaises(redis.exceptions.NoScriptError):
            self.decide(item('fp1', 'A', 'ns', 'r'), self.T0)
        # what hiredis hands redis.c: an error reply starting with "NOSCRIPT"
        with socket.create_connection(('127.0.0.1', SERVER.port), timeout=5) as sock:
            args = [b'EVALSHA', self.s.shas['decide'].encode(), b'0']
            sock.sendall(b'*%d\r\n' % len(args) + b''.join(b'$%d\r\n%s\r\n' % (len(a), a) for a in args))
            line = sock.recv(4096).split(b'\r\n')[0]
        self.assertTrue(line.startswith(b'-NOSCRIPT'), line)
        # reloading gives the same SHA1 and the call then works
        self.assertEqual(load_scripts(self.r), self.s.shas)
        a = item('fp1', 'A', 'ns', 'r')
        self.decide(a, self.T0)
        self.assertEqual(a.verdict, CREATE)

    def test_thousand_alert_batch(self):
        T0 = self.T0
        t = time.monotonic()
        it = self.storm_batch(1000, T0, commit=False)
        elapsed = time.monotonic() - t
        verdicts = [x.verdict for x in it]
        self.assertEqual(verdicts[0], STORM_CREATE)
        self.assertEqual(verdicts.count(MEMBER), 999)
        self.assertEqual(it[0].count, 1000)
        self.assertEqual(len(it[0].storm_resources), 200)   # storm_max_resources
        self.assertEqual(self.r.llen('sgw:wr:OOM\x1fcheckout'), 200)
        self.s.commit([(x.fingerprint, 'OOM', 'checkout', x.verdict, x.lease, True, 'c/rr') for x in it], T0 + 1)
        # a second 1,000 batch: 1,000 duplicates
        it2 = [item(x.fingerprint, 'OOM', 'checkout', x.resource_id) for x in it]
        self.decide(it2, T0 + 2)
        self.assertTrue(all(x.verdict == DUPLICATE and x.count == 2 and x.ref == 'c/rr' for x in it2))
        print(f'\n    1,000-alert storm batch: one decide call, {elapsed * 1000:.1f} ms', file=sys.stderr)

    def test_detector_sets_stay_bounded(self):
        T0, p = self.T0, self.s.p
        self.storm_batch(300, T0, commit=False)
        key = 'OOM\x1fcheckout'
        self.assertEqual(self.r.zcard('sgw:r:' + key), p['rate_threshold'] + 1)
        self.assertEqual(self.r.zcard('sgw:p:' + key), p['pattern_threshold'] + 1)
        # and trimmed to their windows
        self.decide(item('x', 'OOM', 'checkout', 'checkout:Pod:new'), T0 + p['pattern_window_ms'])
        self.assertEqual(self.r.zcard('sgw:r:' + key), 1)
        self.assertEqual(self.r.zcard('sgw:p:' + key), 1)

    def test_record_expiry_follows_now_ms_not_the_redis_clock(self):
        T0, p = self.T0, self.s.p
        a = item('fp1', 'A', 'ns', 'r')
        self.decide(a, T0)
        self.commit_one(a, True, 'ns/rr', T0)
        later = T0 + p['dedup_ttl_ms']
        self.assertGreater(self.r.pttl('sgw:d2:fp1'), 0)   # Redis still holds it ...
        b = item('fp1', 'A', 'ns', 'r')
        self.decide(b, later)                              # ... but at now_ms it has expired
        self.assertEqual(b.verdict, CREATE)
        self.assertEqual(b.count, 1)
        # a pending record past its lease and TTL cannot be committed any more
        self.commit_one(b, True, 'ns/rr-late', later + p['lease_ms'] + p['dedup_ttl_ms'])
        c = item('fp1', 'A', 'ns', 'r')
        self.decide(c, later + p['lease_ms'] + p['dedup_ttl_ms'] + 1)
        self.assertEqual(c.verdict, CREATE)

    def test_claim_trims_dirty_set_of_gone_windows(self):
        T0, s = self.T0, self.s
        self.storm_batch(6, T0)
        self.decide(item('agg', 'OOM', 'checkout', 'checkout:Pod:agg'), T0 + 10)
        self.assertEqual(self.r.zcard('sgw:ws'), 1)
        self.r.delete('sgw:w:OOM\x1fcheckout')   # as if it had expired
        self.assertEqual(s.claim(T0 + 2000), [])
        self.assertFalse(self.r.exists('sgw:ws'))

    def test_claim_skips_and_trims_windows_past_their_expiry(self):
        T0, s, p = self.T0, self.s, self.s.p
        self.storm_batch(6, T0)
        self.decide(item('agg', 'OOM', 'checkout', 'checkout:Pod:agg'), T0 + 10)
        wx = T0 + 10 + p['storm_flag_ttl_ms'] + p['storm_window_ms'] + 60000
        self.assertEqual(s.claim(wx), [])
        self.assertFalse(self.r.exists('sgw:ws'))
        self.assertFalse(self.r.exists('sgw:w:OOM\x1fcheckout'))

    def test_flushed_reports_whether_the_claim_was_held(self):
        T0, s, p = self.T0, self.s, self.s.p
        self.storm_batch(6, T0)
        self.decide(item('agg', 'OOM', 'checkout', 'checkout:Pod:agg'), T0 + 10)
        first = s.claim(T0 + 2000)
        self.assertEqual(len(first), 1)
        self.assertEqual(s.claim(T0 + 2000 + p['lease_ms'] - 1), [])   # still claimed
        # the writer died: after the flush lease another claim takes it over
        second = s.claim(T0 + 2000 + p['lease_ms'])
        self.assertEqual(len(second), 1)
        self.assertNotEqual(second[0].lease, first[0].lease)
        self.assertEqual(s.flushed(first[0], True, T0 + 2000 + p['lease_ms'] + 1), 0)
        self.assertEqual(self.r.hget('sgw:w:OOM\x1fcheckout', 'dirty'), '1')
        self.assertEqual(s.flushed(second[0], True, T0 + 2000 + p['lease_ms'] + 2), 1)
        self.assertEqual(self.r.hget('sgw:w:OOM\x1fcheckout', 'dirty'), '0')
        self.assertEqual(s.flushed(second[0], True, T0 + 2000 + p['lease_ms'] + 3), 0)   # released

    def test_fold_during_a_flush_keeps_the_window_dirty(self):
        T0, s = self.T0, self.s
        self.storm_batch(6, T0)
        self.decide(item('agg1', 'OOM', 'checkout', 'checkout:Pod:a1'), T0 + 10)
        f = s.claim(T0 + 2000)[0]
        self.assertEqual(f.count, 7)
        late = item('agg2', 'OOM', 'checkout', 'checkout:Pod:a2')
        self.decide(late, T0 + 2100)
        self.assertEqual((late.verdict, late.count), (AGGREGATED, 8))
        self.assertEqual(s.flushed(f, True, T0 + 2200), 1)
        self.assertEqual(s.claim(T0 + 3000), [])          # written 0.8 s ago
        g = s.claim(T0 + 3200)
        self.assertEqual([(x.count, len(x.resources)) for x in g], [(8, 8)])
        # a failed write keeps it dirty and due
        self.assertEqual(s.flushed(g[0], False, T0 + 3300), 1)
        self.assertEqual(len(s.claim(T0 + 3301)), 1)

    def test_failed_storm_creation_clears_the_window(self):
        T0, s = self.T0, self.s
        it = self.storm_batch(6, T0, commit=False)
        self.assertEqual(s.commit([(x.fingerprint, 'OOM', 'checkout', x.verdict, x.lease, False, None) for x in it],
                                  T0 + 1), 6)
        self.assertFalse(self.r.exists('sgw:w:OOM\x1fcheckout', 'sgw:wr:OOM\x1fcheckout', 'sgw:d2:OOM-0'))
        self.assertTrue(self.r.exists('sgw:f:OOM\x1fcheckout'))   # the storm is still on
        again = item('OOM-0', 'OOM', 'checkout', 'checkout:Pod:w0000')
        self.decide(again, T0 + 2)
        self.assertEqual((again.verdict, again.count, again.storm_start_ms), (STORM_CREATE, 1, T0 + 2))

    def test_dead_storm_creator_is_taken_over(self):
        T0, s, p = self.T0, self.s, self.s.p
        it = self.storm_batch(6, T0, commit=False)
        x = item('next', 'OOM', 'checkout', 'checkout:Pod:next')
        self.decide(x, T0 + p['lease_ms'] - 1)
        self.assertEqual(x.verdict, IN_PROGRESS)
        self.assertFalse(self.r.exists('sgw:d2:next'))     # nothing recorded
        self.decide(x, T0 + p['lease_ms'])
        self.assertEqual((x.verdict, x.count, x.storm_start_ms), (STORM_CREATE, 7, T0))
        self.assertEqual(len(x.storm_resources), 7)
        # the dead creator's commit changes nothing; the new owner's does
        s.commit([(it[0].fingerprint, 'OOM', 'checkout', STORM_CREATE, it[0].lease, True, 'c/old')], T0 + p['lease_ms'] + 1)
        self.assertEqual(self.r.hget('sgw:w:OOM\x1fcheckout', 's'), 'p')
        s.commit([('next', 'OOM', 'checkout', STORM_CREATE, x.lease, True, 'c/new')], T0 + p['lease_ms'] + 2)
        y = item('y', 'OOM', 'checkout', 'checkout:Pod:y')
        self.decide(y, T0 + p['lease_ms'] + 3)
        self.assertEqual((y.verdict, y.ref, y.count), (AGGREGATED, 'c/new', 8))

    def test_resolution_of_a_creation_in_progress_waits(self):
        T0 = self.T0
        a = item('fp1', 'A', 'ns', 'r')
        self.decide(a, T0)
        r = item('fp1', 'A', 'ns', 'r')
        r.resolved, r.firing_ms = True, T0 - 5
        self.decide(r, T0 + 1)
        self.assertEqual(r.verdict, IN_PROGRESS)
        self.assertEqual(self.rec('sgw:d2:fp1')['s'], 'p')
        self.commit_one(a, True, 'ns/rr', T0 + 2)
        self.decide(r, T0 + 3)
        self.assertEqual((r.verdict, r.ref, r.count, r.first_seen_ms), (RESOLVED, 'ns/rr', 1, T0))
        h = self.rec('sgw:d2:fp1')
        self.assertEqual((h['s'], h['rf']), ('r', str(T0 - 5)))

    def test_prefixes_are_independent(self):
        other = Store(self.r, prefix='other:')
        a, b = item('fp1', 'A', 'ns', 'r'), item('fp1', 'A', 'ns', 'r')
        self.s.decide([a], self.T0)
        other.decide([b], self.T0)
        self.assertEqual((a.verdict, b.verdict), (CREATE, CREATE))

    def test_memory_per_fingerprint(self):
        # 10,000 distinct fingerprints, created and committed (storm detection off, so only
        # dedup records are measured), in batches of 1,000 as webhooks would bring them
        s = Store(self.r, params={'storm_enabled': False}, check_ttl=False)
        T0 = self.T0
        n = 10000
        self.r.execute_command('MEMORY', 'PURGE')
        base = self.r.info('memory')['used_memory']
        for b in range(0, n, 1000):
            it = [Item('%064x' % (i * 7919 + 12345), 'KubePodCrashLooping', 'payments',
                       f'payments:Pod:api-{i:05d}', firing_ms=T0 - 60000, ref=f'payments/rr-{i:05d}')
                  for i in range(b, b + 1000)]
            s.decide(it, T0 + b)
            self.assertTrue(all(x.verdict == CREATE for x in it))
            s.commit([(x.fingerprint, x.name, x.namespace, x.verdict, x.lease, True, x.ref) for x in it], T0 + b + 1)
        self.r.execute_command('MEMORY', 'PURGE')
        used = self.r.info('memory')['used_memory'] - base
        self.assertEqual(self.r.dbsize(), n + 1)   # + the lease counter
        self.assertEqual(s.keys_without_ttl(), [])
        one = self.r.memory_usage('sgw:d2:' + '%064x' % 12345, samples=0)
        print(f'\n    memory per fingerprint: MEMORY USAGE of one dedup record = {one} bytes; '
              f'INFO used_memory delta / {n} = {used / n:.0f} bytes', file=sys.stderr)


class FunctionAndScript(unittest.TestCase):
    """decide.lua as a function (FCALL; what the gateway runs where Redis allows) keeps its
    helpers and its converted parameters between calls; as a script (EVALSHA) it starts
    afresh every call. Every call here changes ONE parameter from the call before, and the
    two must answer alike and leave the same keys, values and expiry times: a parameter the
    function failed to convert again would show as a difference."""

    PARAMS = dict(dedup_ttl_ms=[20000, 9000, 40000], lease_ms=[3000, 1000, 6000], storm_enabled=[True, False],
                  rate_threshold=[1, 3, 10], rate_window_ms=[5000, 2000, 30000], pattern_threshold=[1, 2, 6],
                  pattern_window_ms=[8000, 3000, 60000], storm_window_ms=[10000, 4000, 30000],
                  storm_flag_ttl_ms=[20000, 7000, 50000], storm_max_resources=[3, 1, 50])

    def setUp(self):
        self.r = SERVER.client()
        self.r.flushall()

    def tearDown(self):
        self.r.close()

    def state(self, prefix):
        out = {}
        for k in sorted(self.r.scan_iter(match=prefix + '*', count=1000)):
            t = self.r.type(k)
            v = {'string': self.r.get, 'hash': self.r.hgetall, 'list': lambda k: self.r.lrange(k, 0, -1),
                 'zset': lambda k: self.r.zrange(k, 0, -1, withscores=True)}[t](k)
            out[k[len(prefix):]] = (t, v, self.r.execute_command('PEXPIRETIME', k))
        return out

    def test_each_parameter_changed_alone_is_used_by_the_function(self):
        rnd = random.Random(7)
        fn = Store(self.r, prefix='fn:', params=dict(DEFAULT_PARAMS), function=True)
        sc = Store(self.r, prefix='sc:', params=dict(DEFAULT_PARAMS))
        now = int(time.time() * 1000)
        names = list(self.PARAMS)
        for step in range(120):
            key = names[step % len(names)]
            value = rnd.choice([v for v in self.PARAMS[key] if v != fn.p[key]])
            fn.p[key] = sc.p[key] = value
            now += rnd.choice([1, 400, 1500, 5000])
            items = [(f'{rnd.randrange(60):02d}' + 'e' * 14, rnd.choice(['A', 'B']), f'x:Pod:p{rnd.randrange(10)}',
                      rnd.random() < 0.15) for _ in range(rnd.randrange(1, 7))]
            got = []
            for st in (fn, sc):
                batch = [Item(fp, name, 'x', res, resolved=resolved, ref='x/rr-' + fp[:2])
                         for fp, name, res, resolved in items]
                st.decide(batch, now)
                created = [(it.fingerprint, it.name, it.namespace, it.verdict, it.lease, True, 'x/rr-' + it.fingerprint[:2])
                           for it in batch if it.verdict in (CREATE, STORM_CREATE, MEMBER)]
                if created:
                    st.commit(created, now + 1)
                got.append([(it.verdict, it.count, it.first_seen_ms, it.last_seen_ms, it.ref, it.storm_type,
                             it.storm_start_ms, tuple(it.storm_resources)) for it in batch])
            self.assertEqual(got[0], got[1], f'step {step}: {key}={value}')
            self.assertEqual(self.state('fn:'), self.state('sc:'), f'step {step}: {key}={value}')


if __name__ == '__main__':
    unittest.main()
