/* fuzz.h - what every libFuzzer target (<module>_fuzz.c) shares.
 *
 * No system header declares libFuzzer's entry points; FUZZ_CHECK is the
 * assertion a target makes of the code under test: when it fails, the
 * input is a finding (abort: libFuzzer keeps the input, the corpus replay
 * of driver.c fails). */
#ifndef TESTS_FUZZ_FUZZ_H
#define TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Runs the target on one input; returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional, once before the first input; a target may define it. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
            abort();                                                           \
        }                                                                      \
    } while (0)

#endif
