"""helm lint, helm template with every documented values file, and every
rendered object validated against Kubernetes 1.31, strict (validate.py)."""
import copy

import pytest

import chart
import validate


@pytest.mark.parametrize("values", ["default"] + chart.VALUES_FILES)
def test_helm_lint(values):
    args = [] if values == "default" else ["-f", str(chart.CHART / values)]
    p = chart.run([chart.HELM, "lint", "--strict", str(chart.CHART), *args])
    assert p.returncode == 0, p.stdout + p.stderr


def test_every_values_file_is_rendered(renders):
    assert chart.VALUES_FILES, "no values-*.yaml example in the chart"
    for v in chart.VALUES_FILES:
        assert renders[v], f"{v}: nothing rendered"


@pytest.mark.parametrize("variant", list(chart.VARIANTS))
def test_objects_valid_for_kubernetes_1_31(renders, variant):
    bad = [e for o in renders[variant] for e in validate.errors(o)]
    assert not bad, "\n".join(bad)


def test_default_renders_the_whole_app(default):
    kinds = {}
    for o in default:
        kinds.setdefault(o["kind"], set()).add(o["metadata"]["name"])
    assert kinds["Deployment"] == {chart.name(c) for c in chart.STATELESS}
    assert kinds["StatefulSet"] == {chart.name(c) for c in chart.STATEFUL}
    assert {"Secret", "Ingress", "NetworkPolicy", "PodDisruptionBudget"} <= set(kinds)


# The validation itself can fail: an unknown field, a wrong type, a wrong
# apiVersion, in each of its two ways (kubectl's types, the schemas).
@pytest.mark.parametrize("kind,where,field,value", [
    ("Deployment", ["spec"], "replicaz", 2),
    ("Deployment", ["spec", "template", "spec", "containers", 0,
                    "securityContext"], "readOnlyRootFileSystem", True),
    ("Deployment", ["spec"], "replicas", "two"),
    ("StatefulSet", ["spec", "volumeClaimTemplates", 0, "spec"], "size", "1Gi"),
    ("Service", ["spec", "ports", 0], "portName", "http"),
    ("NetworkPolicy", ["spec", "ingress", 0], "sources", []),
    ("NetworkPolicy", ["spec"], "policyTypes", ["ingress"]),
    ("Ingress", ["spec", "rules", 0, "http", "paths", 0], "pathType", "Glob"),
    ("PodDisruptionBudget", ["spec"], "maxUnavaliable", 1),
    ("Secret", ["data"], "x", "not base64!"),
    ("ConfigMap", [], "date", {}),
])
def test_validation_catches(default, kind, where, field, value):
    obj = copy.deepcopy(next(o for o in default if o["kind"] == kind
                             and (kind != "NetworkPolicy" or "ingress" in o["spec"])))
    assert validate.errors(obj) == []
    target = obj
    for k in where:
        target = target[k]
    target[field] = value
    assert validate.errors(obj), f"{kind}: {field}={value!r} went through"


def test_validation_catches_wrong_api_version(default):
    obj = copy.deepcopy(chart.by_kind(default, "PodDisruptionBudget")[0])
    obj["apiVersion"] = "policy/v1beta1"   # gone since Kubernetes 1.25
    assert validate.errors(obj)
