"""Validation of rendered objects against Kubernetes 1.31, strict (a field
Kubernetes does not know fails), without a cluster and without the network.

No package of the npm registry or of Debian ships the Kubernetes 1.31
OpenAPI schemas (kubernetes-models: 1.27, 1.33 and 1.36, and its compiled
validators accept unknown fields; kubernetes-types: TypeScript, 1.30 at
most), and `kubectl --validate=strict` asks the API server for them. So:

1. Deployment, StatefulSet, Service: decoded by kubectl 1.31's own Go types
   (k8s.io/api of Kubernetes 1.31, compiled into the kubectl of tools/setup)
   with `kubectl set env|selector --local`, which reads the object into its
   typed struct and prints it back without a server. A field of a wrong
   type fails the decoding; a field the 1.31 API does not have is dropped
   by it: every field of the input must come back with the same value.
2. The other kinds (ConfigMap, Secret, NetworkPolicy, Ingress,
   PodDisruptionBudget, and the CRD ServiceMonitor): kubectl cannot decode
   them offline; they are checked against SCHEMAS below, JSON Schemas of
   the fields of the 1.31 API reference (and of the Prometheus Operator's
   monitoring.coreos.com/v1) that the chart may use, each object closed
   (additionalProperties: false) and enums as the API has them.
"""
import json
import subprocess

import jsonschema

import chart

API_VERSIONS = {
    "Deployment": "apps/v1", "StatefulSet": "apps/v1", "Service": "v1",
    "ConfigMap": "v1", "Secret": "v1",
    "NetworkPolicy": "networking.k8s.io/v1", "Ingress": "networking.k8s.io/v1",
    "PodDisruptionBudget": "policy/v1",
    "ServiceMonitor": "monitoring.coreos.com/v1",
}

ROUNDTRIP_ENV = "HELM_TEST_ROUNDTRIP"


def _closed(props, required=()):
    return {"type": "object", "properties": props,
            "additionalProperties": False, "required": list(required)}


STR = {"type": "string"}
STRMAP = {"type": "object", "additionalProperties": STR}
INT_OR_STR = {"type": ["integer", "string"]}
META = _closed({"name": STR, "namespace": STR, "labels": STRMAP,
                "annotations": STRMAP}, ["name"])
LABEL_SELECTOR = _closed({
    "matchLabels": STRMAP,
    "matchExpressions": {"type": "array", "items": _closed({
        "key": STR,
        "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
        "values": {"type": "array", "items": STR}}, ["key", "operator"])},
})
PEER = _closed({
    "podSelector": LABEL_SELECTOR, "namespaceSelector": LABEL_SELECTOR,
    "ipBlock": _closed({"cidr": STR, "except": {"type": "array", "items": STR}},
                       ["cidr"]),
})
NP_PORT = _closed({"protocol": {"enum": ["TCP", "UDP", "SCTP"]},
                   "port": INT_OR_STR, "endPort": {"type": "integer"}})
BACKEND = _closed({
    "service": _closed({"name": STR, "port": _closed(
        {"name": STR, "number": {"type": "integer"}})}, ["name"]),
    "resource": _closed({"apiGroup": STR, "kind": STR, "name": STR},
                        ["kind", "name"]),
})


def _kind(kind, props, required=()):
    return _closed(dict({"apiVersion": {"const": API_VERSIONS[kind]},
                         "kind": {"const": kind}, "metadata": META}, **props),
                   ["apiVersion", "kind", "metadata", *required])


SCHEMAS = {
    "ConfigMap": _kind("ConfigMap", {
        "data": STRMAP, "binaryData": STRMAP, "immutable": {"type": "boolean"}}),
    "Secret": _kind("Secret", {
        "type": STR, "immutable": {"type": "boolean"}, "stringData": STRMAP,
        "data": {"type": "object", "additionalProperties": {
            "type": "string", "pattern": "^[A-Za-z0-9+/]*={0,2}$"}}}),
    "NetworkPolicy": _kind("NetworkPolicy", {"spec": _closed({
        "podSelector": LABEL_SELECTOR,
        "policyTypes": {"type": "array",
                        "items": {"enum": ["Ingress", "Egress"]}},
        "ingress": {"type": "array", "items": _closed({
            "from": {"type": "array", "items": PEER},
            "ports": {"type": "array", "items": NP_PORT}})},
        "egress": {"type": "array", "items": _closed({
            "to": {"type": "array", "items": PEER},
            "ports": {"type": "array", "items": NP_PORT}})},
    }, ["podSelector"])}, ["spec"]),
    "Ingress": _kind("Ingress", {"spec": _closed({
        "ingressClassName": STR, "defaultBackend": BACKEND,
        "tls": {"type": "array", "items": _closed({
            "hosts": {"type": "array", "items": STR}, "secretName": STR})},
        "rules": {"type": "array", "items": _closed({
            "host": STR,
            "http": _closed({"paths": {"type": "array", "items": _closed({
                "path": STR,
                "pathType": {"enum": ["Exact", "Prefix",
                                      "ImplementationSpecific"]},
                "backend": BACKEND}, ["pathType", "backend"])}}, ["paths"])})},
    })}, ["spec"]),
    "PodDisruptionBudget": _kind("PodDisruptionBudget", {"spec": _closed({
        "maxUnavailable": INT_OR_STR, "minAvailable": INT_OR_STR,
        "selector": LABEL_SELECTOR,
        "unhealthyPodEvictionPolicy": {"enum": ["IfHealthyBudget",
                                                "AlwaysAllow"]},
    })}, ["spec"]),
    "ServiceMonitor": _kind("ServiceMonitor", {"spec": _closed({
        "selector": LABEL_SELECTOR, "jobLabel": STR,
        "namespaceSelector": _closed({"any": {"type": "boolean"},
                                      "matchNames": {"type": "array",
                                                     "items": STR}}),
        "endpoints": {"type": "array", "items": _closed({
            "port": STR, "targetPort": INT_OR_STR, "path": STR,
            "scheme": {"enum": ["http", "https"]}, "interval": STR,
            "scrapeTimeout": STR})},
    }, ["selector"])}, ["spec"]),
}


def _missing(inp, out, path=""):
    """The fields of inp that out lacks or has with another value."""
    if isinstance(inp, dict):
        if not isinstance(out, dict):
            return [f"{path}: {out!r} instead of an object"]
        bad = []
        for k, v in inp.items():
            if v is None:   # null is no field at all in Kubernetes
                continue
            if k not in out:
                bad.append(f"{path}.{k}: unknown to Kubernetes 1.31")
            else:
                bad += _missing(v, out[k], f"{path}.{k}")
        return bad
    if isinstance(inp, list):
        if not isinstance(out, list) or len(out) != len(inp):
            return [f"{path}: list of {len(inp)} came back as {out!r}"]
        return [e for i, (a, b) in enumerate(zip(inp, out))
                for e in _missing(a, b, f"{path}[{i}]")]
    return [] if inp == out else [f"{path}: {inp!r} came back as {out!r}"]


def _kubectl_roundtrip(obj):
    kind = obj["kind"]
    if kind == "Service":
        sel = ",".join(f"{k}={v}" for k, v in obj["spec"]["selector"].items())
        cmd = ["set", "selector", "--local", "-f", "-", "-o", "json", sel]
    else:
        cmd = ["set", "env", "--local", "-f", "-", "-o", "json",
               f"{ROUNDTRIP_ENV}=1"]
    p = chart.run([chart.KUBECTL, *cmd], input=json.dumps(obj))
    if p.returncode != 0 or not p.stdout.strip():
        return None, p.stderr.strip() or "kubectl printed nothing"
    out = json.loads(p.stdout)
    if kind != "Service":   # take our marker out again
        spec = out["spec"]["template"]["spec"]
        for c in spec.get("initContainers", []) + spec["containers"]:
            c["env"] = [e for e in c.get("env", [])
                        if e["name"] != ROUNDTRIP_ENV]
            if not c["env"]:
                del c["env"]
    return out, None


def errors(obj):
    """What is wrong with one rendered object; [] when it is valid."""
    kind = obj.get("kind")
    if kind not in API_VERSIONS:
        return [f"kind {kind!r}: not one this check knows"]
    if obj.get("apiVersion") != API_VERSIONS[kind]:
        return [f"{kind}: apiVersion {obj.get('apiVersion')!r}, "
                f"not {API_VERSIONS[kind]}"]
    if kind in SCHEMAS:
        v = jsonschema.Draft7Validator(SCHEMAS[kind])
        return [f"{kind}/{obj['metadata'].get('name')}: "
                f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
                for e in v.iter_errors(obj)]
    out, err = _kubectl_roundtrip(obj)
    if err:
        return [f"{kind}/{obj['metadata'].get('name')}: kubectl: {err}"]
    return [f"{kind}/{obj['metadata']['name']}{e}" for e in _missing(obj, out)]
