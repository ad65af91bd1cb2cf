"""Real redis-server and redis-sentinel processes for integration tests: free loopback
ports, no persistence unless asked, stopped by PID (SIGKILL when a test wants a crash)."""
import os
import signal
import socket
import subprocess
import tempfile
import time

from harness import free_port


def _ping(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64)[:1] in (b"+", b"-"):   # PONG, or NOAUTH: it is up
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


class Redis:
    def __init__(self, port=None, durable=False, replica_of=None, dir=None, password=None, extra=()):
        self.password = password
        self.extra = list(extra)   # more redis-server arguments
        self.port = port or free_port()
        self.dir = dir or tempfile.mkdtemp(prefix="sgw-redis-")
        self.durable = durable
        self.replica_of = replica_of
        self.proc = None
        self.start()

    def start(self):
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
               "--save", "", "--logfile", os.path.join(self.dir, "redis.log")]
        if self.durable:
            cmd += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            cmd += ["--appendonly", "no"]
        if self.password:
            cmd += ["--requirepass", self.password]
        if self.replica_of:
            cmd += ["--replicaof", "127.0.0.1", str(self.replica_of)]
        cmd += self.extra
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not _ping(self.port):
            raise AssertionError("redis-server did not start on %d" % self.port)

    def cli(self, *args):
        auth = ["-a", self.password, "--no-auth-warning"] if self.password else []
        p = subprocess.run(["redis-cli", "-p", str(self.port)] + auth + [str(a) for a in args], capture_output=True,
                           timeout=10)
        return p.stdout.decode().strip()

    def url(self, db=0):
        return "redis://127.0.0.1:%d/%d" % (self.port, db)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class Sentinel:
    def __init__(self, master_port, quorum=2, down_after_ms=1000, failover_timeout_ms=3000):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="sgw-sentinel-")
        conf = os.path.join(self.dir, "sentinel.conf")
        with open(conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\ndir %s\n" % (self.port, self.dir))
            f.write("sentinel monitor mymaster 127.0.0.1 %d %d\n" % (master_port, quorum))
            f.write("sentinel down-after-milliseconds mymaster %d\n" % down_after_ms)
            f.write("sentinel failover-timeout mymaster %d\n" % failover_timeout_ms)
            f.write("sentinel parallel-syncs mymaster 1\n")
            f.write("logfile %s\n" % os.path.join(self.dir, "sentinel.log"))
        self.proc = subprocess.Popen(["redis-sentinel", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not _ping(self.port):
            raise AssertionError("redis-sentinel did not start")

    def master(self):
        p = subprocess.run(["redis-cli", "-p", str(self.port), "SENTINEL", "get-master-addr-by-name", "mymaster"],
                           capture_output=True, timeout=10)
        out = p.stdout.decode().split()
        return int(out[1]) if len(out) == 2 else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
