# Watch streams of the test API server, as kube-apiserver's watch cache serves them:
# events from the store's history after a resourceVersion (or the current state as ADDED
# events first), selector-filtered with the object before each change so that an object
# that starts or stops matching gives ADDED / DELETED, BOOKMARK events for clients that
# allow them, an ERROR event (410 Expired) for a resourceVersion older than the history,
# and the test-only watch faults (expire, drop, hang) of /_test/watch/.

import copy
import time

DROP = object()       # yielded by a stream: close the connection without the final chunk

INITIAL_EVENTS_END = "k8s.io/initial-events-end"
EXPIRED_WATCH = "The resourceVersion for the provided watch is too old."


def expired_status(message):
    """metav1.Status of apierrors.NewResourceExpired."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": "Expired", "code": 410}


class _Watch:
    def __init__(self, info):
        self.info = info             # {"resource", "namespace", "query", "since"} for /_test/watch
        self.stop = None             # None, "drop" or "expire"
        self.hung_until = 0.0


class Hub:
    """The open watch streams, the bookmark interval, and the test-only watch faults. Its
    state is guarded by the store's lock, whose condition wakes the streams."""

    def __init__(self, store, bookmark_interval=1.0):
        self.store = store
        self.bookmark_interval = bookmark_interval
        self.open = []

    def describe(self):
        with self.store.lock:
            return [dict(w.info, hung=w.hung_until > time.monotonic()) for w in self.open]

    def _mark(self, fn):
        with self.store.lock:
            for w in self.open:
                fn(w)
            self.store.cond.notify_all()
            return len(self.open)

    def drop_all(self):
        """Every open stream ends without an event or the final chunk (a lost connection)."""
        return self._mark(lambda w: setattr(w, "stop", "drop"))

    def expire_all(self):
        """Compacts the history (every earlier resourceVersion is too old), then every open
        stream gets an ERROR 410 Expired event and ends. Returns (streams, resourceVersion)."""
        with self.store.lock:
            self.store.compact()
            return self._mark(lambda w: setattr(w, "stop", "expire")), self.store.rv

    def hang_all(self, seconds):
        """The open streams deliver nothing (no events, bookmarks or end) for `seconds`;
        writes go on, and the stream catches up afterwards. New watches are not affected."""
        until = time.monotonic() + seconds

        def hang(w):
            w.hung_until = max(w.hung_until, until)
        return self._mark(hang)

    def next_bookmark(self, now, deadline):
        """cacheWatcher.nextBookmarkTime: every interval, and never later than 2 s before
        the deadline; None when no more bookmarks are due."""
        if not self.bookmark_interval:
            return None
        t = min(now + self.bookmark_interval, deadline - 2.0)
        return t if t >= now else None

    def stream(self, res, since, initial, matches, render, timeout, bookmarks, initial_end, info):
        """A generator factory for server.send_stream: `initial` objects as ADDED events, (an
        initial-events-end bookmark), then the history after `since` until the timeout."""
        store = self.store
        hub = self
        w = _Watch(info)

        def bookmark(rv, annotate=False):
            meta = {"resourceVersion": str(rv)}
            if annotate:
                meta["annotations"] = {INITIAL_EVENTS_END: "true"}
            return {"type": "BOOKMARK", "object": render({"kind": res.kind, "apiVersion": res.group_version,
                                                          "metadata": meta}, bookmark=True)}

        def convert(ev):
            """The cache watcher's view of one stored event, or None."""
            rv, etype, _, _, _, obj, prev = ev
            cur_ok = etype != "DELETED" and matches(obj)
            old_ok = prev is not None and matches(prev)
            if cur_ok:
                return {"type": "MODIFIED" if old_ok else "ADDED", "object": render(copy.deepcopy(obj))}
            if old_ok:
                gone = copy.deepcopy(prev)
                gone["metadata"]["resourceVersion"] = str(rv)
                return {"type": "DELETED", "object": render(gone)}
            return None

        def gen(alive):
            with store.lock:
                hub.open.append(w)
            try:
                for o in initial:
                    yield {"type": "ADDED", "object": render(o)}
                if initial_end and bookmarks:
                    yield bookmark(since, annotate=True)
                cursor = since
                now = time.monotonic()
                deadline = now + timeout
                next_bm = hub.next_bookmark(now, deadline) if bookmarks else None
                while True:
                    out, done = [], False
                    with store.lock:
                        while True:
                            now = time.monotonic()
                            if w.stop or store.stopping:
                                break
                            if w.hung_until > now:
                                store.cond.wait(min(w.hung_until - now, 0.5))
                                if not alive():
                                    return
                                continue
                            evs = store.events_after(cursor, res.key)
                            if evs or now >= deadline or (next_bm is not None and now >= next_bm):
                                break
                            store.cond.wait(max(0.01, min(deadline, next_bm or deadline, now + 0.5) - now))
                            if not alive():
                                return
                        if w.stop == "drop":
                            out, done = [DROP], True
                        elif w.stop == "expire":
                            out, done = [{"type": "ERROR", "object": expired_status(EXPIRED_WATCH)}], True
                        elif store.stopping:
                            done = True
                        else:
                            evs = store.events_after(cursor, res.key)
                            for ev in evs:
                                cursor = ev[0]
                                e = convert(ev)
                                if e is not None:
                                    out.append(e)
                            if not evs and next_bm is not None and now >= next_bm:
                                cursor = max(cursor, store.rv)
                                out.append(bookmark(cursor))
                                next_bm = hub.next_bookmark(now, deadline)
                            done = not out and now >= deadline
                    for e in out:
                        yield e
                    if done:
                        return
            finally:
                with store.lock:
                    if w in hub.open:
                        hub.open.remove(w)

        return gen


def error_stream(status):
    """A watch that answers one ERROR event and ends (what the real server streams when the
    request was valid but the watch cannot start, e.g. a too old resourceVersion)."""
    def gen(alive):
        yield {"type": "ERROR", "object": status}
    return gen

