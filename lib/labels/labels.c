/* labels.c - the options' labels from the environment; see labels.h. */
#include "lib/labels/labels.h"

#include <errno.h>

#include "lib/config/config.h"

int labels_load(struct labels *l)
{
    static const char *const vars[CONTRACT_N_OPTIONS] = {"OPTION_A",
                                                         "OPTION_B"};
    static const char *const defs[CONTRACT_N_OPTIONS] = {LABELS_DEFAULT_A,
                                                         LABELS_DEFAULT_B};
    int i;

    for (i = 0; i < CONTRACT_N_OPTIONS; i++)
        if (config_str(vars[i], defs[i], l->of[i], sizeof(l->of[i])))
            return -EINVAL;
    return 0;
}
