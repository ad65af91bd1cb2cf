# Tests of the workload kinds (workloads.py): Pods, Services, Nodes, ReplicaSets, Deployments,
# StatefulSets, DaemonSets, Jobs, CronJobs with their ownerReferences, first over raw HTTP, then
# with kubectl and Debian's python3-kubernetes. test_server.py's load_tests runs them with the
# rest (./run-tests); alone: /usr/bin/python3 -m unittest -v test_workloads (from this folder).

import json
import os
import subprocess
import unittest

from test_server import KUBECTL, SKIP_REAL_CLIENTS, ServerTestCase

__all__ = ["WorkloadTests", "WorkloadKubectlTests", "WorkloadPythonKubernetesTests"]

PATHS = {"Pod": "/api/v1", "Service": "/api/v1", "ReplicaSet": "/apis/apps/v1", "Deployment": "/apis/apps/v1",
         "StatefulSet": "/apis/apps/v1", "DaemonSet": "/apis/apps/v1", "Job": "/apis/batch/v1",
         "CronJob": "/apis/batch/v1"}
PLURAL = {"Pod": "pods", "Service": "services", "ReplicaSet": "replicasets", "Deployment": "deployments",
          "StatefulSet": "statefulsets", "DaemonSet": "daemonsets", "Job": "jobs", "CronJob": "cronjobs"}
API_VERSION = {"Pod": "v1", "Service": "v1", "ReplicaSet": "apps/v1", "Deployment": "apps/v1",
               "StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "Job": "batch/v1", "CronJob": "batch/v1"}


def path(kind, ns, name=None, sub=None):
    p = "%s/namespaces/%s/%s" % (PATHS[kind], ns, PLURAL[kind])
    if name:
        p += "/" + name
    if sub:
        p += "/" + sub
    return p


def owner(kind, name, uid, controller=True):
    return {"apiVersion": API_VERSION[kind], "kind": kind, "name": name, "uid": uid, "controller": controller,
            "blockOwnerDeletion": True}


POD_SPEC = {"containers": [{"name": "app", "image": "registry.example/app:1"}]}
TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": POD_SPEC}


def body(kind, name, ns=None, labels=None, owners=None, spec=None):
    meta = {"name": name}
    if ns:
        meta["namespace"] = ns
    if labels:
        meta["labels"] = labels
    if owners:
        meta["ownerReferences"] = owners
    if spec is None:
        spec = {
            "Pod": POD_SPEC,
            "Service": {"selector": {"app": "web"}, "ports": [{"port": 80, "protocol": "TCP"}]},
            "ReplicaSet": {"selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE},
            "Deployment": {"selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE},
            "StatefulSet": {"serviceName": "web", "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE},
            "DaemonSet": {"selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE},
            "Job": {"template": {"spec": dict(POD_SPEC, restartPolicy="Never")}},
            "CronJob": {"schedule": "*/5 * * * *",
                        "jobTemplate": {"spec": {"template": {"spec": dict(POD_SPEC, restartPolicy="Never")}}}},
        }[kind]
    return {"apiVersion": API_VERSION[kind], "kind": kind, "metadata": meta, "spec": spec}


class WorkloadCase(ServerTestCase):
    def make(self, kind, name, ns="default", **kw):
        return self.ok("POST", path(kind, ns), body(kind, name, **kw))

    def deployment_chain(self, ns="default"):
        """Deployment web → ReplicaSet web-7d9f8 → Pod web-7d9f8-x2x4k, linked by uid."""
        d = self.make("Deployment", "web", ns, labels={"app": "web"})
        rs = self.make("ReplicaSet", "web-7d9f8", ns, labels={"app": "web"},
                       owners=[owner("Deployment", "web", d["metadata"]["uid"])])
        pod = self.make("Pod", "web-7d9f8-x2x4k", ns, labels={"app": "web"},
                        owners=[owner("ReplicaSet", "web-7d9f8", rs["metadata"]["uid"])])
        return d, rs, pod


# ======================================================================================
class WorkloadTests(WorkloadCase):
    def test_discovery(self):
        core = {r["name"]: r for r in self.ok("GET", "/api/v1")["resources"]}
        self.assertEqual((core["pods"]["kind"], core["pods"]["namespaced"], core["pods"]["shortNames"],
                          core["pods"]["categories"]), ("Pod", True, ["po"], ["all"]))
        self.assertEqual(sorted(core["pods/status"]["verbs"]), ["get", "patch", "update"])
        self.assertEqual((core["services"]["shortNames"], core["nodes"]["namespaced"]), (["svc"], False))
        groups = {g["name"]: g for g in self.ok("GET", "/apis")["groups"]}
        self.assertEqual(groups["apps"]["preferredVersion"], {"groupVersion": "apps/v1", "version": "v1"})
        self.assertEqual(groups["batch"]["preferredVersion"], {"groupVersion": "batch/v1", "version": "v1"})
        apps = {r["name"]: r for r in self.ok("GET", "/apis/apps/v1")["resources"]}
        for plural, kind, short in (("replicasets", "ReplicaSet", ["rs"]), ("deployments", "Deployment", ["deploy"]),
                                    ("statefulsets", "StatefulSet", ["sts"]), ("daemonsets", "DaemonSet", ["ds"])):
            self.assertEqual((apps[plural]["kind"], apps[plural]["shortNames"], apps[plural]["namespaced"]),
                             (kind, short, True))
            self.assertEqual(sorted(apps[plural]["verbs"]), ["create", "delete", "deletecollection", "get", "list",
                                                             "patch", "update", "watch"])
            self.assertIn(plural + "/status", apps)
        batch = {r["name"]: r for r in self.ok("GET", "/apis/batch/v1")["resources"]}
        self.assertEqual((batch["jobs"]["kind"], "shortNames" in batch["jobs"], batch["cronjobs"]["shortNames"]),
                         ("Job", False, ["cj"]))
        idx = self.ok("GET", "/openapi/v3")
        self.assertIn("apis/apps/v1", idx["paths"])
        self.assertIn("apis/batch/v1", idx["paths"])

    def test_owner_references_kept_as_given(self):
        d, rs, pod = self.deployment_chain()
        got = self.ok("GET", path("Pod", "default", "web-7d9f8-x2x4k"))
        self.assertEqual(got["metadata"]["ownerReferences"],
                         [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f8",
                           "uid": rs["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}])
        self.assertEqual(got["metadata"]["labels"], {"app": "web"})
        self.assertEqual(self.ok("GET", path("ReplicaSet", "default", "web-7d9f8"))["metadata"]["ownerReferences"][0]
                         ["uid"], d["metadata"]["uid"])
        # a reference that is not the controller, and one to an owner that does not exist: kept too
        refs = [owner("Deployment", "ghost", "0000", controller=False), owner("StatefulSet", "gone", "1111")]
        self.make("Pod", "p2", owners=refs)
        self.assertEqual(self.ok("GET", path("Pod", "default", "p2"))["metadata"]["ownerReferences"], refs)

    def test_create_sets_status_generation_and_few_defaults(self):
        d, rs, pod = self.deployment_chain()
        self.assertEqual(pod["status"], {"phase": "Pending", "qosClass": "BestEffort"})
        self.assertNotIn("generation", pod["metadata"])
        self.assertEqual((d["metadata"]["generation"], d["status"], d["spec"]["replicas"]), (1, {}, 1))
        self.assertEqual(rs["status"], {"replicas": 0})
        b = body("StatefulSet", "db")
        b["status"] = {"replicas": 3}                       # status is not taken on create
        sts = self.ok("POST", path("StatefulSet", "default"), b)
        self.assertEqual(sts["status"], {"replicas": 0, "availableReplicas": 0})
        job = self.make("Job", "once")
        self.assertEqual((job["spec"]["completions"], job["spec"]["parallelism"]), (1, 1))
        self.assertFalse(self.make("CronJob", "nightly")["spec"]["suspend"])
        g = body("Pod", "guaranteed", spec={"containers": [{"name": "a", "image": "i", "resources": {
            "limits": {"cpu": "1", "memory": "1Gi"}}}]})
        self.assertEqual(self.ok("POST", path("Pod", "default"), g)["status"]["qosClass"], "Guaranteed")
        svc = self.make("Service", "web")
        self.assertEqual((svc["spec"]["type"], svc["status"]), ("ClusterIP", {"loadBalancer": {}}))
        node = self.ok("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "w1"},
                                                 "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
        self.assertEqual(node["status"]["conditions"][0]["type"], "Ready")   # a node's status is kept

    def test_list_by_label_and_field_and_all_namespaces(self):
        self.make_ns("prod")
        self.deployment_chain("prod")
        self.make("Pod", "other", "prod", labels={"app": "db"})
        self.make("Pod", "elsewhere", "default", labels={"app": "web"})
        names = lambda r: [o["metadata"]["name"] for o in r["items"]]
        r = self.ok("GET", path("Pod", "prod") + "?labelSelector=app%3Dweb")
        self.assertEqual((r["kind"], r["apiVersion"], names(r)), ("PodList", "v1", ["web-7d9f8-x2x4k"]))
        r = self.ok("GET", "/api/v1/pods?labelSelector=app%3Dweb")
        self.assertEqual(names(r), ["elsewhere", "web-7d9f8-x2x4k"])
        r = self.ok("GET", path("Pod", "prod") + "?fieldSelector=status.phase%3DPending")
        self.assertEqual(names(r), ["other", "web-7d9f8-x2x4k"])
        self.assertStatus(self.req("GET", path("Pod", "prod") + "?fieldSelector=spec.containers%3Dx"), 400,
                          "BadRequest", "field label not supported: spec.containers")
        r = self.ok("GET", "/apis/apps/v1/deployments")
        self.assertEqual((r["kind"], names(r)), ("DeploymentList", ["web"]))

    def test_update_patch_status_delete(self):
        d, rs, pod = self.deployment_chain()
        p = path("Deployment", "default", "web")
        d["metadata"].pop("resourceVersion")                        # built-in kinds: unconditional update
        d["metadata"]["labels"]["tier"] = "front"
        u = self.ok("PUT", p, d)
        self.assertEqual((u["metadata"]["labels"]["tier"], u["metadata"]["generation"]), ("front", 1))
        u = self.ok("PATCH", p, {"spec": {"replicas": 3}}, content_type="application/strategic-merge-patch+json")
        self.assertEqual((u["spec"]["replicas"], u["metadata"]["generation"]), (3, 2))
        s = self.ok("PATCH", p + "/status", {"status": {"readyReplicas": 3, "replicas": 3}},
                    content_type="application/merge-patch+json")
        self.assertEqual((s["status"]["readyReplicas"], s["metadata"]["generation"]), (3, 2))
        pp = path("Pod", "default", "web-7d9f8-x2x4k")
        u = self.ok("PATCH", pp, [{"op": "remove", "path": "/metadata/ownerReferences"}],
                    content_type="application/json-patch+json")
        self.assertNotIn("ownerReferences", u["metadata"])
        r = self.ok("DELETE", pp)
        self.assertEqual((r["kind"], r["status"], r["details"]["kind"], r["details"]["name"]),
                         ("Status", "Success", "pods", "web-7d9f8-x2x4k"))
        self.assertStatus(self.req("GET", pp), 404, "NotFound", 'pods "web-7d9f8-x2x4k" not found',
                          {"name": "web-7d9f8-x2x4k", "kind": "pods"})
        self.assertStatus(self.req("GET", path("ReplicaSet", "default", "nope")), 404, "NotFound",
                          'replicasets.apps "nope" not found', {"name": "nope", "group": "apps",
                                                                 "kind": "replicasets"})
        self.assertStatus(self.req("GET", path("CronJob", "default", "nope")), 404, "NotFound",
                          'cronjobs.batch "nope" not found')

    def test_watch_pods(self):
        rv = self.ok("GET", path("Pod", "default"))["metadata"]["resourceVersion"]
        self.make("Pod", "a")
        self.ok("DELETE", path("Pod", "default", "a"))
        r = self.req("GET", path("Pod", "default") + "?watch=true&timeoutSeconds=1&resourceVersion=" + rv)
        events = [json.loads(line) for line in r.raw.splitlines() if line.strip()]
        self.assertEqual([(e["type"], e["object"]["kind"]) for e in events], [("ADDED", "Pod"), ("DELETED", "Pod")])

    def test_validation(self):
        st = self.assertStatus(self.req("POST", path("Pod", "default"), body("Pod", "")), 422, "Invalid")
        self.assertEqual(st["details"]["causes"][0]["field"], "metadata.name")
        st = self.assertStatus(self.req("POST", path("Pod", "default"), body("Pod", "p", labels={"a b": "c"})),
                               422, "Invalid")
        self.assertEqual(st["details"]["causes"][0]["field"], "metadata.labels")
        refs = [{"apiVersion": "", "kind": "", "name": "", "uid": ""}]
        st = self.assertStatus(self.req("POST", path("Pod", "default"), body("Pod", "p", owners=refs)), 422,
                               "Invalid")
        self.assertEqual([(c["field"], c["message"]) for c in st["details"]["causes"]], [
            ("metadata.ownerReferences.apiVersion", 'Invalid value: "": version must not be empty'),
            ("metadata.ownerReferences.kind", 'Invalid value: "": must not be empty'),
            ("metadata.ownerReferences.name", 'Invalid value: "": must not be empty'),
            ("metadata.ownerReferences.uid", 'Invalid value: "": must not be empty')])
        self.assertEqual((st["details"]["kind"], st["details"]["name"]), ("Pod", "p"))
        refs = [owner("ReplicaSet", "a", "1"), owner("ReplicaSet", "b", "2")]
        st = self.assertStatus(self.req("POST", path("Pod", "default"), body("Pod", "p", owners=refs)), 422,
                               "Invalid")
        self.assertIn('Only one reference can have Controller set to true. Found "true" in references for '
                      'ReplicaSet/a and ReplicaSet/b', st["message"])
        refs = [dict(owner("ReplicaSet", "a", "1"), controller="yes")]
        self.assertStatus(self.req("POST", path("Pod", "default"), body("Pod", "p", owners=refs)), 400,
                          "BadRequest", 'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal '
                                        'string into Go struct field OwnerReference.metadata.ownerReferences.'
                                        'controller of type bool')
        b = body("Deployment", "d")
        b["metadata"]["ownerReferences"] = {"kind": "x"}
        self.assertStatus(self.req("POST", path("Deployment", "default"), b), 400, "BadRequest")
        st = self.assertStatus(self.req("POST", path("Service", "default"), body("Service", "1web")), 422, "Invalid")
        self.assertIn("a DNS-1035 label must consist of", st["message"])
        self.assertStatus(self.req("POST", path("Job", "ghost"), body("Job", "j")), 404, "NotFound",
                          'namespaces "ghost" not found')
        self.assertStatus(self.req("GET", "/api/v1/namespaces/default/nodes/x"), 404, "NotFound")
        # the check applies to every kind, as ObjectMeta validation does
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "ownerReferences": [
            {"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": ""}]}}
        self.assertStatus(self.req("POST", "/api/v1/namespaces/default/configmaps", cm), 422, "Invalid")

    def test_tables(self):
        self.deployment_chain()
        self.make("Job", "once", owners=[owner("CronJob", "nightly", "9")])
        self.make("CronJob", "nightly")
        accept = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io, application/json"}
        t = self.ok("GET", path("Pod", "default"), headers=accept)
        self.assertEqual([(c["name"], c["priority"]) for c in t["columnDefinitions"]],
                         [("Name", 0), ("Ready", 0), ("Status", 0), ("Restarts", 0), ("Age", 0), ("IP", 1),
                          ("Node", 1), ("Nominated Node", 1), ("Readiness Gates", 1)])
        self.assertEqual(t["rows"][0]["cells"][:4], ["web-7d9f8-x2x4k", "0/1", "Pending", "0"])
        self.assertEqual(t["rows"][0]["object"]["kind"], "PartialObjectMetadata")
        t = self.ok("GET", path("Deployment", "default", "web"), headers=accept)
        self.assertEqual([c["name"] for c in t["columnDefinitions"] if c["priority"] == 0],
                         ["Name", "Ready", "Up-to-date", "Available", "Age"])
        self.assertEqual(t["rows"][0]["cells"][:4] + t["rows"][0]["cells"][5:],
                         ["web", "0/1", 0, 0, "app", "registry.example/app:1", "app=web"])
        t = self.ok("GET", path("Job", "default"), headers=accept)
        self.assertEqual(t["rows"][0]["cells"][:4], ["once", "Running", "0/1", ""])
        t = self.ok("GET", path("CronJob", "default"), headers=accept)
        self.assertEqual(t["rows"][0]["cells"][:6], ["nightly", "*/5 * * * *", "<none>", "False", 0, "<none>"])

    def test_faults_and_request_log(self):
        self.deployment_chain()
        self.ok("DELETE", "/_test/requests", token=None)
        self.ok("POST", "/_test/faults", {"method": "GET", "path_regex": "/replicasets/", "count": 1,
                                          "action": "status", "status": 503}, token=None, code=201)
        self.assertStatus(self.req("GET", path("ReplicaSet", "default", "web-7d9f8")), 503, "ServiceUnavailable")
        self.ok("GET", path("ReplicaSet", "default", "web-7d9f8"))
        log = self.ok("GET", "/_test/requests", token=None)["items"]
        self.assertEqual([(i["method"], i["path"], i["status"]) for i in log],
                         [("GET", "/apis/apps/v1/namespaces/default/replicasets/web-7d9f8", 503),
                          ("GET", "/apis/apps/v1/namespaces/default/replicasets/web-7d9f8", 200)])


# ======================================================================================
WORKLOADS_YAML = """apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels:
    kubernaut.ai/managed: "true"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers: [{name: app, image: "registry.example/app:1"}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-7d9f8
  namespace: shop
  ownerReferences:
  - {apiVersion: apps/v1, kind: Deployment, name: web, uid: 3f1c, controller: true, blockOwnerDeletion: true}
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers: [{name: app, image: "registry.example/app:1"}]
---
apiVersion: v1
kind: Pod
metadata:
  name: web-7d9f8-x2x4k
  namespace: shop
  labels: {app: web}
  ownerReferences:
  - {apiVersion: apps/v1, kind: ReplicaSet, name: web-7d9f8, uid: 8a2e, controller: true, blockOwnerDeletion: true}
spec:
  containers: [{name: app, image: "registry.example/app:1"}]
"""


@unittest.skipIf(SKIP_REAL_CLIENTS, "K8S_API_SERVER_SKIP_REAL_CLIENTS=1")
class WorkloadKubectlTests(WorkloadCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(KUBECTL, os.X_OK):
            raise RuntimeError("kubectl not found at %s (set K8S_API_SERVER_SKIP_REAL_CLIENTS=1 to skip)" % KUBECTL)
        super().setUpClass()

    def kubectl(self, *args):
        env = dict(os.environ, HOME=self.tmp, KUBECONFIG=self.srv.kubeconfig)
        r = subprocess.run([KUBECTL, "--kubeconfig", self.srv.kubeconfig, "--cache-dir",
                            os.path.join(self.tmp, "kubectl-cache"), "--request-timeout=10s"] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=30, text=True)
        return r.returncode, r.stdout, r.stderr

    def test_create_get_owner_chain(self):
        manifest = os.path.join(self.tmp, "workloads.yaml")
        with open(manifest, "w") as f:
            f.write(WORKLOADS_YAML)
        rc, out, err = self.kubectl("create", "-f", manifest)
        self.assertEqual((rc, out.split("\n")[:4], err), (0, [
            "namespace/shop created", "deployment.apps/web created", "replicaset.apps/web-7d9f8 created",
            "pod/web-7d9f8-x2x4k created"], ""))
        rc, out, err = self.kubectl("get", "pods,rs,deploy", "-n", "shop")
        self.assertEqual((rc, err), (0, ""))
        blocks = [b.splitlines() for b in out.strip().split("\n\n")]
        self.assertEqual([b[0].split() for b in blocks], [["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
                                                          ["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
                                                          ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]])
        self.assertEqual([b[1].split()[:2] for b in blocks], [["pod/web-7d9f8-x2x4k", "0/1"],
                                                              ["replicaset.apps/web-7d9f8", "1"],
                                                              ["deployment.apps/web", "0/1"]])
        rc, out, err = self.kubectl("get", "pod", "web-7d9f8-x2x4k", "-n", "shop",
                                    "-o", "jsonpath={.metadata.ownerReferences}")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(json.loads(out), [{"apiVersion": "apps/v1", "blockOwnerDeletion": True, "controller": True,
                                            "kind": "ReplicaSet", "name": "web-7d9f8", "uid": "8a2e"}])
        rc, out, err = self.kubectl("get", "rs", "web-7d9f8", "-n", "shop",
                                    "-o", "jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}")
        self.assertEqual((rc, out), (0, "Deployment/web"))
        rc, out, err = self.kubectl("get", "ns", "shop", "-o", "jsonpath={.metadata.labels.kubernaut\\.ai/managed}")
        self.assertEqual((rc, out), (0, "true"))
        rc, out, err = self.kubectl("get", "all", "-n", "shop", "-o", "name")
        self.assertEqual((rc, sorted(out.split())), (0, ["deployment.apps/web", "pod/web-7d9f8-x2x4k",
                                                         "replicaset.apps/web-7d9f8"]))
        rc, out, err = self.kubectl("label", "deploy", "web", "-n", "shop", "kubernaut.ai/managed=false")
        self.assertEqual((rc, out.strip()), (0, "deployment.apps/web labeled"))
        rc, out, err = self.kubectl("delete", "pod", "web-7d9f8-x2x4k", "-n", "shop", "--wait=false")
        self.assertEqual((rc, out.strip()), (0, 'pod "web-7d9f8-x2x4k" deleted'))
        rc, out, err = self.kubectl("get", "pod", "web-7d9f8-x2x4k", "-n", "shop")
        self.assertEqual(rc, 1)
        self.assertIn('Error from server (NotFound): pods "web-7d9f8-x2x4k" not found', err)

    def test_other_kinds_print(self):
        self.make("StatefulSet", "db")
        self.make("DaemonSet", "agent")
        self.make("CronJob", "nightly")
        self.make("Job", "nightly-29001", owners=[owner("CronJob", "nightly", "77")])
        self.make("Service", "web")
        self.ok("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {
            "name": "worker-1", "labels": {"node-role.kubernetes.io/worker": ""}}, "status": {
            "conditions": [{"type": "Ready", "status": "True"}]}})
        rc, out, err = self.kubectl("get", "sts,ds,cj,jobs,svc", "-n", "default")
        self.assertEqual((rc, err), (0, ""))
        heads = [b.splitlines()[0].split() for b in out.strip().split("\n\n")]
        self.assertEqual(heads, [["NAME", "READY", "AGE"],
                                 ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE",
                                  "SELECTOR", "AGE"],
                                 ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"],
                                 ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
                                 ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]])
        rc, out, err = self.kubectl("get", "nodes")
        self.assertEqual(out.splitlines()[1].split()[:3], ["worker-1", "Ready", "worker"])


# ======================================================================================
@unittest.skipIf(SKIP_REAL_CLIENTS, "K8S_API_SERVER_SKIP_REAL_CLIENTS=1")
class WorkloadPythonKubernetesTests(WorkloadCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            import kubernetes  # noqa: F401
        except ImportError as e:
            raise RuntimeError("Debian's python3-kubernetes is needed (apt-get install python3-kubernetes): %s" % e)

    def client(self):
        from kubernetes import client, config
        cfg = client.Configuration()
        config.load_kube_config(config_file=self.srv.kubeconfig, client_configuration=cfg)
        api = client.ApiClient(cfg)
        self.addCleanup(api.close)
        self.addCleanup(api.rest_client.pool_manager.clear)
        return client, api

    def test_read_calls(self):
        self.make_ns("shop", labels={"kubernaut.ai/managed": "true"})
        d, rs, pod = self.deployment_chain("shop")
        for kind, name, own in (("StatefulSet", "db", None), ("DaemonSet", "agent", None), ("CronJob", "nightly", None),
                                ("Job", "nightly-29001", [owner("CronJob", "nightly", "77")]),
                                ("Pod", "db-0", [owner("StatefulSet", "db", "78")]), ("Service", "web", None)):
            self.make(kind, name, "shop", owners=own)
        client, api = self.client()
        core, apps, batch = client.CoreV1Api(api), client.AppsV1Api(api), client.BatchV1Api(api)
        p = core.read_namespaced_pod("web-7d9f8-x2x4k", "shop")
        ref = p.metadata.owner_references[0]
        self.assertEqual((ref.api_version, ref.kind, ref.name, ref.uid, ref.controller, ref.block_owner_deletion),
                         ("apps/v1", "ReplicaSet", "web-7d9f8", rs["metadata"]["uid"], True, True))
        self.assertEqual(p.status.phase, "Pending")
        self.assertEqual(apps.read_namespaced_replica_set("web-7d9f8", "shop").metadata.owner_references[0].name, "web")
        self.assertEqual(apps.read_namespaced_deployment("web", "shop").spec.replicas, 1)
        self.assertEqual(apps.read_namespaced_stateful_set("db", "shop").status.replicas, 0)
        self.assertEqual(apps.read_namespaced_daemon_set("agent", "shop").status.number_ready, 0)
        self.assertEqual(batch.read_namespaced_job("nightly-29001", "shop").metadata.owner_references[0].kind, "CronJob")
        self.assertEqual(batch.read_namespaced_cron_job("nightly", "shop").spec.schedule, "*/5 * * * *")
        self.assertEqual(core.read_namespaced_service("web", "shop").spec.selector, {"app": "web"})
        self.assertEqual(core.read_namespace("shop").metadata.labels["kubernaut.ai/managed"], "true")
        pods = core.list_namespaced_pod("shop", label_selector="app=web")
        self.assertEqual([i.metadata.name for i in pods.items], ["web-7d9f8-x2x4k"])
        self.assertEqual(len(apps.list_deployment_for_all_namespaces().items), 1)
        self.assertEqual([i.metadata.name for i in batch.list_namespaced_job("shop").items], ["nightly-29001"])
        with self.assertRaises(client.exceptions.ApiException) as cm:
            apps.read_namespaced_replica_set("gone", "shop")
        self.assertEqual(cm.exception.status, 404)


if __name__ == "__main__":
    unittest.main(verbosity=2)
