"""HTTP contract: every 4xx with its JSON body, limits, keep-alive and pipelining."""
import json
import re
import socket
import unittest

from harness import Gateway, fixture, pod_alert, webhook

PROM = "/api/v1/signals/prometheus"


class HttpTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.g = Gateway("server:\n  max_body_bytes: 64KiB\n  max_header_bytes: 4KiB\n")

    @classmethod
    def tearDownClass(cls):
        rc = cls.g.stop()
        assert rc == 0, "gateway exit %s:\n%s" % (rc, cls.g.logs())

    def assertError(self, r, status, code):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.headers["content-type"], "application/json")
        self.assertEqual(r.json["error"]["code"], code, r)
        self.assertTrue(r.json["error"]["message"])

    def test_unknown_path_is_404_json(self):
        self.assertError(self.g.get("/nope"), 404, "not_found")

    def test_wrong_method_is_405_with_allow(self):
        r = self.g.get(PROM)
        self.assertError(r, 405, "method_not_allowed")
        self.assertEqual(r.headers["allow"], "POST")
        r = self.g.post("/healthz", b"{}")
        self.assertError(r, 405, "method_not_allowed")
        self.assertEqual(r.headers["allow"], "GET")

    def test_wrong_content_type_is_415(self):
        self.assertError(self.g.post(PROM, b"{}", content_type="text/plain"), 415, "unsupported_media_type")
        self.assertError(self.g.post(PROM, b"{}", content_type=None), 415, "unsupported_media_type")

    def test_charset_parameter_is_accepted(self):
        r = self.g.post(PROM, fixture("deployment-memory-firing.json"), content_type="application/json; charset=utf-8")
        self.assertIn(r.status, (201, 202), r)

    def test_body_over_the_limit_is_413_and_not_read(self):
        big = b"{" + b" " * (70 * 1024) + b"}"
        self.assertError(self.g.post(PROM, big), 413, "payload_too_large")

    def test_chunked_body_over_the_limit_is_413(self):
        s = socket.create_connection(("127.0.0.1", self.g.port), timeout=10)
        s.sendall(b"POST /api/v1/signals/prometheus HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"a" * 16384
        try:
            for _ in range(6):
                s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        except OSError:
            pass
        data = s.recv(4096)
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:100])

    def test_oversized_headers_are_431(self):
        r = self.g.post(PROM, b"{}", headers={"X-Big": "a" * 8000})
        self.assertError(r, 431, "headers_too_large")

    def test_malformed_json_is_400(self):
        self.assertError(self.g.post(PROM, b'{"alerts": ['), 400, "invalid_json")

    def test_invalid_utf8_is_400(self):
        body = b'{"version":"4","alerts":[{"labels":{"alertname":"X\xff"}}]}'
        self.assertError(self.g.post(PROM, body), 400, "invalid_utf8")

    def test_missing_and_empty_alerts_are_400(self):
        self.assertError(self.g.post(PROM, {"version": "4"}), 400, "missing_field")
        self.assertError(self.g.post(PROM, {"version": "4", "alerts": []}), 400, "no_alerts")

    def test_wrong_types_are_400(self):
        self.assertError(self.g.post(PROM, {"alerts": "x"}), 400, "invalid_field")
        self.assertError(self.g.post(PROM, {"alerts": [{"labels": {"alertname": 5}}]}), 400, "invalid_field")
        self.assertError(self.g.post(PROM, [1, 2]), 400, "invalid_field")

    def test_unknown_payload_version_is_400(self):
        body = dict(webhook([pod_alert("V", "p")]), version="3")
        self.assertError(self.g.post(PROM, body), 400, "unsupported_version")

    def test_missing_alertname_is_400(self):
        body = webhook([{"labels": {"namespace": "x", "pod": "y"}}])
        self.assertError(self.g.post(PROM, body), 400, "missing_field")

    def test_event_without_reason_is_400(self):
        ev = {"type": "Warning", "involvedObject": {"kind": "Pod", "name": "a"}}
        self.assertError(self.g.post("/api/v1/signals/kubernetes-event", ev), 400, "missing_field")

    def test_keep_alive_serves_many_requests_on_one_connection(self):
        c = self.g.conn()
        for _ in range(5):
            self.assertEqual(self.g.request("GET", "/healthz", conn=c).status, 200)
        c.close()

    def test_pipelined_requests_are_answered_in_order(self):
        s = socket.create_connection(("127.0.0.1", self.g.port), timeout=10)
        reqs = b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p for p in (b"/healthz", b"/nope", b"/readyz"))
        s.sendall(reqs)
        buf = b""
        while buf.count(b"HTTP/1.1 ") < 3:
            d = s.recv(65536)
            if not d:
                break
            buf += d
        s.close()
        codes = [int(c) for c in re.findall(rb"HTTP/1\.1 (\d{3}) ", buf)]
        self.assertEqual(codes, [200, 404, 200])

    def test_conflicting_content_length_and_chunked_is_rejected(self):
        s = socket.create_connection(("127.0.0.1", self.g.port), timeout=10)
        s.sendall(b"POST /api/v1/signals/prometheus HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        data = s.recv(4096)
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 400"), data[:80])

    def raw(self, data, chunks=None):
        s = socket.create_connection(("127.0.0.1", self.g.port), timeout=10)
        for part in (chunks or [data]):
            s.sendall(part)
        out = s.recv(4096)
        s.close()
        return out

    def test_obsolete_line_folding_is_rejected(self):
        out = self.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 400"), out[:80])

    def test_header_value_split_across_reads_is_not_folding(self):
        out = self.raw(None, [b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: on", b"e-two\r\n\r\n"])
        self.assertTrue(out.startswith(b"HTTP/1.1 200"), out[:80])

    def test_empty_transfer_encoding_is_rejected(self):
        out = self.raw(b"POST /api/v1/signals/prometheus HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Transfer-Encoding:\r\nContent-Length: 2\r\n\r\n{}")
        self.assertTrue(out.startswith(b"HTTP/1.1 400"), out[:80])

    def test_unbounded_chunk_extensions_are_rejected(self):
        out = self.raw(b"POST /api/v1/signals/prometheus HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Transfer-Encoding: chunked\r\n\r\n2;" + b"a" * 8000 + b"\r\n{}\r\n0\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 400"), out[:80])

    def test_413_is_readable_while_the_client_is_still_sending(self):
        s = socket.create_connection(("127.0.0.1", self.g.port), timeout=10)
        s.sendall(b"POST /api/v1/signals/prometheus HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 200000\r\n\r\n")
        sent = 0
        try:
            while sent < 200000:
                sent += s.send(b"x" * 16384)
        except OSError:
            pass
        data = s.recv(4096)
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:80])

    def test_readyz_reports_ready(self):
        r = self.g.get("/readyz")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["status"], "ready")


if __name__ == "__main__":
    unittest.main()
