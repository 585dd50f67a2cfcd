"""Prometheus (monitoring profile): every target up, its rules loaded, and
votes move the acknowledged counter."""
import time

import pytest

from conftest import (PROM_URL, http_get, prom_value, vote, wait_prom,
                      wait_targets)

pytestmark = pytest.mark.usefixtures("stack_up")

COUNTER = "sum(vote_votes_total)"


@pytest.fixture(scope="module")
def counter_before(stack_up):
    """sum(vote_votes_total) once Prometheus scrapes vote and has every
    vote cast so far (unchanged over two scrapes, 5 s apart); 0 before the
    first vote"""
    wait_prom('min(up{job="vote"})', lambda v: v == 1, 60)
    end = time.time() + 60
    last = prom_value(COUNTER)
    while True:
        time.sleep(11)
        v = prom_value(COUNTER)
        if v == last or time.time() >= end:
            return v or 0
        last = v


@pytest.fixture(scope="module")
def seven_votes(counter_before):
    """the answers to 7 votes of new voters through vote-ui"""
    return [vote(f"e2e-prom-{i}", "ab"[i % 2]) for i in range(7)]


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


def test_counter_has_seven_votes(counter_before, seven_votes):
    # the acknowledged counter has the 7 votes more
    assert seven_votes == ["200"] * 7, f"7 votes ({seven_votes})"
    want = counter_before + 7
    ok, v = wait_prom(COUNTER, lambda v: v == want, 30)
    assert ok, f"prometheus: vote_votes_total counts the 7 votes " \
        f"acknowledged ({counter_before} before): {COUNTER} = {v}"


@pytest.fixture(scope="module")
def e2e_7(seven_votes):
    """the answer to vote e2e-7, after the seven"""
    return vote("e2e-7", "b")


def test_vote_e2e_7(e2e_7):
    assert e2e_7 == "200", f"vote e2e-7 through vote-ui ({e2e_7})"


def test_counter_moves_to_eight(counter_before, e2e_7):
    want = counter_before + 8
    ok, v = wait_prom(COUNTER, lambda v: v == want, 30)
    assert ok, f"prometheus: the vote moves vote_votes_total to {want}: " \
        f"{COUNTER} = {v}"


def test_rate_positive(seven_votes):
    ok, v = wait_prom("voting:votes_acknowledged:rate1m", lambda v: v > 0, 30)
    assert ok, "prometheus: voting:votes_acknowledged:rate1m > 0 " \
        f"(value: {v})"
