# In-memory object storage for the test API server, standing in for etcd: one global,
# increasing revision used as every object's resourceVersion, and an event history that
# watch requests read from.

import collections
import copy
import threading


class Store:
    def __init__(self, history=20000):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.rv = 0                                # last committed revision
        self.objects = {}                          # (res_key, namespace, name) -> object
        self.events = collections.deque(maxlen=history)   # (rv, type, res_key, ns, name, obj)
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

    def _commit(self, etype, res_key, ns, name, obj):
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        if len(self.events) == self.events.maxlen:
            self.compacted = self.events[0][0]
        self.events.append((self.rv, etype, res_key, ns, name, copy.deepcopy(obj)))
        self.cond.notify_all()
        return obj

    def put(self, res_key, ns, name, obj, created):
        self.objects[(res_key, ns, name)] = obj
        return self._commit("ADDED" if created else "MODIFIED", res_key, ns, name, obj)

    def delete(self, res_key, ns, name):
        obj = self.objects.pop((res_key, ns, name))
        out = copy.deepcopy(obj)
        self._commit("DELETED", res_key, ns, name, out)
        return out

    def clear(self):
        with self.lock:
            for (rk, ns, name) in list(self.objects):
                self.delete(rk, ns, name)

    def events_after(self, rv, res_key):
        return [e for e in self.events if e[0] > rv and e[2] == res_key]

    def stop(self):
        with self.lock:
            self.stopping = True
            self.cond.notify_all()
