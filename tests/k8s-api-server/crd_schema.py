# Custom resources served from a CustomResourceDefinition file, as the apiextensions server
# serves them: the openAPIV3Schema (validation and pruning), additionalPrinterColumns (the
# `kubectl get` table), selectableFields (field selectors), the status subresource.
# Used for upstream Kubernaut's kubernaut.ai RemediationRequest, loaded unchanged from
# deploy/crd/kubernaut.ai/remediationrequests.yaml.

import json
import os
import time

import mini_yaml
import resources

HERE = os.path.dirname(os.path.abspath(__file__))
KUBERNAUT_AI_CRD = os.path.normpath(os.path.join(HERE, "..", "..", "deploy", "crd", "kubernaut.ai",
                                                 "remediationrequests.yaml"))
NAME_COLUMN = resources.NAME_COLUMN


def load_crd(path):
    """The CustomResourceDefinition document of a YAML file."""
    with open(path, encoding="utf-8") as f:
        docs = mini_yaml.load_all(f.read())
    for d in docs:
        if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition":
            return d
    raise ValueError("%s: no CustomResourceDefinition" % path)


def json_path(obj, path):
    """A simple JSONPath (`.a.b.c`, as printer columns and selectableFields use) -> value,
    or None when a step is missing."""
    cur = obj
    for step in path.strip().lstrip(".").split("."):
        if not isinstance(cur, dict) or step not in cur:
            return None
        cur = cur[step]
    return cur


def _go_text(v):
    """client-go jsonpath's text of a value (fmt.Print; JSON for maps and lists)."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e21 else repr(v)
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"), sort_keys=True)
    return str(v)


def _cell(col_type, v):
    """tableconvertor.cellForJSONValue (string columns print any value as text)."""
    if v is None:
        return None
    if col_type == "string":
        return _go_text(v)
    if col_type == "integer" and isinstance(v, (int, float)) and not isinstance(v, bool):
        return int(v)
    if col_type == "number" and isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    if col_type == "boolean" and isinstance(v, bool):
        return v
    if col_type == "date" and isinstance(v, str):
        t = resources.parse_time(v)
        return "<invalid>" if t is None else resources.human_duration(time.time() - t)
    return None


def printer_columns(cols):
    """(columnDefinitions, cells function) of a CRD version's additionalPrinterColumns."""
    defs = [NAME_COLUMN]
    for c in cols:
        defs.append({"name": c["name"], "type": c.get("type", "string"), "format": c.get("format", ""),
                     "description": c.get("description") or
                     "Custom resource definition column (in JSONPath format): %s" % c["jsonPath"],
                     "priority": c.get("priority", 0)})

    def cells(o):
        return [o["metadata"]["name"]] + [_cell(c.get("type", "string"), json_path(o, c["jsonPath"])) for c in cols]
    return defs, cells


def selectable_fields(version):
    """The field labels of a CRD version's selectableFields (its JSONPath without the dot)."""
    return [sf["jsonPath"].lstrip(".") for sf in version.get("selectableFields") or []]


def resources_from_crd(crd):
    """A served Resource per served version, with schema, columns and selectable fields."""
    spec = crd["spec"]
    names = spec["names"]
    out = []
    for v in spec.get("versions") or []:
        if not v.get("served", True):
            continue
        schema = ((v.get("schema") or {}).get("openAPIV3Schema")) or {"type": "object"}
        kw = {}
        if v.get("additionalPrinterColumns"):
            kw["columns"], kw["cells"] = printer_columns(v["additionalPrinterColumns"])
        sel = selectable_fields(v)
        r = resources.Resource(spec["group"], v.get("name", ""), names["plural"],
                               names.get("singular") or names["kind"].lower(), names["kind"],
                               spec.get("scope", "Namespaced") == "Namespaced", "custom",
                               short_names=names.get("shortNames") or [], categories=names.get("categories") or [],
                               status="status" in (v.get("subresources") or {}), schema=schema,
                               unconditional_update=False, field_labels=sorted(sel), **kw)
        if names.get("listKind"):
            r.list_kind = names["listKind"]
        out.append(r)
    return out


_CACHE = {}


def builtin_crd_resources():
    """The CRD-file resources served from the start (upstream's kubernaut.ai RemediationRequest)."""
    if KUBERNAUT_AI_CRD not in _CACHE:
        _CACHE[KUBERNAUT_AI_CRD] = load_crd(KUBERNAUT_AI_CRD)
    return resources_from_crd(_CACHE[KUBERNAUT_AI_CRD])
