"""The Secret is made once and kept across upgrades: the chart's `lookup`
finds the Secret of an earlier install and renders its values again. A
user's own Secret (existingSecret) is not made, and must hold the nine keys
when the cluster has it.

No cluster runs here: `helm template --dry-run=server` talks to a stand-in
on loopback that answers only what helm asks for a lookup (the resources
of /api/v1, then GET of the Secret), with a Secret as an API server would
return it, or 404 as for a first install. Every request is recorded.
"""
import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import chart

SECRET = f"{chart.RELEASE}-secrets"
KEYS = ["postgres_password", "postgres_worker_password",
        "postgres_result_password", "redis_vote_password",
        "nats_vote_password", "nats_worker_password", "nats_debug_password",
        "nats_admin_password", "nats_route_password"]
RESOURCES = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1",
             "resources": [{"name": "secrets", "singularName": "secret",
                            "namespaced": True, "kind": "Secret",
                            "verbs": ["get", "list"]}]}


class FakeAPI(BaseHTTPRequestHandler):
    secret = None      # the Secret <release>-secrets it holds, or None
    others = {}        # other Secrets it holds, by name
    requests = []

    def do_GET(self):
        path = self.path.split("?")[0]
        FakeAPI.requests.append(path)
        if path == "/api/v1":
            return self.answer(200, RESOURCES)
        prefix = f"/api/v1/namespaces/{chart.NAMESPACE}/secrets/"
        if path == prefix + SECRET and FakeAPI.secret:
            return self.answer(200, FakeAPI.secret)
        if path.startswith(prefix) and path[len(prefix):] in FakeAPI.others:
            return self.answer(200, FakeAPI.others[path[len(prefix):]])
        self.answer(404, {"kind": "Status", "apiVersion": "v1",
                          "status": "Failure", "reason": "NotFound",
                          "code": 404})

    def answer(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), FakeAPI)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    kc = tmp_path_factory.mktemp("kube") / "config"
    kc.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "here", "cluster": {
            "server": f"http://127.0.0.1:{srv.server_address[1]}"}}],
        "users": [{"name": "u", "user": {}}],
        "contexts": [{"name": "c", "context": {"cluster": "here", "user": "u"}}],
        "current-context": "c"}))
    yield str(kc)
    srv.shutdown()


def rendered_secret(kubeconfig, *args):
    objs = chart.render(["--dry-run=server", "--kubeconfig", kubeconfig, *args])
    found = chart.by_kind(objs, "Secret")
    return found[0]["data"] if found else None


def test_first_install_makes_passwords(api):
    FakeAPI.secret, FakeAPI.requests = None, []
    a = rendered_secret(api)
    b = rendered_secret(api)
    assert set(a) == set(KEYS)
    # the Secret was looked up in the release's namespace, and was not there
    assert f"/api/v1/namespaces/{chart.NAMESPACE}/secrets/{SECRET}" in FakeAPI.requests
    assert all(a[k] != b[k] for k in KEYS), "two first installs, same passwords"


def test_upgrade_keeps_every_password(api):
    old = {k: base64.b64encode(f"old-{k}-0123456789".encode()).decode()
           for k in KEYS}
    FakeAPI.secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                      "metadata": {"name": SECRET, "namespace": chart.NAMESPACE},
                      "data": old}
    try:
        assert rendered_secret(api) == old
        # also when other values change (an upgrade with new options)
        assert rendered_secret(api, "--set", "options.a=Tea") == old
    finally:
        FakeAPI.secret = None


def test_upgrade_completes_a_secret_missing_a_key(api):
    old = {k: base64.b64encode(b"kept").decode() for k in KEYS[:-1]}
    FakeAPI.secret = {"apiVersion": "v1", "kind": "Secret",
                      "metadata": {"name": SECRET}, "data": old}
    try:
        got = rendered_secret(api)
        assert {k: got[k] for k in KEYS[:-1]} == old
        assert base64.b64decode(got[KEYS[-1]]) != b"kept"
    finally:
        FakeAPI.secret = None


def test_existing_secret_is_not_made_and_is_checked(api):
    FakeAPI.requests = []
    # not in the cluster (yet): nothing to check, nothing made
    assert rendered_secret(api, "--set", "existingSecret=mine") is None
    assert f"/api/v1/namespaces/{chart.NAMESPACE}/secrets/mine" in FakeAPI.requests
    assert not any(r.endswith("/" + SECRET) for r in FakeAPI.requests)
    full = {k: base64.b64encode(b"x").decode() for k in KEYS}
    FakeAPI.others = {"mine": {"apiVersion": "v1", "kind": "Secret",
                               "metadata": {"name": "mine"}, "data": full}}
    try:
        assert rendered_secret(api, "--set", "existingSecret=mine") is None
        # one key missing: helm stops, naming it
        FakeAPI.others["mine"]["data"] = {k: v for k, v in full.items()
                                          if k != "nats_route_password"}
        with pytest.raises(AssertionError, match=r"existingSecret mine: no key nats_route_password"):
            rendered_secret(api, "--set", "existingSecret=mine")
    finally:
        FakeAPI.others = {}
