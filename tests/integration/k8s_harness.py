"""Starts the project's Kubernetes API test server (tests/k8s-api-server) for integration
tests, with a token table for the gateway (its service account) and for senders, and gives
small helpers over its API and its /_test/ endpoints. Stopped by PID."""
import json
import os
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from harness import ROOT

SERVER = os.path.join(ROOT, "tests", "k8s-api-server", "server.py")
RR = "/apis/remediation.kubernaut.io/v1alpha1"

TOKENS = {"tokens": {
    "gateway-sa-token": {"username": "system:serviceaccount:kubernaut-system:gateway", "uid": "sa-1",
                         "groups": ["system:serviceaccounts"], "admin": True},
    "gateway-sa-token-rotated": {"username": "system:serviceaccount:kubernaut-system:gateway-rotated", "uid": "sa-2",
                                 "groups": ["system:serviceaccounts"], "admin": True},
    "am-token": {"username": "system:serviceaccount:monitoring:alertmanager", "uid": "am-1",
                 "groups": ["system:serviceaccounts"],
                 "rules": [{"verbs": ["create"], "apiGroups": ["remediation.kubernaut.io"],
                            "resources": ["remediationrequests"]}]},
    "viewer-token": {"username": "viewer", "uid": "v-1", "groups": [],
                     "rules": [{"verbs": ["get", "list"], "apiGroups": ["remediation.kubernaut.io"],
                                "resources": ["remediationrequests"]}]},
}}


class ApiServer:
    def __init__(self, extra_args=()):
        self.dir = tempfile.mkdtemp(prefix="sgw-k8s-")
        tok = os.path.join(self.dir, "tokens.json")
        with open(tok, "w") as f:
            json.dump(TOKENS, f)
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        ready = os.path.join(self.dir, "url")
        self.log = open(os.path.join(self.dir, "server.log"), "ab")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", SERVER, "--listen", "127.0.0.1:0", "--tls-dir", os.path.join(self.dir, "tls"),
             "--tokens", tok, "--ready-file", ready, "--kubeconfig-out", self.kubeconfig] + list(extra_args),
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.time() > deadline:
                raise AssertionError("API test server did not start")
            time.sleep(0.05)
        with open(ready) as f:
            self.url = f.read().strip()
        self.ctx = ssl.create_default_context(cafile=os.path.join(self.dir, "tls", "ca.crt"))

    def call(self, method, path, body=None, token="gateway-sa-token", ctype="application/json"):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if token:
            req.add_header("Authorization", "Bearer " + token)
        if data is not None:
            req.add_header("Content-Type", ctype)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=10) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def namespace(self, name, labels=None):
        st, _ = self.call("POST", "/api/v1/namespaces",
                          {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}})
        assert st in (201, 409), st

    def configmap(self, ns, name, data):
        st, _ = self.call("POST", "/api/v1/namespaces/%s/configmaps" % ns,
                          {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})
        assert st == 201, st

    def rrs(self, ns=None):
        path = RR + ("/namespaces/%s/remediationrequests" % ns if ns else "/remediationrequests")
        st, body = self.call("GET", path)
        assert st == 200, (st, body)
        return body["items"]

    def rr(self, ns, name):
        return self.call("GET", RR + "/namespaces/%s/remediationrequests/%s" % (ns, name))

    def fault(self, **f):
        st, _ = self.call("POST", "/_test/faults", f, token=None)
        assert st == 201, st

    def clear_faults(self):
        self.call("DELETE", "/_test/faults", token=None)

    def requests(self):
        st, body = self.call("GET", "/_test/requests", token=None)
        return body["items"]

    def clear_requests(self):
        self.call("DELETE", "/_test/requests", token=None)

    def reset(self):
        self.call("POST", "/_test/reset", {}, token=None)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()
