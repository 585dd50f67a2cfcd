"""Prometheus (monitoring profile): every target up, its rules loaded, and a
vote moves the acknowledged counter."""
from conftest import (PROM_URL, http_get, vote, wait_prom, wait_targets)


def test_targets_all_up():
    ok, got = wait_targets(1, 1, 1, 60)
    assert ok, "prometheus: vote, worker, result and itself are targets, " \
        f"all up (targets: {got})"


def test_rules_loaded():
    st, body = http_get(PROM_URL + "/api/v1/rules")
    assert '"voting:votes_acknowledged:rate1m"' in body \
        and '"ServiceNotReady"' in body, \
        f"prometheus: the recording and alerting rules are loaded ({st})"


def test_every_service_ready():
    ok, v = wait_prom("min(service_ready)", lambda v: v == 1, 30)
    assert ok, "prometheus: every service is ready (service_ready): " \
        f"min(service_ready) = {v}"


def test_counter_has_seven_votes():
    # the acknowledged counter has the 7 votes so far (test_3_votes.py)
    ok, v = wait_prom("sum(vote_votes_total)", lambda v: v == 7, 30)
    assert ok, "prometheus: vote_votes_total counts the 7 votes " \
        f"acknowledged so far: sum(vote_votes_total) = {v}"


def test_vote_e2e_7():
    code = vote("e2e-7", "b")
    assert code == "200", f"vote e2e-7 through vote-ui ({code})"


def test_counter_moves_to_eight():
    ok, v = wait_prom("sum(vote_votes_total)", lambda v: v == 8, 30)
    assert ok, "prometheus: the vote moves vote_votes_total to 8: " \
        f"sum(vote_votes_total) = {v}"


def test_rate_positive():
    ok, v = wait_prom("voting:votes_acknowledged:rate1m", lambda v: v > 0, 30)
    assert ok, "prometheus: voting:votes_acknowledged:rate1m > 0 " \
        f"(value: {v})"
