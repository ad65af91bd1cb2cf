#!/usr/bin/python3
# Kubernetes API test server for signal-gateway's tests: a small, threaded, keep-alive
# HTTP/1.1 (HTTPS by default) server that behaves like kube-apiserver for the resources the
# gateway uses (RemediationRequests, namespaces, configmaps, TokenReview,
# SubjectAccessReview, CRDs), with test-only fault injection and a request log under /_test/.
# Python standard library only; run it with /usr/bin/python3. See README.md.

import argparse
import json
import os
import select
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import apierrors as E          # noqa: E402
import api as apimod           # noqa: E402
import certs                   # noqa: E402
import watch as watches        # noqa: E402
from auth import TokenTable    # noqa: E402
from faults import Faults, FaultError, RequestLog   # noqa: E402


class App:
    """Everything the request handlers share."""

    def __init__(self, tokens, log_file=None, bookmark_interval=1.0, disabled_groups=()):
        self.faults = Faults()
        self.requests = RequestLog()
        self.api = apimod.API(tokens, self.faults, bookmark_interval, disabled_groups)
        self.log_lock = threading.Lock()
        self.log_fp = None
        if log_file == "-":
            self.log_fp = sys.stderr
        elif log_file:
            self.log_fp = open(log_file, "a", buffering=1)

    def log(self, msg):
        if self.log_fp is None:
            return
        line = "%s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()), msg)
        with self.log_lock:
            try:
                self.log_fp.write(line)
                self.log_fp.flush()
            except (OSError, ValueError):
                pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "k8s-api-test-server"
    sys_version = ""
    timeout = 120                      # idle keep-alive connections are closed after this

    def setup(self):
        self.request.settimeout(self.timeout)
        try:
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()          # in this connection's thread, not the acceptor's
        super().setup()

    def version_string(self):
        return self.server_version

    @property
    def app(self):
        return self.server.app

    def log_request(self, code="-", size="-"):
        pass                                 # dispatch() logs each request itself

    def log_message(self, fmt, *args):
        self.app.log("http: " + (fmt % args))

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    # ---------------------------------------------------------------- I/O
    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def record(self, code):
        """Adds the request being answered to /_test/requests, before its answer leaves: a
        client that got the answer always finds the request in the log."""
        entry, self.pending_entry = getattr(self, "pending_entry", None), None
        if entry is not None:
            entry["status"] = code
            entry["durationMs"] = round((time.time() - entry["ts"]) * 1000, 3)
            self.app.requests.add(entry)

    def send(self, code, body, content_type="application/json", headers=None):
        self.record(code)
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        for k, v in (headers or {}).items():
            for item in (v if isinstance(v, list) else [v]):
                self.send_header(k, item)
        if self.close_connection:
            self.send_header("Connection", "close")
        # headers and body in one write (no Nagle/delayed-ACK stall on keep-alive)
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD":
            self._headers_buffer.append(body)
        self.flush_headers()

    def send_json(self, code, obj, headers=None):
        self.send(code, json.dumps(obj, separators=(",", ":")).encode(), headers=headers)

    def client_alive(self):
        try:
            r, _, _ = select.select([self.connection], [], [], 0)
            if not r:
                return True
            if isinstance(self.connection, ssl.SSLSocket) and self.connection.pending():
                return True
            return self.connection.recv(1, socket.MSG_PEEK) != b""
        except (OSError, ValueError):
            return False

    def send_stream(self, resp):
        self.record(resp.code)
        self.send_response(resp.code)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.end_headers()
        try:
            for ev in resp.stream(self.client_alive):
                if ev is watches.DROP:             # /_test/watch/drop: a lost connection
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                data = json.dumps(ev, separators=(",", ":")).encode() + b"\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.write(b"0\r\n\r\n")
        except (OSError, ValueError):
            self.close_connection = True

    # ---------------------------------------------------------------- dispatch
    def dispatch(self):
        t0 = time.time()
        url = urllib.parse.urlsplit(self.path)
        path, raw_query = urllib.parse.unquote(url.path or "/"), url.query
        try:
            body = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        if path.startswith("/_test/") or path == "/_test":
            return self.test_endpoint(path, body)

        entry = {"ts": round(t0, 6), "method": self.command, "path": path, "query": raw_query,
                 "status": None, "user": None, "userAgent": self.headers.get("User-Agent"),
                 "contentType": self.headers.get("Content-Type"), "traceparent": self.headers.get("traceparent"),
                 "fault": None}
        entry.update(apimod.request_log_fields(self.command, path, raw_query))
        fault = self.app.faults.take(self.command, path, conflict=False)
        code = 0
        self.pending_entry = entry     # recorded by send()/send_stream(), or below if unanswered
        try:
            if fault:
                entry["fault"] = fault["action"]
                if fault["action"] == "latency":
                    time.sleep(fault["latency_ms"] / 1000.0)
                elif fault["action"] == "drop":
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                else:
                    err = E.generic(fault["status"], fault.get("retry_after"))
                    code = err.code
                    self.send_json(err.code, err.status(), err.headers)
                    return
            req = apimod.Request(self.command, path, raw_query, self.headers, body)
            try:
                user = self.app.api.authenticate(req)
                entry["user"] = user.username if user else None
                resp = self.app.api.handle(req)
            except E.APIError as e:
                code = e.code
                self.send_json(e.code, e.status(), e.headers)
                return
            except Exception as e:         # a bug in the test server: answer like the real one would
                self.app.log("internal error: %s" % traceback.format_exc())
                err = E.internal_error("%s: %s" % (type(e).__name__, e))
                code = err.code
                self.send_json(err.code, err.status())
                return
            code = resp.code
            if resp.stream is not None:
                self.send_stream(resp)
            else:
                self.send(resp.code, resp.body(), resp.content_type, resp.headers)
        finally:
            self.record(code)          # no answer sent (a dropped connection): status 0
            self.app.log("%s %s%s -> %s user=%s fault=%s" % (
                self.command, path, "?" + raw_query if raw_query else "", code,
                entry["user"] if entry else "-", entry["fault"] if entry else "-"))

    def test_endpoint(self, path, body):
        app = self.app
        try:
            data = json.loads(body.decode() or "null") if body.strip() else None
        except ValueError as e:
            return self.send_json(400, {"error": "invalid JSON: %s" % e})
        m = self.command
        if path == "/_test/faults":
            if m == "POST":
                specs = data if isinstance(data, list) else [data]
                try:
                    added = [app.faults.add(s) for s in specs]
                except FaultError as e:
                    return self.send_json(400, {"error": str(e)})
                return self.send_json(201, added[0] if not isinstance(data, list) else {"items": added})
            if m == "GET":
                return self.send_json(200, {"items": app.faults.list()})
            if m == "DELETE":
                return self.send_json(200, {"cleared": app.faults.clear()})
        elif path == "/_test/requests":
            if m == "GET":
                return self.send_json(200, {"items": app.requests.list()})
            if m == "DELETE":
                return self.send_json(200, {"cleared": app.requests.clear()})
        elif path == "/_test/watch" or path.startswith("/_test/watch/"):
            return self.test_watch_endpoint(path, m, data)
        elif path == "/_test/reset":
            if m == "POST":
                keep = not (isinstance(data, dict) and data.get("defaultNamespaces") is False)
                app.api.reset(default_namespaces=keep)
                app.faults.clear()
                app.requests.clear()
                return self.send_json(200, {"reset": True})
        else:
            return self.send_json(404, {"error": "unknown test endpoint %s" % path})
        return self.send_json(405, {"error": "method %s not allowed on %s" % (m, path)})


    def test_watch_endpoint(self, path, m, data):
        """/_test/watch: the open watches; .../expire, .../drop, .../hang: watch faults."""
        hub = self.app.api.watches
        if path == "/_test/watch" and m == "GET":
            return self.send_json(200, {"items": hub.describe(), "bookmarkIntervalSeconds": hub.bookmark_interval})
        if m != "POST":
            return self.send_json(405, {"error": "method %s not allowed on %s" % (m, path)})
        if path == "/_test/watch/expire":
            n, rv = hub.expire_all()
            return self.send_json(200, {"expired": n, "resourceVersion": str(rv)})
        if path == "/_test/watch/drop":
            return self.send_json(200, {"dropped": hub.drop_all()})
        if path == "/_test/watch/hang":
            secs = data.get("seconds") if isinstance(data, dict) else None
            if not isinstance(secs, (int, float)) or isinstance(secs, bool) or not 0 < secs <= 600:
                return self.send_json(400, {"error": "body must be {\"seconds\": N} with 0 < N <= 600"})
            return self.send_json(200, {"hung": hub.hang_all(secs), "seconds": secs})
        return self.send_json(404, {"error": "unknown test endpoint %s" % path})


class Server(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, addr, app, ssl_context):
        self.app = app
        self.ssl_context = ssl_context
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        super().__init__(addr, Handler)

    def server_bind(self):
        # HTTPServer.server_bind would resolve the host name (getfqdn): not needed here
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.ssl_context is not None:
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ssl.SSLError, ConnectionError, TimeoutError, socket.timeout, OSError)):
            self.app.log("connection %s: %s" % (client_address, exc))
            return
        self.app.log("error on connection %s: %s" % (client_address, traceback.format_exc()))


def parse_listen(s):
    host, _, port = s.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError("--listen wants HOST:PORT, e.g. 127.0.0.1:0")
    return host.strip("[]"), int(port)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Kubernetes API test server (see README.md)")
    ap.add_argument("--listen", type=parse_listen, default=("127.0.0.1", 0),
                    help="HOST:PORT to listen on; port 0 picks a free port (default 127.0.0.1:0)")
    ap.add_argument("--plain", action="store_true", help="serve plain HTTP instead of HTTPS")
    ap.add_argument("--tls-dir", help="directory for ca.crt/ca.key/server.crt/server.key "
                                      "(created once, then reused); default: a new temporary directory")
    ap.add_argument("--tokens", help='JSON file {"tokens": {TOKEN: {username, uid, groups, admin, rules}}}; '
                                     'default: one admin token "admin-token"')
    ap.add_argument("--ready-file", help="write the base URL here (atomically) once listening")
    ap.add_argument("--kubeconfig-out", help="write a kubeconfig for the admin token here")
    ap.add_argument("--log-file", help="append a line per request here ('-' for stderr)")
    ap.add_argument("--watch-bookmark-interval", type=float, default=1.0, metavar="SECONDS",
                    help="BOOKMARK events every SECONDS on watches that allow them (default 1; the real "
                         "server: about 60); 0: none")
    ap.add_argument("--disable-group", action="append", default=[], metavar="GROUP",
                    help="do not serve this built-in API group (remediation.kubernaut.io or kubernaut.ai), "
                         "as on a cluster without its CRD; repeatable")
    args = ap.parse_args(argv)
    if args.watch_bookmark_interval < 0:
        ap.error("--watch-bookmark-interval must not be negative")

    try:
        tokens = TokenTable.load(args.tokens)
    except (OSError, ValueError) as e:
        print("k8s-api-server: --tokens: %s" % e, file=sys.stderr)
        return 2

    ctx = None
    ca_path = None
    temp_tls_dir = None
    if not args.plain:
        tls_dir = args.tls_dir
        if not tls_dir:
            import tempfile
            tls_dir = temp_tls_dir = tempfile.mkdtemp(prefix="k8s-api-server-tls-")
        try:
            ca_path, crt, key = certs.ensure_certs(tls_dir)
        except (OSError, RuntimeError, subprocess_error()) as e:
            print("k8s-api-server: TLS setup failed: %s" % e, file=sys.stderr)
            return 2
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(crt, key)
        ctx.set_alpn_protocols(["http/1.1"])

    app = App(tokens, args.log_file, args.watch_bookmark_interval, args.disable_group)
    try:
        srv = Server(args.listen, app, ctx)
    except OSError as e:
        print("k8s-api-server: cannot listen on %s:%d: %s" % (args.listen[0], args.listen[1], e), file=sys.stderr)
        return 2
    host, port = srv.server_address[:2]
    shown = "[%s]" % host if ":" in host else host
    url = "%s://%s:%d" % ("http" if args.plain else "https", shown, port)

    if args.kubeconfig_out:
        certs.write_atomic(args.kubeconfig_out, certs.kubeconfig(url, tokens.admin_token(), ca_path), 0o600)
    stop = threading.Event()
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda *_: stop.set())
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    t.start()
    if args.ready_file:
        certs.write_atomic(args.ready_file, url + "\n")
    print(url, flush=True)
    app.log("listening on %s" % url)
    while not stop.wait(1.0):
        pass
    app.log("shutting down")
    app.api.store.stop()
    srv.shutdown()
    srv.server_close()
    if temp_tls_dir:
        import shutil
        shutil.rmtree(temp_tls_dir, ignore_errors=True)
    return 0


def subprocess_error():
    import subprocess
    return subprocess.SubprocessError


if __name__ == "__main__":
    sys.exit(main())
