"""NATS on the swarm: one JetStream cluster of nats-1..3, the VOTES stream
(made by the first vote, or by worker before it) with 3 replicas."""
from conftest import jsz, stream_info


def test_votes_stream_three_replicas(votes_stream):
    leader, reps, current = stream_info("VOTES")
    assert (reps, current) == (3, 2) and leader != "-", \
        "VOTES: 3 replicas, all current, a leader (JetStream cluster of " \
        f"nats-1..3): leader {leader}, replicas {reps}, followers current " \
        f"{current}; the first vote answered {votes_stream}"


def test_meta_cluster_of_three(votes_stream):
    meta = ((jsz("nats-1") or {}).get("meta_cluster") or {}) \
        .get("cluster_size", 0)
    assert meta == 3, f"JetStream meta cluster of 3 nodes: {meta}"
