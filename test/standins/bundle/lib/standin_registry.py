# STAND-IN support code from kubeha's test tree (test/standins): NOT part of Kubernetes.
# The kube-apiserver stand-in's object registry: which resources exist (built-in ones plus those of
# stored CustomResourceDefinitions), their discovery documents (/api, /apis, /api/v1, /apis/G/V) and a
# small OpenAPI v3 index that tells kubectl the server validates fields itself (fieldValidation), the
# checks a real API server makes before storing (namespace exists, name is a DNS subdomain, required
# fields, selector matches labels, unknown fields under fieldValidation=Strict), and the patch types
# `kubectl apply` sends (JSON merge patch, and strategic merge patch with the merge keys of the
# built-in types kubeha's manifests use). Error texts are the real server's.
# Secrets: `stringData` is folded into `data` (base64) on create and update, as the real server does.
# For binary mode's kube-apiserver: certificates.k8s.io/v1 CertificateSigningRequest validation (the
# PEM request parsed and its signature checked with the `openssl` CLI), the subject/usage checks of the
# kubelet client recognizer (pkg/apis/certificates helpers), and a small RBAC evaluator over the stored
# ClusterRoleBindings with the rules of the bootstrap ClusterRoles that TLS bootstrapping uses.
"""Object registry of the kube-apiserver stand-in (stdlib only)."""

import base64
import copy
import json
import random
import re
import subprocess
import time
import uuid

# (group, version, kind, plural, namespaced, shortNames)
BUILTIN = [
    ("", "v1", "Namespace", "namespaces", False, ["ns"]),
    ("", "v1", "Node", "nodes", False, ["no"]),
    ("", "v1", "ConfigMap", "configmaps", True, ["cm"]),
    ("", "v1", "Secret", "secrets", True, []),
    ("", "v1", "ServiceAccount", "serviceaccounts", True, ["sa"]),
    ("", "v1", "Service", "services", True, ["svc"]),
    ("", "v1", "Endpoints", "endpoints", True, ["ep"]),
    ("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True, []),
    ("", "v1", "Pod", "pods", True, ["po"]),
    ("apps", "v1", "DaemonSet", "daemonsets", True, ["ds"]),
    ("apps", "v1", "Deployment", "deployments", True, ["deploy"]),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False, []),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False, []),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", True, []),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True, []),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False, ["crd", "crds"]),
    ("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True, ["pdb"]),
    # Served by the apiserver stand-in's own Lease handler (get/list/create/update); listed for discovery.
    ("coordination.k8s.io", "v1", "Lease", "leases", True, []),
]
WITH_STATUS = {"nodes", "daemonsets", "deployments", "customresourcedefinitions", "pods", "namespaces"}
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
# Namespaces every cluster has from the start (created by the real API server itself).
SYSTEM_NAMESPACES = ["default", "kube-node-lease", "kube-public", "kube-system"]

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class ApiError(Exception):
    """A failure answered as a Status object: code, reason, message, optional details/causes."""

    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details


def not_found_resource():
    return ApiError(404, "NotFound", "the server could not find the requested resource")


class Resource:
    def __init__(self, group, version, kind, plural, namespaced, short=(), crd=None):
        self.group, self.version, self.kind, self.plural = group, version, kind, plural
        self.namespaced, self.short, self.crd = namespaced, list(short), crd

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self):
        """`daemonsets.apps`, `configmaps`: how the real server names a resource in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def discovery(self):
        out = [{"name": self.plural, "singularName": self.kind.lower(), "namespaced": self.namespaced,
                "kind": self.kind, "verbs": VERBS, **({"shortNames": self.short} if self.short else {})}]
        if self.plural in WITH_STATUS or (self.crd and self.crd.get("status")):
            out.append({"name": f"{self.plural}/status", "singularName": "", "namespaced": self.namespaced,
                        "kind": self.kind, "verbs": ["get", "patch", "update"]})
        return out


def resources(crds):
    """Every served resource: the built-in table plus each established CRD's served versions."""
    out = [Resource(*r) for r in BUILTIN]
    for crd in crds:
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        for v in spec.get("versions") or []:
            if v.get("served"):
                out.append(Resource(spec.get("group"), v.get("name"), names.get("kind"), names.get("plural"),
                                    spec.get("scope") == "Namespaced", names.get("shortNames") or [],
                                    crd=v.get("subresources") or {}))
    return out


def tolerated(taints, tolerations):
    """True when the tolerations tolerate every NoSchedule/NoExecute taint (the scheduler's rule)."""
    for t in taints or []:
        if t.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if not any((tol.get("operator") == "Exists" and (not tol.get("key") or tol.get("key") == t.get("key")) or
                    tol.get("key") == t.get("key") and tol.get("value", "") == t.get("value", "")) and
                   (not tol.get("effect") or tol.get("effect") == t.get("effect")) for tol in tolerations or []):
            return False
    return True


def find(res, group, version, plural):
    for r in res:
        if r.group == group and r.version == version and r.plural == plural:
            return r
    return None


def group_versions(res):
    """{group: [versions]} in first-seen order (the core group "" first)."""
    out = {}
    for r in res:
        vs = out.setdefault(r.group, [])
        if r.version not in vs:
            vs.append(r.version)
    return out


def api_versions(server_address):
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def api_group_list(res):
    groups = []
    for g, vs in group_versions(res).items():
        if not g:
            continue
        gvs = [{"groupVersion": f"{g}/{v}", "version": v} for v in vs]
        groups.append({"name": g, "versions": gvs, "preferredVersion": gvs[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(res, group):
    vs = group_versions(res).get(group)
    if not vs:
        raise not_found_resource()
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in vs]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": gvs, "preferredVersion": gvs[0]}


def resource_list(res, group, version):
    mine = [r for r in res if r.group == group and r.version == version]
    if not mine:
        raise not_found_resource()
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": mine[0].api_version,
            "resources": [d for r in mine for d in r.discovery()]}


def openapi_root(res):
    """/openapi/v3: one entry per group-version, as the real server lists them."""
    paths = {}
    for g, vs in group_versions(res).items():
        for v in vs:
            p = f"apis/{g}/{v}" if g else f"api/{v}"
            paths[p] = {"serverRelativeURL": f"/openapi/v3/{p}?hash=standin"}
    return {"paths": paths}


def openapi_gv(res, group, version):
    """/openapi/v3/apis/G/V: the PATCH operation of each kind, declaring the fieldValidation parameter.

    kubectl reads only this to learn that the server validates fields itself (then it sends
    ?fieldValidation=Strict instead of validating against a downloaded schema). No schemas are served.
    """
    mine = [r for r in res if r.group == group and r.version == version]
    if not mine:
        raise not_found_resource()
    paths = {}
    for r in mine:
        base = f"/apis/{r.api_version}" if r.group else f"/api/{r.version}"
        path = f"{base}/namespaces/{{namespace}}/{r.plural}/{{name}}" if r.namespaced else f"{base}/{r.plural}/{{name}}"
        gvk = {"group": r.group, "version": r.version, "kind": r.kind}
        params = [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                  for n in ("dryRun", "fieldManager", "fieldValidation", "force")]
        paths[path] = {"patch": {"operationId": f"patch{r.kind}", "parameters": params,
                                 "x-kubernetes-action": "patch", "x-kubernetes-group-version-kind": gvk,
                                 "responses": {"200": {"description": "OK"}}}}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes (kube-apiserver stand-in)", "version": "standin"},
            "paths": paths}


def _pb_string(field, text):
    data = text.encode()
    return bytes([field << 3 | 2, len(data)]) + data


def openapi_v2_protobuf(git_version):
    """/openapi/v2 (protobuf, the only form kubectl reads): an empty document, no paths or definitions.

    kubectl then finds no schema for any kind and leaves validation to the server (fieldValidation) and
    unknown kinds to its REST mapping, whose error is the real one ("no matches for kind ...").
    """
    info = _pb_string(1, "Kubernetes (kube-apiserver stand-in)") + _pb_string(2, git_version)
    return _pb_string(1, "2.0") + bytes([2 << 3 | 2, len(info)]) + info


def defaults(r, obj):
    """The defaults the real server fills in that clients read back (rollout status needs the strategy)."""
    if r.kind == "Secret" and isinstance(obj.get("stringData"), dict):
        # The real server's conversion: stringData is write-only, merged over data, never stored.
        data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
        for k, v in obj.pop("stringData").items():
            data[k] = base64.b64encode(str(v).encode()).decode()
        obj["data"] = data
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if r.kind == "DaemonSet":
        spec.setdefault("updateStrategy", {"type": "RollingUpdate",
                                           "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        spec.setdefault("revisionHistoryLimit", 10)
    elif r.kind == "Deployment":
        spec.setdefault("replicas", 1)
        spec.setdefault("strategy", {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)


# -- validation ----------------------------------------------------------------------------------

def invalid(r, name, causes):
    """422 Invalid with the real message layout: `Kind.group "name" is invalid: [field: reason, ...]`."""
    kind_group = f"{r.kind}.{r.group}" if r.group else r.kind
    texts = [f"{c['field']}: {c['message']}" for c in causes]
    msg = f'{kind_group} "{name}" is invalid: ' + (texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]")
    return ApiError(422, "Invalid", msg, {"name": name, "group": r.group, "kind": r.kind,
                                          "causes": [{"reason": c["reason"], "message": c["message"],
                                                      "field": c["field"]} for c in causes]})


def _required(field):
    return {"reason": "FieldValueRequired", "message": "Required value", "field": field}


def _bad(field, value, why):
    return {"reason": "FieldValueInvalid", "message": f"Invalid value: {_go(value)}: {why}", "field": field}


def _go(v):
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, dict):
        return "map[string]string{" + ", ".join(f'"{k}":"{x}"' for k, x in sorted(v.items())) + "}"
    return repr(v)


SUBDOMAIN_WHY = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                 "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                 "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_WHY = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
             "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")


def _pod_spec(spec, at, causes):
    if not isinstance(spec, dict):
        causes.append(_required(at))
        return
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        causes.append(_required(f"{at}.containers"))
    for key in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(key) or []):
            if not isinstance(c, dict):
                causes.append(_required(f"{at}.{key}[{i}]"))
                continue
            if not c.get("name"):
                causes.append(_required(f"{at}.{key}[{i}].name"))
            elif not DNS1123_LABEL.match(c["name"]):
                causes.append(_bad(f"{at}.{key}[{i}].name", c["name"], LABEL_WHY))
            if not c.get("image"):
                causes.append(_required(f"{at}.{key}[{i}].image"))
    vols = {v.get("name") for v in spec.get("volumes") or [] if isinstance(v, dict)}
    for key in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(key) or []):
            for j, m in enumerate((c or {}).get("volumeMounts") or []):
                if m.get("name") not in vols:
                    causes.append({"reason": "FieldValueNotFound", "field": f"{at}.{key}[{i}].volumeMounts[{j}].name",
                                   "message": f"Not found: {_go(m.get('name'))}"})


def _workload(obj, causes):
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        causes.append(_required("spec"))
        return
    sel = spec.get("selector")
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not isinstance(sel, dict) or not sel.get("matchLabels") and not sel.get("matchExpressions"):
        causes.append(_required("spec.selector"))
    elif any(labels.get(k) != v for k, v in (sel.get("matchLabels") or {}).items()):
        causes.append(_bad("spec.template.metadata.labels", labels, "`selector` does not match template `labels`"))
    _pod_spec((spec.get("template") or {}).get("spec"), "spec.template.spec", causes)


def validate(r, obj):
    """Raises ApiError 422 the way the real server's validation does, for the fields it checks."""
    meta = obj.get("metadata") or {}
    name = meta.get("name") or ""
    causes = []
    if not name:
        causes.append(_required("metadata.name"))
    elif r.kind == "Namespace" and not DNS1123_LABEL.match(name):
        causes.append(_bad("metadata.name", name, LABEL_WHY))
    elif r.group == "rbac.authorization.k8s.io":
        # RBAC objects' names are path segments (ValidatePathSegmentName): `kubeadm:kubelet-bootstrap` is valid.
        why = (f"may not be '{name}'" if name in (".", "..") else
               next((f"may not contain '{ch}'" for ch in ("/", "%") if ch in name), None))
        if why:
            causes.append(_bad("metadata.name", name, why))
    elif not DNS1123_SUBDOMAIN.match(name) or len(name) > 253:
        causes.append(_bad("metadata.name", name, SUBDOMAIN_WHY))
    for k, v in (meta.get("labels") or {}).items():
        if not isinstance(v, str) or len(v) > 63 or (v and not re.match(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$", v)):
            causes.append(_bad(f"metadata.labels", v, "a valid label must be an empty string or consist of "
                               "alphanumeric characters, '-', '_' or '.', and must start and end with an "
                               "alphanumeric character"))
    if r.kind in ("ConfigMap", "Secret"):
        for k in (obj.get("data") or {}):
            if not re.match(r"^[-._a-zA-Z0-9]+$", k):
                causes.append(_bad(f"data[{k}]", k, "a valid config key must consist of alphanumeric characters, "
                                   "'-', '_' or '.'"))
    if r.kind in ("DaemonSet", "Deployment"):
        _workload(obj, causes)
    if r.kind in ("ClusterRoleBinding", "RoleBinding"):
        ref = obj.get("roleRef") or {}
        for f in ("apiGroup", "kind", "name"):
            if f != "apiGroup" and not ref.get(f):
                causes.append(_required(f"roleRef.{f}"))
    if r.kind == "CustomResourceDefinition":
        spec = obj.get("spec") or {}
        names = spec.get("names") or {}
        want = f"{names.get('plural')}.{spec.get('group')}"
        if name != want:
            causes.append(_bad("metadata.name", name, f'must be spec.names.plural+"."+spec.group'))
        if spec.get("scope") not in ("Cluster", "Namespaced"):
            causes.append({"reason": "FieldValueNotSupported", "field": "spec.scope",
                           "message": f'Unsupported value: {_go(spec.get("scope"))}: supported values: "Cluster", "Namespaced"'})
        if sum(1 for v in spec.get("versions") or [] if v.get("storage")) != 1:
            causes.append(_bad("spec.versions", "", "must have exactly one version marked as storage version"))
    if causes:
        raise invalid(r, name, causes)


# Fields a real server knows, per kind, at the top level (strict field validation checks the rest
# in the real server; the stand-in checks the top level and metadata).
TOP_FIELDS = {"apiVersion", "kind", "metadata", "spec", "status", "data", "binaryData", "stringData", "type",
              "immutable", "rules", "roleRef", "subjects", "aggregationRule", "secrets", "imagePullSecrets",
              "automountServiceAccountToken"}
META_FIELDS = {"name", "namespace", "labels", "annotations", "generateName", "uid", "resourceVersion",
               "generation", "creationTimestamp", "deletionTimestamp", "finalizers", "ownerReferences",
               "managedFields", "selfLink", "deletionGracePeriodSeconds"}


def strict_fields(r, obj):
    """fieldValidation=Strict: unknown fields are a 400 BadRequest (`strict decoding error`)."""
    if r.crd is not None:
        return
    unknown = [f'unknown field "{k}"' for k in obj if k not in TOP_FIELDS]
    unknown += [f'unknown field "metadata.{k}"' for k in (obj.get("metadata") or {}) if k not in META_FIELDS]
    if unknown:
        raise ApiError(400, "BadRequest", f'{r.kind} in version "{r.version}" cannot be handled as a {r.kind}: '
                                          "strict decoding error: " + ", ".join(unknown))


# -- patches -------------------------------------------------------------------------------------

def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# patchMergeKey of the list fields in the built-in types kubeha's manifests use (others are replaced).
MERGE_KEYS = {"containers": "name", "initContainers": "name", "ephemeralContainers": "name", "volumes": "name",
              "env": "name", "volumeMounts": "mountPath", "ports": "containerPort", "imagePullSecrets": "name",
              "conditions": "type", "finalizers": None, "ownerReferences": "uid", "hostAliases": "ip",
              "topologySpreadConstraints": "topologyKey"}


def strategic_merge(target, patch):
    """Strategic merge patch (the subset kubectl apply produces: directives $patch, $retainKeys,
    $setElementOrder/F, $deleteFromPrimitiveList/F, merge keys per field as in the Go types)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for k, v in patch.items():
        if k.startswith("$setElementOrder/") or k in ("$retainKeys", "$patch"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            f = k.split("/", 1)[1]
            out[f] = [x for x in out.get(f) or [] if x not in v]
            continue
        if v is None:
            out.pop(k, None)
        elif isinstance(v, list) and k in MERGE_KEYS and isinstance(out.get(k), list):
            out[k] = _merge_list(out[k], v, MERGE_KEYS[k], patch.get(f"$setElementOrder/{k}"))
        elif isinstance(v, dict):
            merged = strategic_merge(out.get(k), v)
            if merged is None:
                out.pop(k, None)
            else:
                out[k] = merged
        else:
            out[k] = copy.deepcopy(v)
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _merge_list(cur, patch, key, order):
    if key is None:  # a set of primitives (finalizers): union
        return cur + [x for x in patch if x not in cur]
    items = [copy.deepcopy(x) for x in cur]
    for p in patch:
        if not isinstance(p, dict):
            continue
        idx = next((i for i, x in enumerate(items) if isinstance(x, dict) and x.get(key) == p.get(key)), None)
        if p.get("$patch") == "delete":
            if idx is not None:
                items.pop(idx)
        elif idx is None:
            items.append(strategic_merge({}, p))
        else:
            items[idx] = strategic_merge(items[idx], p)
    if isinstance(order, list):
        pos = {(o.get(key) if isinstance(o, dict) else o): n for n, o in enumerate(order)}
        items.sort(key=lambda x: pos.get(x.get(key) if isinstance(x, dict) else x, len(pos)))
    return items


# -- objects -------------------------------------------------------------------------------------

def key(r, ns, name):
    return f"objects/{r.group or 'core'}/{r.plural}/{ns or '_'}/{name}"


def prefix(r, ns=None):
    return f"objects/{r.group or 'core'}/{r.plural}/" + (f"{ns}/" if ns else "")


def crds(store):
    return [v for _, v in store.list("objects/apiextensions.k8s.io/customresourcedefinitions/")]


def namespace_exists(store, ns):
    return ns in SYSTEM_NAMESPACES or store.get(f"objects/core/namespaces/_/{ns}") is not None


def system_namespace(name):
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}, "resourceVersion": "1",
                         "uid": str(uuid.uuid5(uuid.NAMESPACE_DNS, name + ".standin")),
                         "creationTimestamp": "1970-01-01T00:00:00Z"},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


def new_rv():
    return str(time.time_ns() // 1000)


def _spec_of(obj):
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def prepare_create(store, r, ns, obj, strict):
    """Checks and fills a new object as the real server does; returns it (not stored yet)."""
    if not isinstance(obj, dict):
        raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
    if obj.get("apiVersion") != r.api_version or obj.get("kind") != r.kind:
        raise ApiError(400, "BadRequest", f"the API version in the data ({obj.get('apiVersion')}) does not match "
                                          f"the expected API version ({r.api_version})"
                       if obj.get("apiVersion") != r.api_version else
                       f"the kind in the data ({obj.get('kind')}) does not match the expected kind ({r.kind})")
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise ApiError(400, "BadRequest", "metadata must be an object")
    if r.namespaced:
        if meta.get("namespace") and meta["namespace"] != ns:
            raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace "
                                              "sent on the request")
        meta["namespace"] = ns
    else:
        meta.pop("namespace", None)
    if strict:
        strict_fields(r, obj)
    validate(r, obj)
    if r.namespaced and not namespace_exists(store, ns):
        raise ApiError(404, "NotFound", f'namespaces "{ns}" not found', {"name": ns, "kind": "namespaces"})
    meta.update({"uid": str(uuid.uuid4()), "resourceVersion": new_rv(), "creationTimestamp":
                 time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    if r.kind in ("DaemonSet", "Deployment", "CustomResourceDefinition") or r.crd is not None:
        meta["generation"] = 1
    if r.kind == "Namespace":
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
    obj.pop("status", None)
    defaults(r, obj)
    return obj


def prepare_update(r, old, new, strict):
    """An update (PUT, or the result of a patch): identity kept, generation bumped on spec change."""
    if not isinstance(new, dict):
        raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
    meta = new.setdefault("metadata", {})
    om = old["metadata"]
    if meta.get("resourceVersion") and meta["resourceVersion"] != om.get("resourceVersion"):
        raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {r.qualified} "{om["name"]}": the object '
                                        "has been modified; please apply your changes to the latest version and try "
                                        "again")
    if meta.get("name") != om["name"]:
        raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
    if strict:
        strict_fields(r, new)
    validate(r, new)
    defaults(r, new)
    for f in ("uid", "creationTimestamp", "namespace"):
        if f in om:
            meta[f] = om[f]
    if "generation" in om:
        meta["generation"] = om["generation"] + (1 if _spec_of(new) != _spec_of(old) else 0)
    meta["resourceVersion"] = new_rv()
    new["status"] = old.get("status", {}) if "status" in old else new.get("status")
    if new.get("status") is None:
        new.pop("status", None)
    return new


def apply_patch(ctype, old, patch):
    base = ctype.split(";")[0].strip()
    if base == "application/merge-patch+json":
        return merge_patch(old, patch)
    if base == "application/strategic-merge-patch+json":
        return strategic_merge(old, patch)
    raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - accepted "
                                                "media types include: application/merge-patch+json, "
                                                "application/strategic-merge-patch+json (kube-apiserver stand-in)")


def pod_fields(obj):
    """The Pod field selectors of the real server that kubectl uses (drain lists a node's pods by spec.nodeName)."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return {"spec.nodeName": spec.get("nodeName", ""), "spec.restartPolicy": spec.get("restartPolicy", "Always"),
            "spec.schedulerName": spec.get("schedulerName", "default-scheduler"),
            "spec.serviceAccountName": spec.get("serviceAccountName", ""), "status.phase": status.get("phase", "")}


def selects(obj, query):
    """fieldSelector metadata.name/metadata.namespace and labelSelector k=v / k!=v / k, comma-joined."""
    meta = obj.get("metadata") or {}
    for part in (query.get("fieldSelector", [""])[0] or "").split(","):
        if not part:
            continue
        f, op, v = re.match(r"^([^!=]+)(==|!=|=)(.*)$", part).groups()
        fields = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
                  **(pod_fields(obj) if obj.get("kind") == "Pod" else {})}
        got = fields.get(f)
        if f not in fields:
            raise ApiError(400, "BadRequest", f'"{f}" is not a known field selector: only '
                                              + ", ".join(f'"{k}"' for k in fields))
        if (got == v) == (op == "!="):
            return False
    labels = meta.get("labels") or {}
    for part in (query.get("labelSelector", [""])[0] or "").split(","):
        if not part:
            continue
        m = re.match(r"^([^!=]+)(==|!=|=)(.*)$", part)
        if not m:
            if part.startswith("!") and part[1:] in labels or not part.startswith("!") and part not in labels:
                return False
            continue
        k, op, v = m.groups()
        if (labels.get(k) == v) == (op == "!="):
            return False
    return True


def list_object(r, items):
    rv = max([int(i["metadata"].get("resourceVersion") or 0) for i in items] + [1])
    return {"apiVersion": r.api_version, "kind": f"{r.kind}List", "metadata": {"resourceVersion": str(rv)},
            "items": items}


def fingerprint(obj):
    return json.dumps(obj, sort_keys=True)


def _age(ts):
    try:
        t = time.mktime(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    except (TypeError, ValueError):
        return "<unknown>"
    s = max(0, int(time.time() - t))
    return f"{s}s" if s < 120 else f"{s // 60}m" if s < 7200 else f"{s // 3600}h" if s < 172800 else f"{s // 86400}d"


def _col(name, priority=0, fmt=""):
    return {"name": name, "type": "string", "format": fmt, "description": "", "priority": priority}


def table(r, items, include_object):
    """Server-side printing (`kubectl get` asks for a meta.k8s.io Table): the real server's columns for
    nodes and DaemonSets, NAME/AGE for the rest."""
    cols = [_col("Name", fmt="name")]
    if r.kind == "Node":
        cols += [_col("Status"), _col("Roles"), _col("Age"), _col("Version"), _col("Internal-IP", 1),
                 _col("External-IP", 1), _col("OS-Image", 1), _col("Kernel-Version", 1), _col("Container-Runtime", 1)]
    elif r.kind == "DaemonSet":
        cols += [_col("Desired"), _col("Current"), _col("Ready"), _col("Up-to-date"), _col("Available"),
                 _col("Node Selector"), _col("Age")]
    elif r.kind == "CertificateSigningRequest":
        cols += [_col("Age"), _col("SignerName"), _col("Requestor"), _col("RequestedDuration"), _col("Condition")]
    else:
        cols += [_col("Age")]
    rows = []
    for o in items:
        m = o["metadata"]
        if r.kind == "Node":
            st = o.get("status") or {}
            ready = next((c for c in st.get("conditions") or [] if c.get("type") == "Ready"), {})
            status = {"True": "Ready", "False": "NotReady"}.get(ready.get("status"), "Unknown")
            if (o.get("spec") or {}).get("unschedulable"):
                status += ",SchedulingDisabled"
            roles = ",".join(sorted(k.split("/", 1)[1] for k in m.get("labels") or {}
                                    if k.startswith("node-role.kubernetes.io/"))) or "<none>"
            ip = next((a["address"] for a in st.get("addresses") or [] if a.get("type") == "InternalIP"), "<none>")
            ni = st.get("nodeInfo") or {}
            cells = [m["name"], status, roles, _age(m.get("creationTimestamp")), ni.get("kubeletVersion", ""), ip,
                     "<none>", "stand-in", "stand-in", ni.get("containerRuntimeVersion", "")]
        elif r.kind == "DaemonSet":
            st = o.get("status") or {}
            sel = ((o["spec"].get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
            cells = [m["name"], st.get("desiredNumberScheduled", 0), st.get("currentNumberScheduled", 0),
                     st.get("numberReady", 0), st.get("updatedNumberScheduled", 0), st.get("numberAvailable", 0),
                     ",".join(f"{k}={v}" for k, v in sel.items()) or "<none>", _age(m.get("creationTimestamp"))]
        elif r.kind == "CertificateSigningRequest":
            spec, st = o.get("spec") or {}, o.get("status") or {}
            conds = [c["type"] for c in st.get("conditions") or [] if c.get("status") == "True"]
            if st.get("certificate"):
                conds.append("Issued")
            cells = [m["name"], _age(m.get("creationTimestamp")), spec.get("signerName", ""), spec.get("username", ""),
                     "<none>", ",".join(conds) or "Pending"]
        else:
            cells = [m["name"], _age(m.get("creationTimestamp"))]
        obj = o if include_object else {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": m}
        rows.append({"cells": cells, "object": obj})
    rv = max([int(i["metadata"].get("resourceVersion") or 0) for i in items] + [1])
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": str(rv)},
            "columnDefinitions": cols, "rows": rows}


# -- certificates.k8s.io/v1 CertificateSigningRequests (binary mode's kube-apiserver) --------------

CSR = Resource("certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests", False, ["csr"])
KUBELET_CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
# certificates/v1 KeyUsage values (the API's enum, in its order).
KEY_USAGES = ["signing", "digital signature", "content commitment", "key encipherment", "key agreement",
              "data encipherment", "cert sign", "crl sign", "encipher only", "decipher only", "any", "server auth",
              "client auth", "code signing", "email protection", "s/mime", "ipsec end system", "ipsec tunnel",
              "ipsec user", "timestamping", "ocsp signing", "microsoft sgc", "netscape sgc"]
# The kubelet client recognizer (pkg/apis/certificates/helpers.go): either set, exactly.
KUBELET_CLIENT_USAGES = ({"digital signature", "key encipherment", "client auth"}, {"digital signature", "client auth"})
GENERATE_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery's utilrand alphabet


def generate_name(base):
    return base + "".join(random.choice(GENERATE_CHARS) for _ in range(5))


def _go_bytes(b):
    return "[]byte{" + ", ".join(f"0x{x:x}" for x in b) + "}"


def parse_csr(pem):
    """(subject as [(type, value)], SAN entries as ['DNS:x', 'IP Address:y', ...]) of a PEM CSR whose
    signature verifies, or ValueError with the real parser's text (`PEM block type must be ...`)."""
    text = pem.decode(errors="replace")
    if "-----BEGIN CERTIFICATE REQUEST-----" not in text:
        raise ValueError("PEM block type must be CERTIFICATE REQUEST")
    r = subprocess.run(["openssl", "req", "-noout", "-verify", "-subject", "-nameopt", "RFC2253", "-text"],
                       input=pem, capture_output=True, timeout=10)
    if r.returncode != 0:
        raise ValueError("x509: malformed certificate request" if b"verify failure" not in r.stderr + r.stdout
                         else "x509: ECDSA verification failure")
    out = r.stdout.decode()
    m = re.search(r"^subject=(.*)$", out, re.M)
    subject = []
    for part in re.split(r"(?<!\\)[,+]", m.group(1) if m else ""):
        k, _, v = part.strip().partition("=")
        if k:
            subject.append((k, v.replace("\\", "")))
    sans = []
    m = re.search(r"X509v3 Subject Alternative Name:.*\n\s*(.*)", out)
    if m:
        sans = [x.strip() for x in m.group(1).split(",") if x.strip()]
    return subject, sans


def validate_csr(obj):
    """The real validation of a new v1 CSR (pkg/apis/certificates/validation); returns the parsed request."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    name = meta.get("name") or ""
    causes = []
    if not name and not meta.get("generateName"):
        causes.append({"reason": "FieldValueRequired", "field": "metadata.name",
                       "message": "Required value: name or generateName is required"})
    elif name and not DNS1123_SUBDOMAIN.match(name):
        causes.append(_bad("metadata.name", name, SUBDOMAIN_WHY))
    parsed = None
    try:
        raw = base64.b64decode(spec.get("request") or "", validate=True)
    except (ValueError, TypeError):
        raw = b""
        causes.append({"reason": "FieldValueInvalid", "field": "spec.request",
                       "message": "Invalid value: \"<not base64>\": illegal base64 data"})
    else:
        try:
            parsed = parse_csr(raw)
        except ValueError as e:
            causes.append({"reason": "FieldValueInvalid", "field": "spec.request",
                           "message": f"Invalid value: {_go_bytes(raw)}: {e}"})
    if not spec.get("signerName"):
        causes.append(_required("spec.signerName"))
    usages = spec.get("usages")
    if not usages:
        causes.append({"reason": "FieldValueRequired", "field": "spec.usages",
                       "message": "Required value: usages must be provided"})
    else:
        for i, u in enumerate(usages):
            if u not in KEY_USAGES:
                causes.append({"reason": "FieldValueNotSupported", "field": f"spec.usages[{i}]",
                               "message": f"Unsupported value: {_go(u)}: supported values: "
                                          + ", ".join(f'"{x}"' for x in KEY_USAGES)})
    if causes:
        raise invalid(CSR, name, causes)
    return parsed


def kubelet_client_problem(subject, sans, usages):
    """Why a CSR is not a kubelet client request (ValidateKubeletClientCSR's texts), or None."""
    if [v for k, v in subject if k == "O"] != ["system:nodes"]:
        return "subject organization is not system:nodes"
    for prefix_, why in (("DNS:", "DNS"), ("email:", "Email"), ("IP Address:", "IP"), ("URI:", "URI")):
        if any(s.startswith(prefix_) for s in sans):
            return f"{why} subjectAltNames are not allowed"
    cn = next((v for k, v in subject if k == "CN"), "")
    if not cn.startswith("system:node:"):
        return "subject common name does not begin with system:node:"
    if set(usages or []) not in KUBELET_CLIENT_USAGES or len(set(usages)) != len(usages):
        return "usages did not match [client auth digital signature key encipherment]"
    return None


# -- RBAC (the part TLS bootstrapping needs) -------------------------------------------------------

# The rules of the bootstrap ClusterRoles kubeha's TLS bootstrap bindings name (plugin/pkg/auth/
# authorizer/rbac/bootstrappolicy): (group, resource[/subresource]) -> verbs. `*` is cluster-admin.
BOOTSTRAP_CLUSTER_ROLES = {
    "cluster-admin": "*",
    "system:node-bootstrapper": {("certificates.k8s.io", "certificatesigningrequests"): {"create", "get", "list", "watch"}},
    "system:certificates.k8s.io:certificatesigningrequests:nodeclient": {
        ("certificates.k8s.io", "certificatesigningrequests/nodeclient"): {"create"}},
    "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient": {
        ("certificates.k8s.io", "certificatesigningrequests/selfnodeclient"): {"create"}},
}
CLUSTER_ROLE_BINDINGS = Resource("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False)


def bound_cluster_roles(store, user, groups):
    """Names of the ClusterRoles the stored ClusterRoleBindings give this user or one of its groups."""
    out = set()
    for _, b in store.list(prefix(CLUSTER_ROLE_BINDINGS)):
        ref = b.get("roleRef") or {}
        if ref.get("kind") != "ClusterRole":
            continue
        for s in b.get("subjects") or []:
            if (s.get("kind") == "Group" and s.get("name") in groups) or (s.get("kind") == "User" and s.get("name") == user):
                out.add(ref.get("name"))
    return out


def rbac_allows(store, user, groups, group, resource, verb):
    """RBAC's answer for a cluster-scoped request (resource may be `plural/subresource`)."""
    if "system:masters" in groups:
        return True
    for role in bound_cluster_roles(store, user, groups):
        rules = BOOTSTRAP_CLUSTER_ROLES.get(role)
        if rules == "*" or (rules and verb in rules.get((group, resource), ())):
            return True
    return False


# The bootstrap policy's system:node-proxier ClusterRole, which the real API server binds to the user
# system:kube-proxy itself (ClusterRoleBinding system:node-proxier): what kube-proxy may read.
NODE_PROXIER = {("", "services"), ("", "endpoints"), ("discovery.k8s.io", "endpointslices"), ("", "nodes")}
PROXY_USER = "system:kube-proxy"


def proxier_allowed(method, path):
    """(allowed, verb, group, resource) for a request of system:kube-proxy: get/list/watch only."""
    parts = path.strip("/").split("/")
    group, rest = ("", parts[2:]) if parts[0] == "api" else ((parts[1] if len(parts) > 1 else ""), parts[3:])
    if len(rest) >= 3 and rest[0] == "namespaces":
        rest = rest[2:]
    resource = rest[0] if rest else ""
    verb = {"GET": "get" if len(rest) > 1 else "list"}.get(method, method.lower())
    return method == "GET" and (group, resource) in NODE_PROXIER, verb, group, resource


def forbidden(user, verb, group, resource, name=None):
    """RBAC's 403 text for a cluster-scoped resource."""
    plural = resource.split("/")[0]
    what = f"{plural}.{group}" if group else plural
    what += f' "{name}"' if name else ""
    return ApiError(403, "Forbidden", f'{what} is forbidden: User "{user}" cannot {verb} resource "{resource}" in API '
                                      f'group "{group}" at the cluster scope',
                    {"name": name, "group": group, "kind": plural} if name else {"group": group, "kind": plural})
