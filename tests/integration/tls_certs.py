"""Throwaway certificates for the TLS tests, made with the `openssl` command into a temp
directory at test start (no key is ever committed): CAs, server and client certificates with
known serials, and a directory laid out as Kubernetes mounts a Secret (the files are symlinks
through `..data`, which a rotation swaps atomically, as cert-manager's does)."""
import http.client
import os
import shutil
import ssl
import subprocess
import tempfile

from harness import Gateway

OPENSSL = os.environ.get("SGW_OPENSSL", "/usr/bin/openssl")


def _run(*args):
    r = subprocess.run([OPENSSL] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    if r.returncode != 0:
        raise AssertionError("openssl %s failed:\n%s" % (" ".join(args), r.stdout.decode("utf-8", "replace")))


def _key(path):
    _run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)


class CA:
    """A self-signed CA in dir: .cert (PEM) and .key, valid for days."""

    def __init__(self, dir, name, days=2):
        self.dir = dir
        self.key = os.path.join(dir, name + ".key")
        self.cert = os.path.join(dir, name + ".pem")
        _key(self.key)
        _run("req", "-x509", "-new", "-key", self.key, "-out", self.cert, "-days", str(days), "-subj", "/CN=" + name,
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def issue(self, name, subject, serial, server=True, days=2, extra=""):
        """A certificate signed by this CA, valid for days: (cert path, key path). serial: an
        int (the certificate's serialNumber, hex in Python's getpeercert()); extra: more
        x509v3 extension lines (openssl's -extfile syntax)."""
        key = os.path.join(self.dir, name + ".key")
        csr = os.path.join(self.dir, name + ".csr")
        cert = os.path.join(self.dir, name + ".pem")
        ext = os.path.join(self.dir, name + ".ext")
        with open(ext, "w") as f:
            if server:
                f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
            else:
                f.write("extendedKeyUsage=clientAuth\n")
            f.write(extra)
        _key(key)
        _run("req", "-new", "-key", key, "-out", csr, "-subj", subject)
        _run("x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key, "-set_serial", str(serial),
             "-days", str(days), "-out", cert, "-extfile", ext)
        return cert, key


class SecretDir:
    """tls.crt and tls.key as a Kubernetes Secret volume has them: symlinks to ..data/<file>,
    ..data a symlink to a timestamped directory. use(cert, key) installs a new pair and swaps
    ..data in one rename."""

    def __init__(self, dir):
        self.dir = dir
        self.n = 0
        self.cert = os.path.join(dir, "tls.crt")
        self.key = os.path.join(dir, "tls.key")

    def use(self, cert, key):
        self.n += 1
        version = "..v%d" % self.n
        os.mkdir(os.path.join(self.dir, version))
        shutil.copy(cert, os.path.join(self.dir, version, "tls.crt"))
        shutil.copy(key, os.path.join(self.dir, version, "tls.key"))
        tmp = os.path.join(self.dir, "..data_tmp")
        os.symlink(version, tmp)
        os.rename(tmp, os.path.join(self.dir, "..data"))
        for f in ("tls.crt", "tls.key"):
            if not os.path.islink(os.path.join(self.dir, f)):
                os.symlink(os.path.join("..data", f), os.path.join(self.dir, f))


def temp_dir():
    return tempfile.mkdtemp(prefix="sgw-tls-")


def client_context(ca_cert, cert=None):
    """An SSL context that trusts ca_cert and, with cert (cert path, key path), presents it."""
    ctx = ssl.create_default_context(cafile=ca_cert)
    if cert:
        ctx.load_cert_chain(*cert)
    return ctx


class TLSGateway(Gateway):
    """A gateway whose signal listener speaks TLS with the pair at secret.cert, secret.key
    (client certificates required when client_ca is a CA file); the harness's own requests
    (readiness, /metrics, posts) go over HTTPS trusting ca_cert, presenting client_cert."""

    def __init__(self, secret, ca_cert, config="", args=(), client_cert=None, client_ca=None, **kw):
        self.ca_cert = ca_cert
        self.client_cert = client_cert
        tls = ["--tls-cert", secret.cert, "--tls-key", secret.key]
        if client_ca:
            tls += ["--tls-client-ca", client_ca]
        super().__init__(config, args=tls + list(args), **kw)

    def conn(self, timeout=10, cert="default"):
        ctx = client_context(self.ca_cert, self.client_cert if cert == "default" else cert)
        return http.client.HTTPSConnection("localhost", self.port, timeout=timeout, context=ctx)

    def serial(self, cert="default"):
        """The serial of the certificate a new connection is served (hex, as getpeercert)."""
        c = self.conn(cert=cert)
        try:
            c.connect()
            return c.sock.getpeercert()["serialNumber"]
        finally:
            c.close()

    def labelled(self, name, labels):
        """The value of name{labels} in /metrics now (0 if absent)."""
        for line in self.get("/metrics").body.decode().splitlines():
            if line.startswith("%s{%s} " % (name, labels)):
                return float(line.split()[1])
        return 0.0
