"""The gateway's TZif reader (src/tz.c) against Python's zoneinfo, an independent reader of the
same system zone files: UTC offsets at every offset change from 1900 to 2100 (found here by
bisection, tested one second before, at and after) and at samples between them, for zones
with DST, a 30-minute DST, a +05:45 offset and abolished DST. Years after 2037 exercise the
files' POSIX TZ footer. The C side is the unit binary's --offsets mode (make unit-bins)."""
import datetime
import os
import subprocess
import unittest
import zoneinfo

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TZ_BIN = os.environ.get("SGW_TZ_BIN", os.path.join(ROOT, "build", "san", "tests", "test_tz"))
ZONES = ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "America/Sao_Paulo")
START = int(datetime.datetime(1900, 1, 1, tzinfo=datetime.timezone.utc).timestamp())
END = int(datetime.datetime(2100, 1, 1, tzinfo=datetime.timezone.utc).timestamp())
STEP = 7 * 86400 + 3607   # not a whole number of days: the samples fall at every time of day


def offset(zone, t):
    return int(datetime.datetime.fromtimestamp(t, zone).utcoffset().total_seconds())


def changes(zone):
    """every t in [START, END) where the offset differs from t-1's"""
    out = []
    prev_t, prev = START, offset(zone, START)
    for t in range(START + STEP, END, STEP):
        o = offset(zone, t)
        if o != prev:
            lo, hi = prev_t, t   # offset(lo) == prev, offset(hi) != prev
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset(zone, mid) == prev:
                    lo = mid
                else:
                    hi = mid
            out.append(hi)
        prev_t, prev = t, o
    return out


class TzOffsetsTest(unittest.TestCase):
    def test_offsets_match_zoneinfo(self):
        self.assertTrue(os.path.exists(TZ_BIN), "build it: make unit-bins (%s)" % TZ_BIN)
        lines, want = [], []
        n_changes = {}
        for name in ZONES:
            zone = zoneinfo.ZoneInfo(name)
            ch = changes(zone)
            n_changes[name] = len(ch)
            ts = sorted(set(range(START, END, STEP)) | {c + d for c in ch for d in (-1, 0, 1)})
            for t in ts:
                lines.append("%s %d\n" % (name, t))
                want.append("%s %d %d" % (name, t, offset(zone, t)))
        # each zone has changes in the years the footer rule covers, or is known to have none
        self.assertGreater(n_changes["Europe/Berlin"], 2 * 60)
        self.assertGreater(n_changes["Australia/Lord_Howe"], 2 * 60)
        self.assertLess(n_changes["Asia/Kathmandu"], 4)
        out = subprocess.run([TZ_BIN, "--offsets"], input="".join(lines), capture_output=True, text=True,
                             timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        got = out.stdout.splitlines()
        self.assertEqual(len(got), len(want))
        bad = [(g, w) for g, w in zip(got, want) if g != w]
        self.assertEqual(bad[:10], [], "%d of %d differ (got, want)" % (len(bad), len(want)))
        print("tz: %d offsets compared, changes per zone %s" % (len(want), n_changes))


if __name__ == "__main__":
    unittest.main()
