"""TLS on the signal listener (server.tls_*): protocols offered and refused, ALPN, curl,
client certificates (mTLS) and their subjects as identities, the metrics listener over TLS,
hot reload of a rotated pair (symlink swap as a Kubernetes Secret volume does it, in-place
rewrite + SIGHUP, a bad pair refused), and a rotation under load on keep-alive connections.
Certificates are made at test start with the openssl command (tls_certs.py)."""
import http.client
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import unittest

from harness import BINARY, fixture, free_port, wait_until
from tls_certs import CA, OPENSSL, SecretDir, TLSGateway, temp_dir
from tls_certs import client_context as tls_client_context

PROM = "/api/v1/signals/prometheus"
CURL = "/usr/bin/curl"
ALLOWED = "CN=alertmanager,O=monitoring"          # as RFC 2253 prints /O=monitoring/CN=alertmanager
SERIAL_A, SERIAL_B, SERIAL_C, SERIAL_OTHER = 0x5A01, 0x5B02, 0x5C03, 0x5D04


class Certs:
    """One set for the module: a CA with three server pairs (A, B, C), two client
    certificates (one allowed by the tests' config, one not), and a second CA with a client
    certificate the gateway must refuse."""

    def __init__(self):
        self.dir = temp_dir()
        self.ca = CA(self.dir, "ca")
        self.a = self.ca.issue("srv-a", "/CN=localhost", SERIAL_A)
        self.b = self.ca.issue("srv-b", "/CN=localhost", SERIAL_B)
        self.c = self.ca.issue("srv-c", "/CN=localhost", SERIAL_C)
        self.client = self.ca.issue("client", "/O=monitoring/CN=alertmanager", 0x6001, server=False)
        self.stranger = self.ca.issue("stranger", "/O=elsewhere/CN=someone", 0x6002, server=False)
        other = CA(self.dir, "other-ca")
        self.foreign = other.issue("foreign", "/O=monitoring/CN=alertmanager", SERIAL_OTHER, server=False)


CERTS = None


def setUpModule():
    global CERTS
    CERTS = Certs()


def tearDownModule():
    if CERTS:
        shutil.rmtree(CERTS.dir, ignore_errors=True)


def client_context(cert=None):
    return tls_client_context(CERTS.ca.cert, cert)


def hexs(n):
    return "%04X" % n


def s_client(port, *args, cert=None):
    """openssl s_client against the gateway: (exit code, output)."""
    cmd = [OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", "localhost",
           "-CAfile", CERTS.ca.cert] + list(args)
    if cert:
        cmd += ["-cert", cert[0], "-key", cert[1]]
    p = subprocess.run(cmd, input=b"", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def curl(port, *args, cert=None, body=None):
    """curl over HTTPS: (curl exit code, HTTP status or 0, stderr)."""
    cmd = [CURL, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", CERTS.ca.cert,
           "https://localhost:%d%s" % (port, PROM), "-H", "Content-Type: application/json",
           "--data-binary", "@-"] + list(args)
    if cert:
        cmd += ["--cert", cert[0], "--key", cert[1]]
    p = subprocess.run(cmd, input=body or fixture("pod-crashloop-firing-2-alerts.json"), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=20)
    code = p.stdout.decode().strip()
    return p.returncode, int(code) if code.isdigit() else 0, p.stderr.decode("utf-8", "replace")


class TLSTestCase(unittest.TestCase):
    def secret(self, pair=None):
        d = temp_dir()
        self.addCleanup(shutil.rmtree, d, True)
        s = SecretDir(d)
        s.use(*(pair or CERTS.a))
        return s

    def gw(self, secret, config="", **kw):
        if kw.get("client_ca") is True:
            kw["client_ca"] = CERTS.ca.cert
        g = TLSGateway(secret, CERTS.ca.cert, config, **kw)
        self.addCleanup(self.stopped_cleanly, g)
        return g

    def stopped_cleanly(self, g):
        """SIGTERM drains and exits 0: an ASan/LSan/UBSan report would make it non-zero."""
        self.assertEqual(g.stop(), 0, g.logs()[-6000:])


class ProtocolTests(TLSTestCase):
    def setUp(self):
        self.g = self.gw(self.secret())

    def test_tls_1_2_and_1_3_are_accepted(self):
        for flag, name in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
            rc, out = s_client(self.g.port, flag)
            self.assertEqual(rc, 0, out)
            self.assertRegex(out, r"New, %s, Cipher is" % re.escape(name), out)
            self.assertIn("Verify return code: 0 (ok)", out)
        rc, out = s_client(self.g.port, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256")
        self.assertEqual(rc, 0, out)
        self.assertIn("Cipher is ECDHE-ECDSA-AES128-GCM-SHA256", out)

    def test_tls_1_0_and_1_1_are_refused_by_the_server(self):
        # SECLEVEL=0: Debian's openssl offers the old protocols at all, so the refusal is ours
        for flag in ("-tls1", "-tls1_1"):
            rc, out = s_client(self.g.port, flag, "-cipher", "DEFAULT@SECLEVEL=0")
            self.assertNotEqual(rc, 0, out)
            self.assertIn("alert protocol version", out, out)   # the server's alert, received
        self.assertEqual(self.g.labelled("gateway_tls_handshake_errors_total", 'reason="protocol_version"'), 2)

    def test_weak_tls_1_2_ciphers_are_refused(self):
        rc, out = s_client(self.g.port, "-tls1_2", "-cipher", "AES128-SHA:DEFAULT@SECLEVEL=0:!ECDHE")
        self.assertNotEqual(rc, 0, out)
        self.assertEqual(self.g.labelled("gateway_tls_handshake_errors_total", 'reason="no_shared_cipher"'), 1)

    def test_alpn_selects_http_1_1_and_refuses_h2_alone(self):
        rc, out = s_client(self.g.port, "-alpn", "h2,http/1.1")
        self.assertEqual(rc, 0, out)
        self.assertIn("ALPN protocol: http/1.1", out)
        rc, out = s_client(self.g.port, "-alpn", "h2")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("no application protocol", out)
        self.assertEqual(self.g.labelled("gateway_tls_handshake_errors_total", 'reason="no_application_protocol"'), 1)

    def test_curl_posts_alerts_over_tls(self):
        rc, code, err = curl(self.g.port)
        self.assertEqual((rc, code), (0, 201), err)
        rc, code, err = curl(self.g.port, "--http2")   # offers h2 and http/1.1: gets http/1.1
        self.assertEqual((rc, code), (0, 202), err)
        self.assertEqual(len(self.g.rr_files()), 2)

    def test_plain_http_on_the_tls_port_is_closed_and_counted(self):
        with socket.create_connection(("127.0.0.1", self.g.port), timeout=10) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            data = s.recv(4096)
        self.assertFalse(data.startswith(b"HTTP/"), data)
        self.assertEqual(self.g.labelled("gateway_tls_handshake_errors_total", 'reason="not_tls"'), 1)
        self.assertEqual(self.g.get("/healthz").status, 200)   # the server goes on

    def test_a_handshake_that_stalls_is_closed_at_the_header_timeout(self):
        g = self.gw(self.secret(), env={"SGW_SERVER_HEADER_TIMEOUT": "300ms"})
        with socket.create_connection(("127.0.0.1", g.port), timeout=10) as s:
            s.sendall(b"\x16\x03\x01")   # the start of a ClientHello, never finished
            self.assertEqual(s.recv(4096), b"")   # closed by the gateway, not by the 10 s timeout

    def test_expiry_gauge_is_the_certificates_not_after(self):
        out = subprocess.run([OPENSSL, "x509", "-in", CERTS.a[0], "-noout", "-enddate", "-dateopt", "iso_8601"],
                             stdout=subprocess.PIPE, timeout=10).stdout.decode()
        import calendar
        import time as _t
        when = calendar.timegm(_t.strptime(out.strip().split("=", 1)[1], "%Y-%m-%d %H:%M:%SZ"))
        self.assertEqual(self.g.metric("gateway_tls_certificate_expiry_timestamp_seconds"), when)


class HttpOverTLSTests(TLSTestCase):
    """The server's own paths through the TLS seam: an interim 100 Continue, pipelining,
    an error answer then the lingering close, the header timeout, a request cut into
    records of one byte."""

    def setUp(self):
        self.g = self.gw(self.secret(), env={"SGW_SERVER_HEADER_TIMEOUT": "500ms"})

    def tls(self):
        s = client_context().wrap_socket(socket.create_connection(("127.0.0.1", self.g.port), timeout=10),
                                         server_hostname="localhost", suppress_ragged_eofs=False)
        self.addCleanup(s.close)
        return s

    def read_until_closed(self, s):
        out = b""
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    return out
                out += d
        except (ssl.SSLError, ConnectionResetError):   # a close without close_notify is a failure
            raise AssertionError("not closed with close_notify after %r" % out[-200:])

    def test_expect_100_continue_is_answered_before_the_body(self):
        s = self.tls()
        body = fixture("pod-crashloop-firing-2-alerts.json")
        s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
                  b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (PROM.encode(), len(body)))
        self.assertEqual(s.recv(4096), b"HTTP/1.1 100 Continue\r\n\r\n")
        s.sendall(body)
        out = self.read_until_closed(s)
        self.assertTrue(out.startswith(b"HTTP/1.1 201 "), out[:200])

    def test_pipelined_requests_in_one_record_are_answered_in_order(self):
        s = self.tls()
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        out = self.read_until_closed(s)
        self.assertEqual(re.findall(rb"HTTP/1.1 (\d+) ", out), [b"200", b"404", b"200"], out)

    def test_a_request_in_one_byte_records_is_read_whole(self):
        s = self.tls()
        req = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        for i in range(len(req)):
            s.sendall(req[i:i + 1])   # one TLS record each
        out = self.read_until_closed(s)
        self.assertTrue(out.startswith(b"HTTP/1.1 200 "), out[:200])

    def test_a_413_is_read_then_the_connection_closes_cleanly(self):
        s = self.tls()
        s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 5000000\r\n\r\n" % PROM.encode())
        out = self.read_until_closed(s)
        self.assertTrue(out.startswith(b"HTTP/1.1 413 "), out[:200])
        self.assertIn(b"Connection: close", out)

    def test_headers_not_finished_in_time_get_a_408(self):
        s = self.tls()
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        out = self.read_until_closed(s)
        self.assertTrue(out.startswith(b"HTTP/1.1 408 "), out[:200])


class ClientCertificateTests(TLSTestCase):
    CONFIG = ("auth:\n  mode: static\n  static_file: %s\n  client_cert_subjects:\n    - \"" + ALLOWED + "\"\n")

    def setUp(self):
        d = temp_dir()
        self.addCleanup(shutil.rmtree, d, True)
        tokens = os.path.join(d, "tokens")
        with open(tokens, "w") as f:
            f.write("am-token\n")
        os.chmod(tokens, 0o600)
        self.g = self.gw(self.secret(), self.CONFIG % tokens, client_ca=True, client_cert=CERTS.client)

    def test_no_client_certificate_is_refused(self):
        rc, code, err = curl(self.g.port)
        self.assertNotEqual(rc, 0, err)
        self.assertEqual(code, 0)
        self.assertIn("certificate required", err)
        self.assertEqual(self.g.labelled("gateway_tls_handshake_errors_total", 'reason="no_client_certificate"'), 1)

    def test_a_certificate_of_another_ca_is_refused(self):
        rc, code, err = curl(self.g.port, cert=CERTS.foreign)
        self.assertNotEqual(rc, 0, err)
        self.assertEqual(code, 0)
        rc, out = s_client(self.g.port, "-tls1_2", cert=CERTS.foreign)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("unknown ca", out)
        self.assertGreaterEqual(
            self.g.labelled("gateway_tls_handshake_errors_total", 'reason="bad_client_certificate"'), 2)

    def test_an_allowed_subject_needs_no_bearer_token(self):
        rc, code, err = curl(self.g.port, cert=CERTS.client)
        self.assertEqual((rc, code), (0, 201), err)
        self.assertEqual(self.g.labelled("gateway_auth_total", 'result="allowed"'), 1)

    def test_a_subject_not_listed_is_forbidden_and_a_token_still_works(self):
        rc, code, err = curl(self.g.port, cert=CERTS.stranger)
        self.assertEqual((rc, code), (0, 403), err)
        rc, code, err = curl(self.g.port, "-H", "Authorization: Bearer wrong", cert=CERTS.stranger)
        self.assertEqual((rc, code), (0, 401), err)   # a token is judged as a token
        rc, code, err = curl(self.g.port, "-H", "Authorization: Bearer am-token", cert=CERTS.stranger)
        self.assertEqual((rc, code), (0, 201), err)
        self.assertEqual(self.g.labelled("gateway_auth_total", 'result="forbidden"'), 1)
        self.assertEqual(self.g.labelled("gateway_auth_total", 'result="unauthenticated"'), 1)

    def test_the_metrics_listener_serves_tls_without_client_certificates(self):
        mport = free_port()
        g = self.gw(self.secret(), "server:\n  metrics_tls: true\n", client_ca=True, client_cert=CERTS.client,
                    args=["--metrics-listen", "127.0.0.1:%d" % mport])
        c = http.client.HTTPSConnection("localhost", mport, timeout=10, context=client_context())
        c.request("GET", "/metrics")
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertIn(b"gateway_tls_certificate_expiry_timestamp_seconds", r.read())
        c.close()
        with socket.create_connection(("127.0.0.1", mport), timeout=10) as s:   # no plain HTTP there
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertFalse(s.recv(4096).startswith(b"HTTP/"))
        rc, code, err = curl(g.port)   # the signal listener still requires one
        self.assertNotEqual(rc, 0, err)


class ReloadTests(TLSTestCase):
    FAST = "server:\n  tls_reload_interval: 200ms\n"

    def reloads(self, g, result):
        return g.labelled("gateway_tls_reloads_total", 'result="%s"' % result)

    def test_a_swapped_pair_is_served_to_new_connections_within_seconds(self):
        s = self.secret()
        g = self.gw(s, self.FAST)
        self.assertEqual(g.serial(), hexs(SERIAL_A))
        s.use(*CERTS.b)
        wait_until(lambda: g.serial() == hexs(SERIAL_B), 10, "the new certificate on new connections",
                   show=g.serial)
        self.assertEqual(self.reloads(g, "ok"), 1)
        self.assertIn("TLS certificate reloaded", g.logs())

    def test_a_bad_pair_is_refused_and_the_old_one_kept(self):
        s = self.secret()
        g = self.gw(s, self.FAST)
        s.use(CERTS.b[0], CERTS.a[1])   # B's certificate with A's key
        wait_until(lambda: self.reloads(g, "error") == 1, 10, "the bad pair refused")
        self.assertEqual(g.serial(), hexs(SERIAL_A))
        self.assertEqual(g.alert(fixture("pod-crashloop-firing-2-alerts.json")).status, 201)
        self.assertRegex(g.logs(), r"TLS certificate reload failed; keeping the current one.*does not match")
        self.assertEqual(self.reloads(g, "ok"), 0)
        s.use(*CERTS.c)   # then a good one is taken
        wait_until(lambda: g.serial() == hexs(SERIAL_C), 10, "the next good pair", show=g.serial)
        self.assertEqual(self.reloads(g, "error"), 1)   # the bad files were tried once

    def test_an_open_keep_alive_connection_survives_a_reload(self):
        s = self.secret()
        g = self.gw(s, self.FAST)
        c = g.conn()
        self.addCleanup(c.close)
        self.assertEqual(g.request("GET", "/healthz", conn=c).status, 200)
        sock = c.sock
        s.use(*CERTS.b)
        wait_until(lambda: g.serial() == hexs(SERIAL_B), 10, "the new certificate", show=g.serial)
        r = g.post(PROM, fixture("pod-crashloop-firing-2-alerts.json"), conn=c)
        self.assertEqual(r.status, 201)
        self.assertIs(c.sock, sock)   # the same connection, still on its first certificate
        self.assertEqual(c.sock.getpeercert()["serialNumber"], hexs(SERIAL_A))

    def test_sighup_reloads_a_pair_rewritten_in_place(self):
        d = temp_dir()
        self.addCleanup(shutil.rmtree, d, True)
        cert, key = os.path.join(d, "tls.crt"), os.path.join(d, "tls.key")
        shutil.copy(CERTS.a[0], cert)
        shutil.copy(CERTS.a[1], key)

        class Plain:   # plain files, no symlinks
            pass
        p = Plain()
        p.cert, p.key = cert, key
        g = self.gw(p, "server:\n  tls_reload_interval: 0\n")
        shutil.copy(CERTS.b[0], cert)
        shutil.copy(CERTS.b[1], key)
        self.assertEqual(g.serial(), hexs(SERIAL_A))   # no timer: nothing looks until SIGHUP
        g.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: g.serial() == hexs(SERIAL_B), 10, "the pair reloaded at SIGHUP", show=g.serial)

    def test_rotation_under_load_fails_no_request(self):
        """1,000+ requests on four keep-alive connections while the pair is swapped twice:
        every request answered 201/202 on the connection it started on; new connections get
        each new certificate in turn."""
        s = self.secret()
        g = self.gw(s, self.FAST)
        body = fixture("pod-crashloop-firing-2-alerts.json")
        lock = threading.Lock()
        done = [0]
        failures = []
        stop = threading.Event()

        def client():
            c = g.conn()
            try:
                c.connect()
                sock = c.sock
                while not stop.is_set():
                    try:
                        r = g.post(PROM, body, conn=c)
                        ok = r.status in (201, 202) and c.sock is sock
                        if not ok:
                            failures.append((r.status, c.sock is sock))
                    except Exception as e:  # noqa: BLE001 - any error is a failed request
                        failures.append(repr(e))
                        return
                    with lock:
                        done[0] += 1
            finally:
                c.close()

        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            for n, pair, serial in ((250, CERTS.b, SERIAL_B), (500, CERTS.c, SERIAL_C)):
                wait_until(lambda: done[0] >= n or failures, 60, "%d requests" % n)
                s.use(*pair)
                wait_until(lambda: g.serial() == hexs(serial), 10, "serial %x on new connections" % serial,
                           show=g.serial)
            wait_until(lambda: done[0] >= 1000 or failures, 60, "1,000 requests")
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        self.assertEqual(failures, [])
        self.assertGreaterEqual(done[0], 1000)
        self.assertEqual(self.reloads(g, "ok"), 2)
        self.assertEqual(self.reloads(g, "error"), 0)


class CheckConfigTests(unittest.TestCase):
    def check(self, *args, config=""):
        d = temp_dir()
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "c.yaml")
        with open(path, "w") as f:
            f.write(config)
        p = subprocess.run([BINARY, "--check-config", "--config", path] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30, env=dict(os.environ, ASAN_OPTIONS="detect_leaks=1"))
        return p.returncode, p.stdout.decode() + p.stderr.decode()

    def test_the_bad_key_is_named(self):
        d = temp_dir()
        self.addCleanup(shutil.rmtree, d, True)
        tokens = os.path.join(d, "tokens")
        with open(tokens, "w") as f:
            f.write("t\n")
        os.chmod(tokens, 0o600)
        rc, out = self.check("--tls-cert", CERTS.a[0])
        self.assertEqual(rc, 2, out)
        self.assertIn("server.tls_cert_file is set without server.tls_key_file", out)
        rc, out = self.check("--tls-cert", CERTS.a[0], "--tls-key", CERTS.b[1])
        self.assertEqual(rc, 2, out)
        self.assertRegex(out, r"server\.tls_key_file \S+ does not match the certificate of server\.tls_cert_file")
        rc, out = self.check("--tls-cert", "/nonexistent/tls.crt", "--tls-key", CERTS.a[1])
        self.assertEqual(rc, 2, out)
        self.assertIn("server.tls_cert_file /nonexistent/tls.crt: No such file or directory", out)
        rc, out = self.check("--tls-cert", CERTS.a[0], "--tls-key", CERTS.a[1], "--tls-client-ca", CERTS.a[1])
        self.assertEqual(rc, 2, out)
        self.assertIn("server.tls_client_ca_file", out)
        rc, out = self.check(config="auth:\n  mode: static\n  static_file: /x\n  client_cert_subjects: [\"CN=a\"]\n")
        self.assertEqual(rc, 2, out)
        self.assertIn("auth.client_cert_subjects needs server.tls_client_ca_file", out)
        rc, out = self.check("--tls-cert", CERTS.a[0], "--tls-key", CERTS.a[1], "--tls-client-ca", CERTS.ca.cert,
                             config="auth:\n  client_cert_subjects:\n    - \"" + ALLOWED + "\"\n"
                                    "  mode: static\n  static_file: " + tokens + "\nserver:\n  tls_reload_interval: 2s\n")
        self.assertEqual(rc, 0, out)
        self.assertIn('auth.client_cert_subjects[0]: "%s"' % ALLOWED, out)
        self.assertIn("server.tls_reload_interval: 2000ms", out)


if __name__ == "__main__":
    unittest.main()
