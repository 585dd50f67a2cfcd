/* logcapture.c - log lines into a pipe for tests; see logcapture.h. */
#include "lib/log/logcapture.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/log/log.h"

static char logged[16384];
static int log_pipe[2];

void logcapture_start(void)
{
    if (pipe(log_pipe)) {
        perror("logcapture: pipe");
        abort();
    }
    log_set_fd(log_pipe[1]);
}

const char *logcapture_drain(void)
{
    ssize_t n;

    log_set_fd(STDOUT_FILENO);
    close(log_pipe[1]);
    n = read(log_pipe[0], logged, sizeof(logged) - 1);
    close(log_pipe[0]);
    logged[n > 0 ? n : 0] = '\0';
    logcapture_start();
    return logged;
}

void logcapture_stop(void)
{
    log_set_fd(STDOUT_FILENO);
    close(log_pipe[0]);
    close(log_pipe[1]);
}
