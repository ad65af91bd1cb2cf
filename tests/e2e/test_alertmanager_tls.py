"""A real Alertmanager → the gateway over TLS (server.tls_*): the webhook's `tls_config` with
the CA, then with a client certificate for mTLS, and a bearer token (static auth). The
certificates are made at test start with the openssl command (tests/integration/tls_certs.py).
Dir sink and memory state: what is tested is the transport and who is let in."""
import os
import shutil
import time

from peers import AM_TOKEN, SIGNALS_PATH, E2ETestCase, brief, metric, parse_metrics, rfc3339, wait_until
from tls_certs import CA, SecretDir, TLSGateway, temp_dir

SUBJECT = "CN=alertmanager,O=monitoring"


def pod_alert(name, pod, starts):
    return {"labels": {"alertname": name, "namespace": "production", "pod": pod, "severity": "critical"},
            "annotations": {"summary": "%s on %s" % (name, pod)}, "startsAt": rfc3339(starts)}


class AlertmanagerOverTLSTests(E2ETestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = temp_dir()
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        cls.ca = CA(cls.dir, "ca")
        cls.server = cls.ca.issue("server", "/CN=localhost", 0x7001)
        cls.client = cls.ca.issue("alertmanager", "/O=monitoring/CN=alertmanager", 0x7002, server=False)
        cls.secret = SecretDir(os.path.join(cls.dir, "secret"))
        os.mkdir(cls.secret.dir)
        cls.secret.use(*cls.server)
        cls.tokens = os.path.join(cls.dir, "tokens")
        with open(cls.tokens, "w") as f:
            f.write(AM_TOKEN + "\n")
        os.chmod(cls.tokens, 0o600)

    def tls_gateway(self, mtls):
        config = "auth:\n  mode: static\n  static_file: %s\n" % self.tokens
        if mtls:
            config += "  client_cert_subjects:\n    - \"%s\"\n" % SUBJECT
        g = TLSGateway(self.secret, self.ca.cert, config, client_cert=self.client if mtls else None,
                       client_ca=self.ca.cert if mtls else None)
        self.addCleanup(self.stopped_cleanly, g)
        self.watch("gateway", g.log_path)
        return g

    def stopped_cleanly(self, g):
        self.assertEqual(g.stop(), 0, g.logs()[-6000:])

    def am_config(self, port, token=True, client_cert=True):
        http_config = {"tls_config": {"ca_file": self.ca.cert, "server_name": "localhost", "min_version": "TLS12"}}
        if client_cert:
            http_config["tls_config"].update(cert_file=self.client[0], key_file=self.client[1])
        if token:
            http_config["authorization"] = {"type": "Bearer", "credentials": AM_TOKEN}
        return {"route": {"receiver": "gateway", "group_by": ["alertname"], "group_wait": "1s",
                          "group_interval": "2s", "repeat_interval": "1h"},
                "receivers": [{"name": "gateway", "webhook_configs": [
                    {"url": "https://127.0.0.1:%d%s" % (port, SIGNALS_PATH), "send_resolved": True,
                     "max_alerts": 0, "http_config": http_config}]}]}

    def deliver(self, g, am_cfg, name):
        am = self.start_alertmanager(am_cfg)
        am.push([pod_alert(name, "web-%d" % i, time.time()) for i in range(3)])
        wait_until("3 RRs written", lambda: len(g.rr_files()) == 3, 20)
        m = wait_until("the request counted", lambda: (lambda m: metric(m, "gateway_http_requests_total",
                                                                        endpoint=SIGNALS_PATH) >= 1 and m)(
            parse_metrics(g.get("/metrics").body.decode())), 10)
        n = am.notifications()
        self.assertGreaterEqual(n["requests"], 1, n)
        self.assertEqual(n["requests_failed"], 0, n)
        self.assertEqual(metric(m, "gateway_http_requests_total", endpoint=SIGNALS_PATH, status="201"), 1, brief(m))
        self.assertEqual(metric(m, "gateway_auth_total", result="allowed"), 1, brief(m))
        self.assertEqual(metric(m, "gateway_tls_handshake_errors_total"), 0, brief(m))
        return m

    def test_ca_and_bearer_token(self):
        g = self.tls_gateway(mtls=False)
        self.deliver(g, self.am_config(g.port, client_cert=False), "E2ETLSToken")

    def test_client_certificate_and_bearer_token_on_mtls(self):
        g = self.tls_gateway(mtls=True)
        self.deliver(g, self.am_config(g.port), "E2EMTLSToken")

    def test_client_certificate_alone_is_an_identity(self):
        g = self.tls_gateway(mtls=True)
        self.deliver(g, self.am_config(g.port, token=False), "E2EMTLSSubject")

    def test_without_its_client_certificate_alertmanager_is_refused(self):
        g = self.tls_gateway(mtls=True)
        am = self.start_alertmanager(self.am_config(g.port, client_cert=False))
        am.push([pod_alert("E2EMTLSRefused", "web-0", time.time())])
        n = wait_until("a failed delivery attempt", lambda: (lambda n: n["requests_failed"] >= 1 and n)(
            am.notifications()), 20)
        self.assertEqual(n["requests_failed"], n["requests"], n)
        self.assertEqual(g.rr_files(), [])
        self.assertGreaterEqual(g.labelled("gateway_tls_handshake_errors_total", 'reason="no_client_certificate"'), 1)
