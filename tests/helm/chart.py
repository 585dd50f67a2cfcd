"""Renders deploy/helm/votingapp with the helm of tools/setup (.tools/bin)
and reads the objects back, for the tests of this folder.

No Kubernetes cluster runs here: every test reads what `helm template`
renders, with the default values and with each values-*.yaml file the chart
ships (the documented examples), plus a few --set variants.
"""
import os
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# HELM_TEST_CHART: another copy of the chart (tests/helm/mutations.sh)
CHART = Path(os.environ.get("HELM_TEST_CHART",
                            ROOT / "deploy" / "helm" / "votingapp"))
TOOLS = ROOT / ".tools" / "bin"
HELM = os.environ.get("HELM", str(TOOLS / "helm"))
KUBECTL = os.environ.get("KUBECTL", str(TOOLS / "kubectl"))
RELEASE = "votingapp"
NAMESPACE = "votingapp"

# The five services of the app, the stateful three, and what they are here.
STATELESS = ["vote", "worker", "result", "vote-ui", "result-ui"]
STATEFUL = ["nats", "redis", "db"]

# Every values file the chart documents (values.yaml is the default).
VALUES_FILES = sorted(p.name for p in CHART.glob("values-*.yaml"))

# The renders every test runs over: name -> helm arguments.
VARIANTS = {"default": []}
VARIANTS.update({f: ["-f", str(CHART / f)] for f in VALUES_FILES})
# and a few --set variants: name -> {dotted key: value}
SETS = {
    "servicemonitor": {"metrics.serviceMonitor.enabled": True},
    "no-metrics": {"metrics.annotations": False},
}
for _v, _s in SETS.items():
    VARIANTS[_v] = [a for k, val in _s.items()
                    for a in ("--set", f"{k}={str(val).lower()}")]


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def render(args=(), chart=CHART):
    """The objects `helm template` renders (a list of dicts); fails with
    helm's own error."""
    p = run([HELM, "template", RELEASE, str(chart), "--namespace", NAMESPACE,
             *args])
    if p.returncode != 0:
        raise AssertionError(f"helm template {' '.join(args)}: {p.stderr}")
    return [d for d in yaml.safe_load_all(p.stdout) if d]


def name(component):
    return f"{RELEASE}-{component}"


def by_kind(objs, kind):
    return [o for o in objs if o["kind"] == kind]


def get(objs, kind, nm):
    found = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == nm]
    assert len(found) == 1, f"{kind}/{nm}: {len(found)} rendered"
    return found[0]


def workloads(objs):
    return [o for o in objs if o["kind"] in ("Deployment", "StatefulSet")]


def pod_spec(w):
    return w["spec"]["template"]["spec"]


def containers(w):
    s = pod_spec(w)
    return s.get("initContainers", []) + s["containers"]


def component(obj_or_labels):
    labels = obj_or_labels
    if "metadata" in obj_or_labels:
        labels = obj_or_labels["metadata"].get("labels", {})
    return labels.get("app.kubernetes.io/component")
