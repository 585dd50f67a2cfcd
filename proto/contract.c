/* contract.c - the option ids of the contract; see contract.h. */
#include "proto/contract.h"

#include <string.h>

const char *const CONTRACT_OPTIONS[CONTRACT_N_OPTIONS] = {CONTRACT_OPTION_A,
                                                          CONTRACT_OPTION_B};

int contract_option_index(const char *id)
{
    int i;

    for (i = 0; id && i < CONTRACT_N_OPTIONS; i++)
        if (strcmp(id, CONTRACT_OPTIONS[i]) == 0)
            return i;
    return -1;
}

int contract_voter_ok(const char *id)
{
    size_t n = strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                          "abcdefghijklmnopqrstuvwxyz0123456789_-");

    return n >= 1 && n <= CONTRACT_VOTER_MAX && id[n] == '\0';
}
