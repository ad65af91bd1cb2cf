# Test-only state of the test API server: the queue of injected faults (/_test/faults)
# and the log of API requests it served (/_test/requests).

import collections
import re
import threading

ACTIONS = ("status", "latency", "drop", "conflict")


class FaultError(ValueError):
    pass


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.items = []
        self.next_id = 1

    def add(self, spec):
        if not isinstance(spec, dict):
            raise FaultError("fault must be a JSON object")
        action = spec.get("action", "status")
        if action not in ACTIONS:
            raise FaultError("action must be one of %s" % ", ".join(ACTIONS))
        method = spec.get("method")
        if method is not None and not isinstance(method, str):
            raise FaultError("method must be a string or null")
        regex = spec.get("path_regex")
        try:
            compiled = re.compile(regex) if regex else None
        except re.error as e:
            raise FaultError("path_regex: %s" % e)
        count = spec.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise FaultError("count must be a positive integer")
        status = spec.get("status", 500)
        if action == "status" and (not isinstance(status, int) or not 100 <= status <= 599):
            raise FaultError("status must be an HTTP status code")
        retry_after = spec.get("retry_after")
        if retry_after is not None and (not isinstance(retry_after, (int, float)) or retry_after < 0):
            raise FaultError("retry_after must be a non-negative number")
        latency = spec.get("latency_ms", 0)
        if not isinstance(latency, (int, float)) or latency < 0 or latency > 60000:
            raise FaultError("latency_ms must be between 0 and 60000")
        with self.lock:
            f = {"id": self.next_id, "method": method.upper() if method else None, "path_regex": regex,
                 "count": count, "remaining": count, "action": action, "status": status,
                 "retry_after": retry_after, "latency_ms": latency, "_re": compiled}
            self.next_id += 1
            self.items.append(f)
            return self.public(f)

    @staticmethod
    def public(f):
        return {k: v for k, v in f.items() if not k.startswith("_")}

    def list(self):
        with self.lock:
            return [self.public(f) for f in self.items]

    def clear(self):
        with self.lock:
            n = len(self.items)
            self.items = []
            return n

    def take(self, method, path, conflict):
        """Consume one use of the first queued fault matching the request. With
        conflict=False only status/latency/drop faults are considered; with
        conflict=True only `conflict` faults (asked for when an update is committed)."""
        with self.lock:
            for f in self.items:
                if (f["action"] == "conflict") != conflict:
                    continue
                if f["method"] and f["method"] != method:
                    continue
                if f["_re"] is not None and not f["_re"].search(path):
                    continue
                f["remaining"] -= 1
                if f["remaining"] <= 0:
                    self.items.remove(f)
                return self.public(f)
        return None


class RequestLog:
    def __init__(self, limit=20000):
        self.lock = threading.Lock()
        self.items = collections.deque(maxlen=limit)

    def add(self, entry):
        with self.lock:
            self.items.append(entry)

    def list(self):
        with self.lock:
            return list(self.items)

    def clear(self):
        with self.lock:
            n = len(self.items)
            self.items.clear()
            return n
