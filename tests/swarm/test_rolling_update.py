"""`docker service update --force` of vote under steady voting: both tasks
replaced, no answer but 200 or 503 (with Retry-After), every acknowledged
vote in Postgres."""
import time

import pytest

from conftest import S, ctr, d, info, tail


@pytest.fixture(scope="module")
def updated(voting, votes_stream):
    old = ctr("vote")
    v = voting("update", threads=4, interval=0.1)
    try:
        time.sleep(3)
        t = time.time()
        rc, out = d("service", "update", "--force", "--detach=false",
                    f"{S}_vote", timeout=300)
        secs = int(time.time() - t)
        time.sleep(3)
    finally:
        v.stop()
    info(f"rolling update of vote: {secs} s")
    return {"old": old, "new": ctr("vote"), "rc": rc, "out": out,
            "seconds": secs, "v": v}


def test_update(updated):
    assert updated["rc"] == 0, \
        f"docker service update --force vote ({updated['seconds']} s): " \
        f"exit {updated['rc']}: {tail(updated['out'], 3)}"


def test_both_tasks_replaced(updated):
    old, new = updated["old"], updated["new"]
    assert new and not set(new) & set(old), \
        f"rolling update: both vote tasks replaced: before {old}, after {new}"


def test_only_200_or_503_with_retry_after(updated):
    updated["v"].assert_kept_the_rules("rolling update")


def test_acknowledged_votes_in_postgres(updated):
    updated["v"].assert_acked_in_postgres("rolling update")
