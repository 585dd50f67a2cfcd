/* pgtest.c - the worker's side of the contract; see pgtest.h. */
#include "result/pgtest.h"

#include <errno.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "proto/contract.h"

int pgtest_exec(const char *conninfo, const char *sql)
{
    PGconn *c = PQconnectdb(conninfo);
    PGresult *r;
    int rc = -EIO;

    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "pgtest: %s", PQerrorMessage(c));
        goto out_finish;
    }
    r = PQexec(c, sql);
    if (PQresultStatus(r) == PGRES_COMMAND_OK ||
        PQresultStatus(r) == PGRES_TUPLES_OK)
        rc = 0;
    else
        fprintf(stderr, "pgtest: %s", PQerrorMessage(c));
    PQclear(r);
out_finish:
    PQfinish(c);
    return rc;
}

int pgtest_schema(const char *conninfo)
{
    return pgtest_exec(conninfo, "CREATE TABLE IF NOT EXISTS votes ("
                                 " id VARCHAR(255) NOT NULL UNIQUE,"
                                 " vote VARCHAR(255) NOT NULL, seq BIGINT);"
                                 "CREATE TABLE IF NOT EXISTS tallies ("
                                 " vote VARCHAR(255) PRIMARY KEY,"
                                 " count BIGINT NOT NULL);");
}

int pgtest_batch(const char *conninfo, long da, long db, int notify)
{
    char sql[512];

    snprintf(sql, sizeof(sql),
             "BEGIN;"
             "INSERT INTO tallies VALUES ('" CONTRACT_OPTION_A "', %ld),"
             " ('" CONTRACT_OPTION_B "', %ld)"
             " ON CONFLICT (vote) DO UPDATE"
             " SET count = tallies.count + EXCLUDED.count;"
             "%s COMMIT;",
             da, db, notify ? "NOTIFY " CONTRACT_PG_CHANNEL ";" : "");
    return pgtest_exec(conninfo, sql);
}
