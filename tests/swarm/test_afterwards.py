"""After everything the suite did to the stack: converged again, and
Postgres' tallies equal its votes table."""
from conftest import psql_q, wait_converged


def test_converged_again(stack):
    ok, seen = wait_converged(120)
    assert ok, f"after all: converged again within 120 s: {seen}"


def test_tallies_equal_votes(stack):
    n = psql_q("SELECT count(*) FROM (SELECT vote, count(*) c FROM votes "
               "GROUP BY vote) v FULL JOIN tallies t USING (vote) WHERE "
               "t.count IS DISTINCT FROM v.c AND NOT (v.c IS NULL AND "
               "t.count = 0)")
    assert n == "0", f"Postgres: tallies equal the votes table: {n} " \
        "options differ"
