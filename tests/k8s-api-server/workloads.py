# The built-in kinds a signal's target can be, and the objects upstream Kubernaut's owner
# resolution reads: Pods, Services, Nodes (core/v1), ReplicaSets, Deployments, StatefulSets,
# DaemonSets (apps/v1), Jobs, CronJobs (batch/v1). Stored as given, ownerReferences and
# labels included; no controller acts on them (nothing creates a Pod from a Deployment).
# Also the ownerReferences check every object gets (apimachinery's ValidateOwnerReferences).

import re
import time

import apierrors as E
import resources
import validation

WORKLOAD = "workload"      # Resource.kind_of of every kind here

_NONE = "<none>"
# built-in printers (k8s.io/kubernetes/pkg/printers/internalversion) type Age as a string
_AGE = {"name": "Age", "type": "string", "format": "",
        "description": "CreationTimestamp is a timestamp representing the server time when this object was "
                       "created. It is not guaranteed to be set in happens-before order across separate "
                       "operations. Clients may not set this value. It is represented in RFC3339 form and is "
                       "in UTC.", "priority": 0}


def _col(name, type_="string", description="", priority=0):
    return {"name": name, "type": type_, "format": "", "description": description, "priority": priority}


def _containers_col(priority=1):
    return _col("Containers", description="Names of each container in the template.", priority=priority)


def _images_col(priority=1):
    return _col("Images", description="Images referenced by each container in the template.", priority=priority)


def _selector_col(description="A label query over pods that should match the replica count."):
    return _col("Selector", description=description, priority=1)


def _int(v):
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def _get(o, *path):
    for p in path:
        o = o.get(p) if isinstance(o, dict) else None
    return o


def _containers(pod_spec):
    cs = _get(pod_spec, "containers")
    return [c for c in cs if isinstance(c, dict)] if isinstance(cs, list) else []


def _names_images(pod_spec):
    cs = _containers(pod_spec)
    return ",".join(str(c.get("name", "")) for c in cs), ",".join(str(c.get("image", "")) for c in cs)


def format_label_selector(sel):
    """metav1.FormatLabelSelector."""
    if not isinstance(sel, dict):
        return _NONE
    parts = ["%s=%s" % (k, v) for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        op, key, values = e.get("operator", ""), e.get("key", ""), e.get("values") or []
        if op == "In":
            parts.append("%s in (%s)" % (key, ",".join(values)))
        elif op == "NotIn":
            parts.append("%s notin (%s)" % (key, ",".join(values)))
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append("!" + key)
    s = ",".join(parts)
    return s if s else _NONE


def _format_labels(m):
    """labels.FormatLabels: "k=v,..." sorted, "<none>" when empty."""
    if not isinstance(m, dict) or not m:
        return _NONE
    return ",".join("%s=%s" % (k, v) for k, v in sorted(m.items()))


def _since(ts):
    t = resources.parse_time(ts)
    return _NONE if t is None else resources.human_duration(time.time() - t)


# ---- table cells, as the built-in printers make them -----------------------------------------

def _pod_cells(o):
    spec, st, m = o.get("spec") or {}, o.get("status") or {}, o["metadata"]
    statuses = [c for c in st.get("containerStatuses") or [] if isinstance(c, dict)]
    ready = sum(1 for c in statuses if c.get("ready") is True)
    restarts = sum(_int(c.get("restartCount")) for c in statuses)
    reason = st.get("reason") or st.get("phase") or ""
    for c in reversed(statuses):
        w, t = _get(c, "state", "waiting", "reason"), _get(c, "state", "terminated", "reason")
        if w or t:
            reason = w or t
            break
    if m.get("deletionTimestamp"):
        reason = "Terminating"
    gates = spec.get("readinessGates") or []
    return [m["name"], "%d/%d" % (ready, len(_containers(spec))), reason, str(restarts), resources.age(o),
            st.get("podIP") or _NONE, spec.get("nodeName") or _NONE, st.get("nominatedNodeName") or _NONE,
            "%d/%d" % (0, len(gates)) if gates else _NONE]


def _rs_cells(o):
    spec, st = o.get("spec") or {}, o.get("status") or {}
    c, i = _names_images(_get(spec, "template", "spec"))
    return [o["metadata"]["name"], _int(spec.get("replicas")), _int(st.get("replicas")), _int(st.get("readyReplicas")),
            resources.age(o), c, i, format_label_selector(spec.get("selector"))]


def _deploy_cells(o):
    spec, st = o.get("spec") or {}, o.get("status") or {}
    c, i = _names_images(_get(spec, "template", "spec"))
    return [o["metadata"]["name"], "%d/%d" % (_int(st.get("readyReplicas")), _int(spec.get("replicas"))),
            _int(st.get("updatedReplicas")), _int(st.get("availableReplicas")), resources.age(o), c, i,
            format_label_selector(spec.get("selector"))]


def _sts_cells(o):
    spec, st = o.get("spec") or {}, o.get("status") or {}
    c, i = _names_images(_get(spec, "template", "spec"))
    return [o["metadata"]["name"], "%d/%d" % (_int(st.get("readyReplicas")), _int(spec.get("replicas"))),
            resources.age(o), c, i]


def _ds_cells(o):
    spec, st = o.get("spec") or {}, o.get("status") or {}
    c, i = _names_images(_get(spec, "template", "spec"))
    return [o["metadata"]["name"], _int(st.get("desiredNumberScheduled")), _int(st.get("currentNumberScheduled")),
            _int(st.get("numberReady")), _int(st.get("updatedNumberScheduled")), _int(st.get("numberAvailable")),
            _format_labels(_get(spec, "template", "spec", "nodeSelector")), resources.age(o), c, i,
            format_label_selector(spec.get("selector"))]


def _has_condition(st, t):
    return any(isinstance(c, dict) and c.get("type") == t and c.get("status") == "True"
               for c in st.get("conditions") or [])


def _job_cells(o):
    spec, st, m = o.get("spec") or {}, o.get("status") or {}, o["metadata"]
    if isinstance(spec.get("completions"), int):
        completions = "%d/%d" % (_int(st.get("succeeded")), spec["completions"])
    elif _int(spec.get("parallelism")) > 1:
        completions = "%d/1 of %d" % (_int(st.get("succeeded")), spec["parallelism"])
    else:
        completions = "%d/1" % _int(st.get("succeeded"))
    start, end = resources.parse_time(st.get("startTime")), resources.parse_time(st.get("completionTime"))
    duration = ""
    if start is not None:
        duration = resources.human_duration((end if end is not None else time.time()) - start)
    if _has_condition(st, "Complete"):
        status = "Complete"
    elif _has_condition(st, "Failed"):
        status = "Failed"
    elif m.get("deletionTimestamp"):
        status = "Terminating"
    elif _has_condition(st, "Suspended"):
        status = "Suspended"
    elif _has_condition(st, "FailureTarget"):
        status = "FailureTarget"
    elif _has_condition(st, "SuccessCriteriaMet"):
        status = "SuccessCriteriaMet"
    else:
        status = "Running"
    c, i = _names_images(_get(spec, "template", "spec"))
    return [m["name"], status, completions, duration, resources.age(o), c, i, format_label_selector(spec.get("selector"))]


def _cronjob_cells(o):
    spec, st = o.get("spec") or {}, o.get("status") or {}
    suspend = spec.get("suspend")
    c, i = _names_images(_get(spec, "jobTemplate", "spec", "template", "spec"))
    return [o["metadata"]["name"], spec.get("schedule", ""), spec.get("timeZone") or _NONE,
            _NONE if suspend is None else ("True" if suspend else "False"),
            len(st.get("active") or []), _since(st.get("lastScheduleTime")) if st.get("lastScheduleTime") else _NONE,
            resources.age(o), c, i, format_label_selector(_get(spec, "jobTemplate", "spec", "selector"))]


def _service_cells(o):
    spec = o.get("spec") or {}
    ports = []
    for p in spec.get("ports") or []:
        if not isinstance(p, dict):
            continue
        s = "%s/%s" % (p.get("port", ""), p.get("protocol", "TCP"))
        if p.get("nodePort"):
            s = "%s:%s/%s" % (p.get("port", ""), p["nodePort"], p.get("protocol", "TCP"))
        ports.append(s)
    external = ",".join(spec.get("externalIPs") or []) or _NONE
    return [o["metadata"]["name"], spec.get("type", "ClusterIP"), spec.get("clusterIP") or _NONE, external,
            ",".join(ports) or _NONE, resources.age(o), _format_labels(spec.get("selector"))]


def _node_cells(o):
    m, st = o["metadata"], o.get("status") or {}
    ready = "Unknown"
    for c in st.get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == "Ready":
            ready = "Ready" if c.get("status") == "True" else "NotReady"
    if _get(o, "spec", "unschedulable"):
        ready += ",SchedulingDisabled"
    roles = sorted(k[len("node-role.kubernetes.io/"):] for k in (m.get("labels") or {})
                   if k.startswith("node-role.kubernetes.io/"))
    return [m["name"], ready, ",".join(roles) or _NONE, resources.age(o),
            _get(st, "nodeInfo", "kubeletVersion") or ""]


# ---- the served kinds --------------------------------------------------------------------------

def workload_resources():
    R, N = resources.Resource, resources.NAME_COLUMN
    all_ = ["all"]
    return [
        R("", "v1", "pods", "pod", "Pod", True, WORKLOAD, short_names=["po"], categories=all_, status=True,
          field_labels=["spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
                        "status.phase", "status.podIP", "status.nominatedNodeName"],
          columns=[N, _col("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
                   _col("Status", description="The aggregate status of the containers in this pod."),
                   _col("Restarts", description="The number of times the containers in this pod have been "
                                                "restarted and when the last container in this pod has restarted."),
                   _AGE, _col("IP", description="IP address allocated to the pod.", priority=1),
                   _col("Node", description="NodeName indicates in which node this pod is scheduled.", priority=1),
                   _col("Nominated Node", description="nominatedNodeName is set only when this pod preempts other "
                                                      "pods on the node.", priority=1),
                   _col("Readiness Gates", description="If specified, all readiness gates will be evaluated for "
                                                       "pod readiness.", priority=1)],
          cells=_pod_cells),
        R("", "v1", "services", "service", "Service", True, WORKLOAD, short_names=["svc"], categories=all_, status=True,
          name_check=is_dns1035_label,
          columns=[N, _col("Type", description="type determines how the Service is exposed."),
                   _col("Cluster-IP", description="clusterIP is the IP address of the service."),
                   _col("External-IP", description="externalIPs is a list of IP addresses for which nodes in the "
                                                   "cluster will also accept traffic for this service."),
                   _col("Port(s)", description="The list of ports that are exposed by this service."), _AGE,
                   _selector_col("Route service traffic to pods with label keys and values matching this "
                                 "selector.")],
          cells=_service_cells),
        R("", "v1", "nodes", "node", "Node", False, WORKLOAD, short_names=["no"], status=True,
          columns=[N, _col("Status", description="The status of the node"),
                   _col("Roles", description="The roles of the node"), _AGE,
                   _col("Version", description="Kubelet Version reported by the node.")],
          cells=_node_cells),
        R("apps", "v1", "replicasets", "replicaset", "ReplicaSet", True, WORKLOAD, short_names=["rs"],
          categories=all_, status=True, field_labels=["status.replicas"],
          columns=[N, _col("Desired", "integer", "Replicas is the number of desired replicas."),
                   _col("Current", "integer", "Replicas is the most recently observed number of replicas."),
                   _col("Ready", "integer", "The number of ready replicas for this replica set."), _AGE,
                   _containers_col(), _images_col(), _selector_col()],
          cells=_rs_cells),
        R("apps", "v1", "deployments", "deployment", "Deployment", True, WORKLOAD, short_names=["deploy"],
          categories=all_, status=True,
          columns=[N, _col("Ready", description="Number of the pod with ready state"),
                   _col("Up-to-date", description="Total number of non-terminated pods targeted by this "
                                                  "deployment that have the desired template spec."),
                   _col("Available", description="Total number of available pods (ready for at least "
                                                 "minReadySeconds) targeted by this deployment."), _AGE,
                   _containers_col(), _images_col(),
                   _selector_col("Label selector for pods. Existing ReplicaSets whose pods are selected by this "
                                 "will be the ones affected by this deployment.")],
          cells=_deploy_cells),
        R("apps", "v1", "statefulsets", "statefulset", "StatefulSet", True, WORKLOAD, short_names=["sts"],
          categories=all_, status=True,
          columns=[N, _col("Ready", description="Number of the pod with ready state"), _AGE,
                   _containers_col(), _images_col()],
          cells=_sts_cells),
        R("apps", "v1", "daemonsets", "daemonset", "DaemonSet", True, WORKLOAD, short_names=["ds"],
          categories=all_, status=True,
          columns=[N, _col("Desired", "integer", "The total number of nodes that should be running the daemon pod."),
                   _col("Current", "integer", "The number of nodes that are running at least 1 daemon pod and are "
                                              "supposed to run the daemon pod."),
                   _col("Ready", "integer", "numberReady is the number of nodes that should be running the daemon "
                                            "pod and have one or more of the daemon pod running with a Ready "
                                            "Condition."),
                   _col("Up-to-date", "integer", "The total number of nodes that are running updated daemon pod"),
                   _col("Available", "integer", "The number of nodes that should be running the daemon pod and have "
                                                "one or more of the daemon pod running and available."),
                   _col("Node Selector", description="NodeSelector is a selector which must be true for the pod to "
                                                     "fit on a node."), _AGE,
                   _containers_col(), _images_col(),
                   _selector_col("A label query over pods that are managed by the daemon set.")],
          cells=_ds_cells),
        R("batch", "v1", "jobs", "job", "Job", True, WORKLOAD, categories=all_, status=True,
          field_labels=["status.successful"],
          columns=[N, _col("Status", description="Status of the job."),
                   _col("Completions", description="The desired number of successfully finished pods the job "
                                                   "should be run with."),
                   _col("Duration", description="Time required to complete the job."), _AGE,
                   _containers_col(), _images_col(),
                   _selector_col("A label query over pods that should match the pod count.")],
          cells=_job_cells),
        R("batch", "v1", "cronjobs", "cronjob", "CronJob", True, WORKLOAD, short_names=["cj"], categories=all_,
          status=True,
          columns=[N, _col("Schedule", description="The schedule in Cron format, see "
                                                   "https://en.wikipedia.org/wiki/Cron."),
                   _col("Timezone", description="The time zone name for the given schedule."),
                   _col("Suspend", "boolean", "This flag tells the controller to suspend subsequent executions."),
                   _col("Active", "integer", "A list of pointers to currently running jobs."),
                   _col("Last Schedule", description="Information when was the last time the job was successfully "
                                                     "scheduled."), _AGE,
                   _containers_col(), _images_col(),
                   _selector_col("A label query over pods that should match the pod count.")],
          cells=_cronjob_cells),
    ]


DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_LABEL_RE = re.compile("^(?:" + DNS1035_LABEL_FMT + ")$")


def is_dns1035_label(v):
    """validation.IsDNS1035Label (Service names)."""
    errs = []
    if len(v) > 63:
        errs.append(validation.max_len_error(63))
    if not _DNS1035_LABEL_RE.match(v):
        errs.append(validation.regex_error(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
            "character, and end with an alphanumeric character", DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


# ---- create: what the real strategies' PrepareForCreate and defaulting do --------------------

def _qos_class(spec):
    """v1qos.GetPodQOS, simplified: BestEffort without any requests or limits; Guaranteed when every
    container limits cpu and memory and requests (if given) equal the limits; else Burstable."""
    cs = _containers(spec)
    res = [c.get("resources") or {} for c in cs]
    if not any((r.get("requests") or r.get("limits")) for r in res):
        return "BestEffort"
    for r in res:
        lim, req = r.get("limits") or {}, r.get("requests") or {}
        if not ("cpu" in lim and "memory" in lim):
            return "Burstable"
        if any(req.get(k, lim[k]) != lim[k] for k in ("cpu", "memory")):
            return "Burstable"
    return "Guaranteed"


# the status fields Go encodes even when zero (no omitempty)
_EMPTY_STATUS = {
    "ReplicaSet": {"replicas": 0},
    "StatefulSet": {"replicas": 0, "availableReplicas": 0},
    "DaemonSet": {"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0,
                  "numberReady": 0},
}


def prepare_create(res, obj):
    """Status as a new object's (a Pod is Pending), generation 1 for the controllers' kinds, and the
    few defaults the tables print (replicas 1, a Job's completions and parallelism 1, a CronJob's
    suspend false). No other defaulting."""
    spec = obj.get("spec")
    if res.kind == "Pod":
        obj["status"] = {"phase": "Pending", "qosClass": _qos_class(spec if isinstance(spec, dict) else {})}
        return
    if res.kind == "Service":
        obj["status"] = {"loadBalancer": {}}
        if isinstance(spec, dict):
            spec.setdefault("type", "ClusterIP")
        return
    if res.kind == "Node":
        obj.setdefault("status", {})
        return
    obj["metadata"]["generation"] = 1
    obj["status"] = dict(_EMPTY_STATUS.get(res.kind, {}))
    if not isinstance(spec, dict):
        return
    if res.kind in ("Deployment", "ReplicaSet", "StatefulSet"):
        spec.setdefault("replicas", 1)
    elif res.kind == "Job" and "completions" not in spec and "parallelism" not in spec:
        spec["completions"], spec["parallelism"] = 1, 1
    elif res.kind == "CronJob":
        spec.setdefault("suspend", False)


# ---- ownerReferences (apimachinery/pkg/api/validation ValidateOwnerReferences) -----------------

OWNER_REF_FIELDS = {"apiVersion": str, "kind": str, "name": str, "uid": str, "controller": bool,
                    "blockOwnerDeletion": bool}
_GO_TYPE = {str: "string", bool: "bool"}


def _json_kind(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if v is None:
        return "null"
    return "object"


def check_owner_reference_types(res, meta):
    """The decoding errors a typed server gives for a malformed ownerReferences list (400)."""
    refs = meta.get("ownerReferences")
    if refs is None:
        return

    def fail(text):
        raise E.bad_request('%s in version "%s" cannot be handled as a %s: json: cannot unmarshal %s'
                            % (res.kind, res.version, res.kind, text))
    if not isinstance(refs, list):
        fail("%s into Go struct field ObjectMeta.metadata.ownerReferences of type []v1.OwnerReference"
             % _json_kind(refs))
    for r in refs:
        if not isinstance(r, dict):
            fail("%s into Go struct field ObjectMeta.metadata.ownerReferences of type v1.OwnerReference"
                 % _json_kind(r))
        for k, t in OWNER_REF_FIELDS.items():
            if k in r and r[k] is not None and not (isinstance(r[k], t) and (t is bool or not isinstance(r[k], bool))):
                fail("%s into Go struct field OwnerReference.metadata.ownerReferences.%s of type %s"
                     % (_json_kind(r[k]), k, _GO_TYPE[t]))


def _version_of(api_version):
    """schema.FromAPIVersionAndKind's version: "" when apiVersion does not parse."""
    if not api_version:
        return ""
    parts = api_version.split("/")
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        return parts[1]
    return ""


def validate_owner_references(meta, path="metadata.ownerReferences"):
    errs = []
    first_controller = ""
    for r in meta.get("ownerReferences") or []:
        if not isinstance(r, dict):
            continue
        av, kind = r.get("apiVersion") or "", r.get("kind") or ""
        if not _version_of(av):
            errs.append(E.invalid(path + ".apiVersion", av, "version must not be empty"))
        if not kind:
            errs.append(E.invalid(path + ".kind", kind, "must not be empty"))
        if not r.get("name"):
            errs.append(E.invalid(path + ".name", r.get("name") or "", "must not be empty"))
        if not r.get("uid"):
            errs.append(E.invalid(path + ".uid", r.get("uid") or "", "must not be empty"))
        if _version_of(av) == "v1" and "/" not in av and kind == "Event":
            errs.append(E.invalid(path, r, "/v1, Kind=Event is disallowed from being an owner"))
        if r.get("controller") is True:
            cur = "%s/%s" % (kind, r.get("name") or "")
            if first_controller:
                errs.append(E.invalid(path, meta["ownerReferences"],
                                      'Only one reference can have Controller set to true. Found "true" in '
                                      'references for %s and %s' % (first_controller, cur)))
            else:
                first_controller = cur
    return errs
