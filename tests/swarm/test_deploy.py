"""The stack on a one-node swarm: `docker swarm init`, the node labelled for
db, redis and nats-1..3, `docker stack deploy` of stack.yaml as votingswarm
with our images from the local registry (conftest.py's `deployed` says
which variables and why), converged, and the probe: a container on both
overlay networks from whose network namespace the tests reach the tasks."""
from conftest import (CONVERGE_TIMEOUT, ENV, OWN, S, WANT, converged, d,
                      service_replicas)


def test_swarm_init(swarm):
    st = d("info", "-f", "{{.Swarm.LocalNodeState}} "
           "{{.Swarm.ControlAvailable}}")[1].split()
    labels = d("node", "inspect", "-f", "{{json .Spec.Labels}}", swarm)[1]
    assert st == ["active", "true"] and all(
        f'"votingapp.{n}":"true"' in labels
        for n in ("db", "nats-1", "nats-2", "nats-3")), \
        f"docker swarm init (one node, a manager, labelled): {st}, {labels}"


def test_stack_deploy(deployed):
    got = service_replicas()
    assert sorted(got) == sorted(WANT), \
        f"docker stack deploy -c stack.yaml {S}: services {sorted(got)}"


def test_converged(stack):
    ok, seen = converged()
    assert ok, f"converged: every service at its replicas, all " \
        f"{sum(WANT.values())} tasks healthy, {stack['seconds']} s after " \
        f"deploy (limit {CONVERGE_TIMEOUT} s): now {seen}"


def test_images_from_the_registry(stack):
    reg = ENV["REGISTRY"].split("/")[0]
    imgs = {n: d("service", "inspect", "-f",
                 "{{.Spec.TaskTemplate.ContainerSpec.Image}}", f"{S}_{n}")[1]
            .strip() for n in OWN + ["redis", "db", "nats-1"]}
    assert all(i.startswith(reg + "/") for i in imgs.values()), \
        f"every service runs an image of {reg}: {imgs}"


def test_probe(probe):
    nets = d("inspect", "-f", "{{json .NetworkSettings.Networks}}",
             probe.name)[1]
    assert f'"{S}_front-tier"' in nets and f'"{S}_back-tier"' in nets \
        and probe.pid > 0, \
        f"probe container on {S}_front-tier and {S}_back-tier: pid " \
        f"{probe.pid}, networks {nets[:200]}"


def test_vote_ui_resolves_to_two_tasks(app):
    assert len(app.vote_uis) == 2, \
        f"vote-ui resolves to 2 tasks: {app.vote_uis}"


def test_vote_resolves_to_two_tasks(app):
    ips = app.probe.ips("vote")
    assert len(ips) == 2, f"vote resolves to 2 tasks (dnsrr): {ips}"
