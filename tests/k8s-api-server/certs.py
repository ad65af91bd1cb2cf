# TLS material and kubeconfig for the test API server: creates (once, then reuses) a CA
# and a server certificate for 127.0.0.1/localhost with the openssl CLI, and writes a
# kubeconfig that kubectl and client libraries accept as is.

import base64
import fcntl
import json
import os
import subprocess
import tempfile

FILES = ("ca.crt", "ca.key", "server.crt", "server.key")


def _openssl(args, cwd):
    r = subprocess.run(["openssl"] + args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (args[0], r.stderr.decode(errors="replace")))


def ensure_certs(tls_dir):
    """Returns the paths (ca.crt, server.crt, server.key), generating what is missing."""
    os.makedirs(tls_dir, exist_ok=True)
    with open(os.path.join(tls_dir, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)       # two servers sharing a directory
        p = lambda n: os.path.join(tls_dir, n)
        if not (os.path.exists(p("ca.crt")) and os.path.exists(p("ca.key"))):
            _openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                      "-out", "ca.key"], tls_dir)
            _openssl(["req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "3650",
                      "-subj", "/CN=k8s-api-test-server-ca",
                      "-addext", "basicConstraints=critical,CA:TRUE",
                      "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
                      "-out", "ca.crt"], tls_dir)
            for n in ("server.crt", "server.key"):
                if os.path.exists(p(n)):
                    os.unlink(p(n))
        if not (os.path.exists(p("server.crt")) and os.path.exists(p("server.key"))):
            with open(p("server.ext"), "w") as f:
                f.write("basicConstraints=CA:FALSE\n"
                        "keyUsage=critical,digitalSignature,keyEncipherment\n"
                        "extendedKeyUsage=serverAuth\n"
                        "subjectAltName=IP:127.0.0.1,DNS:localhost,IP:::1\n")
            _openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                      "-out", "server.key"], tls_dir)
            _openssl(["req", "-new", "-key", "server.key", "-subj", "/CN=127.0.0.1", "-out", "server.csr"],
                     tls_dir)
            _openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                      "-set_serial", "0x%x" % int.from_bytes(os.urandom(8), "big"), "-days", "3650",
                      "-sha256", "-extfile", "server.ext", "-out", "server.crt"], tls_dir)
            for n in ("server.csr", "server.ext"):
                os.unlink(p(n))
        for n in ("ca.key", "server.key"):
            os.chmod(p(n), 0o600)
        return p("ca.crt"), p("server.crt"), p("server.key")


def write_atomic(path, data, mode=0o644):
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def kubeconfig(url, token, ca_path=None, namespace="default"):
    """A kubeconfig document (JSON, which is valid YAML)."""
    cluster = {"server": url}
    if ca_path:
        with open(ca_path, "rb") as f:
            cluster["certificate-authority-data"] = base64.b64encode(f.read()).decode()
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "k8s-api-test-server", "cluster": cluster}],
        "users": [{"name": "k8s-api-test-admin", "user": {"token": token}}],
        "contexts": [{"name": "k8s-api-test-server",
                      "context": {"cluster": "k8s-api-test-server", "user": "k8s-api-test-admin",
                                  "namespace": namespace}}],
        "current-context": "k8s-api-test-server",
        "preferences": {},
    }
    return json.dumps(doc, indent=2) + "\n"
