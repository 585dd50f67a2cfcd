/* labels.h - what the options are called on the pages: the one reader of
 * OPTION_A and OPTION_B, for vote (/api/options) and result (its
 * snapshots), with their defaults. An option's id is the contract's
 * (proto/contract.h, "a" and "b"); its label is configuration. A struct
 * labels is a plain value (copy it freely); nothing here keeps state. */
#ifndef LIB_LABELS_H
#define LIB_LABELS_H

#include "proto/contract.h"

#define LABELS_DEFAULT_A "Cats" /* OPTION_A unset or empty */
#define LABELS_DEFAULT_B "Dogs" /* OPTION_B unset or empty */

struct labels {
    /* by the index of CONTRACT_OPTIONS: of[0] is option "a"'s label */
    char of[CONTRACT_N_OPTIONS][CONTRACT_LABEL_MAX];
};

/* Reads OPTION_A into of[0] and OPTION_B into of[1]. 0, or -EINVAL after
 * one config_invalid line naming the variable (a label longer than
 * CONTRACT_LABEL_MAX - 1 bytes). */
int labels_load(struct labels *l);

#endif
