# In-memory object storage for the test API server, standing in for etcd: one global,
# increasing revision used as every object's resourceVersion, and an event history (each
# event with the object before it, like etcd's prevKV) that watch requests read from and
# that past revisions are rebuilt from (list with resourceVersionMatch=Exact, continue).

import collections
import copy
import threading


class Store:
    def __init__(self, history=20000):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.rv = 0                                # last committed revision
        self.objects = {}                          # (res_key, namespace, name) -> object
        self.events = collections.deque(maxlen=history)   # (rv, type, res_key, ns, name, obj, prev)
        self.compacted = 0                         # events with rv <= this are gone
        self.stopping = False

    # all callers hold self.lock around read-modify-write sequences
    def get(self, res_key, ns, name):
        return self.objects.get((res_key, ns, name))

    def list(self, res_key, ns=None):
        out = [o for (rk, n, _), o in self.objects.items() if rk == res_key and (ns is None or n == ns)]
        out.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        return out

    def next_rv(self):
        return str(self.rv + 1)

    def _commit(self, etype, res_key, ns, name, obj, prev):
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        if len(self.events) == self.events.maxlen:
            self.compacted = self.events[0][0]
        self.events.append((self.rv, etype, res_key, ns, name, copy.deepcopy(obj), prev))
        self.cond.notify_all()
        return obj

    def put(self, res_key, ns, name, obj, created):
        prev = self.objects.get((res_key, ns, name))
        self.objects[(res_key, ns, name)] = obj
        return self._commit("ADDED" if created else "MODIFIED", res_key, ns, name, obj,
                            None if created or prev is None else copy.deepcopy(prev))

    def delete(self, res_key, ns, name):
        obj = self.objects.pop((res_key, ns, name))
        prev = copy.deepcopy(obj)
        out = copy.deepcopy(obj)
        self._commit("DELETED", res_key, ns, name, out, prev)
        return out

    def clear(self):
        with self.lock:
            for (rk, ns, name) in list(self.objects):
                self.delete(rk, ns, name)

    def events_after(self, rv, res_key):
        return [e for e in self.events if e[0] > rv and e[2] == res_key]

    def compact(self):
        """Forget the history: every revision before the current one is now too old."""
        self.compacted = self.rv
        self.events.clear()
        self.cond.notify_all()

    def snapshot(self, res_key, ns, rv):
        """The objects of res_key (in namespace ns, or all for None) as they were at revision
        rv, sorted like list(). The caller checks compacted <= rv <= self.rv."""
        state = {k: o for k, o in self.objects.items() if k[0] == res_key and (ns is None or k[1] == ns)}
        for e in reversed(self.events):
            if e[0] <= rv:
                break
            if e[2] != res_key or (ns is not None and e[3] != ns):
                continue
            key = (e[2], e[3], e[4])
            if e[1] == "ADDED":
                state.pop(key, None)
            else:
                state[key] = e[6]
        out = [copy.deepcopy(o) for o in state.values()]
        out.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        return out

    def stop(self):
        with self.lock:
            self.stopping = True
            self.cond.notify_all()
