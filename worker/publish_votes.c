/* publish_votes.c - publishes N VoteCasts as fast as async publishing
 * allows, for measuring the worker's drain rate by hand:
 *   publish_votes nats://127.0.0.1:4222 1000000 [voters] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "worker/testkit.h"

int main(int argc, char **argv)
{
    struct tk_nats t;
    struct timespec a, b;
    long n, voters;
    char *expect;
    double s;
    int rc;

    if (argc < 3) {
        fprintf(stderr, "usage: %s NATS_URL N [VOTERS]\n", argv[0]);
        return 2;
    }
    n = strtol(argv[2], NULL, 10);
    voters = argc > 3 ? strtol(argv[3], NULL, 10) : 100000;
    expect = calloc((size_t)voters, 1);
    if (!expect || n <= 0 || voters <= 0 || tk_nats_open(&t, argv[1]))
        return 1;
    clock_gettime(CLOCK_MONOTONIC, &a);
    rc = tk_publish_random(&t, (int)n, (int)voters, 1, expect);
    clock_gettime(CLOCK_MONOTONIC, &b);
    s = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    printf("published %ld votes in %.2f s (%.0f/s), rc %d\n", n, s, n / s, rc);
    tk_nats_close(&t);
    free(expect);
    nats_Close();
    return rc ? 1 : 0;
}
