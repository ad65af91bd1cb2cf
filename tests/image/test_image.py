"""The container image: scripts/image builds deploy/Containerfile with buildah (chroot
isolation, a Debian base made by mmdebstrap when no registry answers), and these tests
start the built image's binary with `buildah run` as the image configures it (entrypoint,
user 65532, working directory) and the Deployment runs it (its args, the ConfigMap's
config mounted read-only at /etc/signal-gateway): --version, --check-config, Alertmanager
webhooks answered 201 with their RR written into a volume, SIGTERM drained to exit 0.

Read-only root: buildah 1.28 has no --read-only, so ImageRun does what a runtime does: in
a private mount namespace (unshare) it bind-mounts the container's root onto itself
read-only before `buildah run`, whose chroot then sees a read-only /. /run is a root-owned
0755 tmpfs there (buildah places /run/.containerenv in it and removes it afterwards; uid
65532 cannot write it), and mount points are made in the container before the root turns
read-only, as runc does. The gateway's only writable path is the volume at its working
directory; /tmp is read-only too, so it needs none. Everything runs on loopback: chroot
isolation shares the host's network, and the gateway listens on 127.0.0.1."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from harness import ROOT, Response, fixture, free_port, wait_until  # noqa: E402

import http.client  # noqa: E402

DEPLOY = os.path.join(ROOT, "deploy")
UID = 65532
CONFIG_DIR = "/etc/signal-gateway"   # where the Deployment mounts the ConfigMap
BUILD_TIMEOUT = 1500
CTR_PREFIX = "sgw-image-test-"

IMAGE = {}   # name, size, config: filled by setUpModule


def buildah(*args, timeout=120, check=True):
    p = subprocess.run(["buildah"] + list(args), capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError("buildah %s: exit %d\n%s" % (" ".join(args), p.returncode, p.stderr[-3000:]))
    return p


def one_doc(path):
    with open(os.path.join(DEPLOY, path)) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    assert len(docs) == 1, path
    return docs[0]


def deployment_container():
    return one_doc("base/deployment.yaml")["spec"]["template"]["spec"]["containers"][0]


def configmap_config():
    return one_doc("base/configmap.yaml")["data"]["config.yaml"]


def remove_stale_containers():
    """Working containers an earlier, killed run left behind (their process is gone)."""
    p = buildah("containers", "--format", "{{.ContainerName}}", check=False)
    for name in p.stdout.split():
        m = re.fullmatch(re.escape(CTR_PREFIX) + r"(\d+)-\d+", name)
        if m and not os.path.exists("/proc/" + m.group(1)):
            buildah("umount", name, check=False)
            buildah("rm", name, check=False)


def setUpModule():
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root: rootful buildah and unshare --mount (docs/image.md)")
    for tool in ("buildah", "mmdebstrap", "unshare"):
        if not shutil.which(tool):
            raise unittest.SkipTest("%s missing: run scripts/setup" % tool)
    remove_stale_containers()
    t0 = time.time()
    # its progress (and on failure the end of buildah's output) straight to stderr
    p = subprocess.run([os.path.join(ROOT, "scripts", "image")], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                       timeout=BUILD_TIMEOUT)
    if p.returncode != 0:
        raise AssertionError("scripts/image failed (exit %d)" % p.returncode)
    m = re.fullmatch(r"image: (\S+) (.+)", p.stdout.strip().splitlines()[-1])
    assert m, p.stdout
    IMAGE["name"], IMAGE["size"] = m.group(1), m.group(2)
    IMAGE["inspect"] = json.loads(buildah("inspect", "--type", "image", IMAGE["name"]).stdout)
    print("image: %s, %s, built in %.0f s" % (IMAGE["name"], IMAGE["size"], time.time() - t0), file=sys.stderr)


def image_config():
    return IMAGE["inspect"]["OCIv1"]["config"]


def size_mb(text):
    """buildah's size ("93.5 MB", decimal units) in MB."""
    m = re.fullmatch(r"([\d.]+) (kB|MB|GB)", text.strip())
    assert m, text
    return float(m.group(1)) * {"kB": 1e-3, "MB": 1, "GB": 1e3}[m.group(2)]


class Container:
    """A working container of the image (buildah from), mounted so that the tests can see
    its root from the host; removed by close()."""

    seq = 0

    def __init__(self):
        Container.seq += 1
        self.name = "%s%d-%d" % (CTR_PREFIX, os.getpid(), Container.seq)
        buildah("from", "--pull=never", "--name", self.name, IMAGE["name"])
        self.root = buildah("mount", self.name).stdout.strip()

    def run(self, argv, volumes=(), env=None, read_only=False, timeout=60, **popen):
        """`buildah run --isolation chroot` of argv with the image's user and working
        directory; volumes are (host path, container path, "ro" or "rw"); read_only: the
        container's root is read-only (module docstring). Returns the Popen when popen
        has start=True, else the CompletedProcess."""
        cmd = ["buildah", "run", "--isolation", "chroot"]
        for src, dst, mode in volumes:
            cmd += ["-v", "%s:%s:%s" % (src, dst, mode)]
        for k, v in sorted((env or {}).items()):
            cmd += ["-e", "%s=%s" % (k, v)]
        cmd += [self.name, "--"] + list(argv)
        if read_only:
            for _src, dst, _mode in volumes:   # mount points, made while the root is writable
                self.mkdir(dst)
            cmd = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                   'set -e; mount --bind "$1" "$1"; mount -o remount,bind,ro "$1"; '
                   'mount -t tmpfs -o mode=0755,nosuid,nodev,noexec,size=1m tmpfs "$1/run"; shift; exec "$@"',
                   "sh", self.root] + cmd
        if popen.pop("start", False):
            return subprocess.Popen(cmd, **popen)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)

    def mkdir(self, path):
        """Makes the container's directory path (absolute inside it) from the host, refusing
        a symbolic link on the way (/var/run -> /run would lead out of the container)."""
        at = self.root
        for part in path.strip("/").split("/"):
            at = os.path.join(at, part)
            assert not os.path.islink(at), at
            if not os.path.isdir(at):
                os.mkdir(at, 0o755)

    def close(self):
        buildah("umount", self.name, check=False)
        buildah("rm", self.name, check=False)


def descendants(pid):
    """Every process below pid, from /proc (ppid links)."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode() for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def root_mount(pid):
    """The mountinfo line of / in pid's mount namespace, as fields."""
    with open("/proc/%d/mountinfo" % pid) as f:
        for line in f:
            fields = line.split()
            if fields[4] == "/":
                last = fields
    return last   # the last mount on / is the one the process sees


class ImageGateway:
    """The image's entrypoint started by `buildah run` the way the Deployment starts it:
    its args, the ConfigMap's config mounted read-only at /etc/signal-gateway, the root
    read-only; the minimal overrides for a machine without Redis or an API server come as
    environment variables (SGW_STATE_URL is how the Deployment passes its Redis URL too)."""

    def __init__(self, config=None):
        self.dir = tempfile.mkdtemp(prefix="sgw-image-")
        self.cfg_dir = os.path.join(self.dir, "config")
        self.data_dir = os.path.join(self.dir, "data")   # the volume at the working directory
        os.makedirs(self.cfg_dir)
        os.makedirs(self.data_dir)
        os.chown(self.data_dir, UID, UID)
        with open(os.path.join(self.cfg_dir, "config.yaml"), "w") as f:
            f.write(config if config is not None else configmap_config())
        self.port, self.metrics_port = free_port(), free_port()
        self.workdir = image_config()["WorkingDir"]
        self.rr_dir = os.path.join(self.data_dir, "remediationrequests")
        self.env = {"SGW_STATE_URL": "memory", "SGW_AUTH_MODE": "off",
                    "SGW_SINK_TARGET": "dir:" + os.path.join(self.workdir, "remediationrequests"),
                    "SGW_SERVER_LISTEN": "127.0.0.1:%d" % self.port,
                    "SGW_SERVER_METRICS_LISTEN": "127.0.0.1:%d" % self.metrics_port}
        self.argv = image_config()["Entrypoint"] + deployment_container()["args"]
        self.log_path = os.path.join(self.dir, "gateway.log")
        self.ctr = Container()
        self.proc = None
        self.pid = None
        try:
            self.start()
        except BaseException:
            self.stop()
            raise

    def start(self):
        with open(self.log_path, "ab") as log:
            self.proc = self.ctr.run(self.argv, volumes=[(self.cfg_dir, CONFIG_DIR, "ro"),
                                                         (self.data_dir, self.workdir, "rw")],
                                     env=self.env, read_only=True, start=True, stdout=log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("buildah run exited %s:\n%s" % (self.proc.returncode, self.logs()))
            if self.pid is None:
                self.pid = next((p for p in descendants(self.proc.pid) if cmdline(p)[:1] == self.argv[:1]), None)
            if self.pid is not None:
                try:
                    if self.get("/readyz").status == 200:
                        return
                except OSError:
                    pass
            time.sleep(0.05)
        raise AssertionError("the gateway in the image did not become ready:\n" + self.logs())

    def logs(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def request(self, method, path, body=None, headers=None, port=None):
        c = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=10)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            c.close()

    def get(self, path, port=None):
        return self.request("GET", path, port=port)

    def alert(self, body):
        return self.request("POST", "/api/v1/signals/prometheus", body, {"Content-Type": "application/json"})

    def sigterm(self, timeout=40):
        """SIGTERM to the gateway itself (buildah's chroot turns a SIGTERM sent to it into
        SIGKILL for the command); returns buildah run's exit status, the gateway's."""
        os.kill(self.pid, signal.SIGTERM)
        return self.proc.wait(timeout)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            if self.pid is not None:
                try:
                    os.kill(self.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.ctr.close()
        shutil.rmtree(self.dir, True)


class ImageConfigTests(unittest.TestCase):
    """What the image says about itself (buildah inspect) and what the Deployment expects."""

    def test_user_is_numeric_non_root_with_entrypoint_and_workdir(self):
        c = image_config()
        self.assertEqual(c.get("User"), "%d:%d" % (UID, UID))
        self.assertEqual(c.get("Entrypoint"), ["/usr/local/bin/signal-gateway"])
        self.assertFalse(c.get("Cmd"), "a Cmd would be replaced by the Deployment's args anyway")
        self.assertEqual(c.get("WorkingDir"), "/var/lib/signal-gateway")
        self.assertEqual(set(c.get("ExposedPorts", {})), {"8080/tcp", "9090/tcp"})

    def test_deployment_agrees_with_the_image(self):
        d = one_doc("base/deployment.yaml")["spec"]["template"]["spec"]
        c = deployment_container()
        user, group = (int(x) for x in image_config()["User"].split(":"))
        for sc in (d["securityContext"], c["securityContext"]):
            self.assertEqual((sc["runAsNonRoot"], sc["runAsUser"], sc["runAsGroup"]), (True, user, group))
        self.assertIs(c["securityContext"]["readOnlyRootFilesystem"], True)
        self.assertEqual(c["args"], ["--config", CONFIG_DIR + "/config.yaml"])
        self.assertNotIn("command", c, "the image's entrypoint is the command")
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        self.assertIs(mounts[CONFIG_DIR].get("readOnly"), True)
        # ports: the Service's targets are the image's exposed ports and the config's listeners
        ports = {p["containerPort"] for p in c["ports"]}
        self.assertEqual({"%d/tcp" % p for p in ports}, set(image_config()["ExposedPorts"]))
        cfg = yaml.safe_load(configmap_config())
        self.assertEqual({int(cfg["server"][k].rsplit(":", 1)[1]) for k in ("listen", "metrics_listen")}, ports)
        # with a read-only root, the only writes would be the directory sink's: the
        # ConfigMap uses the Kubernetes sink, or else its directory must be a volume
        target = cfg["sink"]["target"]
        if target.startswith("dir:"):
            path = os.path.join(image_config()["WorkingDir"], target[4:])
            self.assertTrue(any(os.path.normpath(path).startswith(m.rstrip("/") + "/") for m in mounts
                                if not mounts[m].get("readOnly")), path)
        else:
            self.assertEqual(target, "kubernetes")

    def test_runtime_image_holds_no_build_tools_or_apt_caches(self):
        ctr = Container()
        self.addCleanup(ctr.close)
        r = ctr.root
        self.assertTrue(os.path.isfile(os.path.join(r, "usr/local/bin/signal-gateway")))
        for tool in ("usr/bin/gcc", "usr/bin/cc", "usr/bin/make", "usr/bin/ld", "usr/bin/pkg-config"):
            self.assertFalse(os.path.lexists(os.path.join(r, tool)), tool)
        self.assertFalse(os.path.isdir(os.path.join(r, "usr/share/llhttp")))
        debs = [f for f in os.listdir(os.path.join(r, "var/cache/apt/archives")) if f.endswith(".deb")]
        self.assertEqual(debs, [])
        lists = [f for f in os.listdir(os.path.join(r, "var/lib/apt/lists")) if f not in ("lock", "partial", "auxfiles")]
        self.assertEqual(lists, [])
        st = os.stat(os.path.join(r, "var/lib/signal-gateway"))
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o7777), (UID, UID, 0o750))

    def test_size_is_the_documented_one(self):
        with open(os.path.join(ROOT, "docs", "image.md")) as f:
            m = re.search(r"image size: \*\*([\d.]+) MB\*\*", f.read())
        self.assertIsNotNone(m, "docs/image.md: no 'image size: **N MB**'")
        documented, measured = float(m.group(1)), size_mb(IMAGE["size"])
        # the Debian packages' own growth moves it a little; more means docs/image.md is stale
        self.assertLess(abs(measured - documented) / documented, 0.10,
                        "measured %.1f MB, docs/image.md says %.1f MB" % (measured, documented))


class BinaryInImageTests(unittest.TestCase):
    """The image's binary run once (buildah run), as the image's user."""

    @classmethod
    def setUpClass(cls):
        cls.ctr = Container()
        cls.entry = image_config()["Entrypoint"]

    @classmethod
    def tearDownClass(cls):
        cls.ctr.close()

    def test_version_is_this_checkouts(self):
        p = self.ctr.run(self.entry + ["--version"])
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(os.path.join(ROOT, "VERSION")) as f:
            version = f.read().strip()
        m = re.fullmatch(r"signal-gateway (\S+) \((\S+)\)", p.stdout.strip())
        self.assertIsNotNone(m, p.stdout)
        self.assertEqual(m.group(1), version)
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        if rev.returncode == 0:
            self.assertEqual(m.group(2), rev.stdout.strip())

    def test_check_config_of_the_embedded_default(self):
        p = self.ctr.run(self.entry + ["--check-config"])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("dir:./remediationrequests", p.stdout)

    def test_check_config_of_the_configmap_as_the_deployment_mounts_it(self):
        d = tempfile.mkdtemp(prefix="sgw-image-cfg-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)   # as a ConfigMap volume: readable by the pod's user
        with open(os.path.join(d, "config.yaml"), "w") as f:
            f.write(configmap_config())
        args = deployment_container()["args"]
        p = self.ctr.run(self.entry + args + ["--check-config"], volumes=[(d, CONFIG_DIR, "ro")], read_only=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("kubernetes", p.stdout)
        # and a broken one is refused with exit 2
        with open(os.path.join(d, "config.yaml"), "w") as f:
            f.write(configmap_config().replace("dedup:", "dedupe:"))
        p = self.ctr.run(self.entry + args + ["--check-config"], volumes=[(d, CONFIG_DIR, "ro")], read_only=True)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)

    def test_runs_as_uid_65532_without_capabilities(self):
        # the image's own shell utilities, as the image's user (no --user)
        p = self.ctr.run(["sh", "-c", "id -u; id -g; grep ^CapEff: /proc/self/status"])
        self.assertEqual(p.returncode, 0, p.stderr)
        uid, gid, cap = p.stdout.split("\n")[:3]
        self.assertEqual((uid, gid), (str(UID), str(UID)))
        self.assertEqual(cap.split()[1], "0000000000000000")

    def test_read_only_root_leaves_the_gateway_user_only_its_volume(self):
        d = tempfile.mkdtemp(prefix="sgw-image-vol-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chown(d, UID, UID)
        workdir = image_config()["WorkingDir"]
        probe = ("for p in / /tmp /var/tmp /etc /usr/local/bin /run %s; do "
                 "if touch \"$p/.w\" 2>/dev/null; then echo \"$p writable\"; rm -f \"$p/.w\"; "
                 "else echo \"$p $(touch \"$p/.w\" 2>&1 | sed 's/.*: //')\"; fi; done" % workdir)
        p = self.ctr.run(["sh", "-c", probe], volumes=[(d, workdir, "rw")], read_only=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        seen = dict(line.split(" ", 1) for line in p.stdout.strip().splitlines())
        self.assertEqual(seen, {"/": "Read-only file system", "/tmp": "Read-only file system",
                                "/var/tmp": "Read-only file system", "/etc": "Read-only file system",
                                "/usr/local/bin": "Read-only file system",
                                "/run": "Permission denied",   # buildah's root-owned tmpfs
                                workdir: "writable"}, p.stdout)
        # the same paths are writable without the read-only root (the check can fail)
        p = self.ctr.run(["sh", "-c", probe], volumes=[(d, workdir, "rw")])
        self.assertIn("/tmp writable", p.stdout)


class GatewayInImageTests(unittest.TestCase):
    """The gateway started from the image with a read-only root, answering webhooks."""

    @classmethod
    def setUpClass(cls):
        cls.gw = ImageGateway()

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()

    def rr_file(self, ref):
        return os.path.join(self.gw.rr_dir, ref + ".json")

    def test_alertmanager_webhook_gets_201_and_its_rr_is_written(self):
        for name in ("deployment-memory-firing.json", "pod-crashloop-firing-2-alerts.json"):
            body = fixture(name)
            r = self.gw.alert(body)
            self.assertEqual(r.status, 201, (name, r, self.gw.logs()[-2000:]))
            results = r.json["results"]
            self.assertEqual(len(results), len(json.loads(body)["alerts"]))
            for res in results:
                path = self.rr_file(res["remediationRequest"])
                self.assertTrue(os.path.isfile(path), path)
                st = os.stat(path)
                self.assertEqual((st.st_uid, st.st_gid), (UID, UID))
                with open(path) as f:
                    rr = json.load(f)
                self.assertEqual(rr["kind"], "RemediationRequest")
                self.assertEqual("%s/%s" % (rr["metadata"]["namespace"], rr["metadata"]["name"]),
                                 res["remediationRequest"])
                self.assertEqual(rr["spec"]["signalFingerprint"], res["fingerprint"])
            # the same webhook again: a duplicate, no new RR
            again = self.gw.alert(body)
            self.assertEqual(again.status, 202, again)

    def test_gateway_process_is_uid_65532_without_capabilities_under_seccomp(self):
        st = proc_status(self.gw.pid)
        self.assertEqual(st["Uid"].split(), [str(UID)] * 4)
        self.assertEqual(st["Gid"].split(), [str(UID)] * 4)
        self.assertEqual(st["CapEff"], "0000000000000000")
        self.assertEqual(st["CapPrm"], "0000000000000000")
        # under a seccomp filter: buildah applies containers-common's default profile
        # (/usr/share/containers/seccomp.json), the one podman applies by default
        self.assertEqual(st["Seccomp"], "2")

    def test_gateway_sees_a_read_only_root_and_its_own_volume(self):
        root = root_mount(self.gw.pid)
        self.assertIn("ro", root[5].split(","), root)
        with open("/proc/%d/mountinfo" % self.gw.pid) as f:
            mounts = {line.split()[4]: line.split()[5].split(",") for line in f}
        self.assertIn("rw", mounts[self.gw.workdir])
        self.assertIn("ro", mounts[CONFIG_DIR])

    def test_health_readiness_and_metrics_on_their_ports(self):
        self.assertEqual(self.gw.get("/healthz").status, 200)
        r = self.gw.get("/readyz", port=self.gw.metrics_port)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["sink"], "dir")
        m = self.gw.get("/metrics", port=self.gw.metrics_port)
        self.assertEqual(m.status, 200)
        self.assertIn("# TYPE gateway_", m.body.decode())


class ShutdownInImageTests(unittest.TestCase):
    def test_sigterm_drains_and_exits_0(self):
        gw = ImageGateway()
        self.addCleanup(gw.stop)
        r = gw.alert(fixture("node-disk-pressure-firing.json"))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(gw.sigterm(), 0, gw.logs()[-2000:])
        msgs = [json.loads(line).get("msg") for line in gw.logs().splitlines() if line.startswith("{")]
        self.assertIn("draining", msgs)
        self.assertEqual(msgs[-1], "stopped")
        wait_until(lambda: not os.path.exists("/proc/%d" % gw.pid), 10, "the gateway process gone")


if __name__ == "__main__":
    unittest.main()
