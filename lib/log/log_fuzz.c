/* log_fuzz.c - libFuzzer target: log_quote(), which puts outside text
 * (config values, Postgres and Redis errors, URLs) into the JSON log lines.
 *
 * Input: one byte for the buffer size (8-263), the rest is the text (cut
 * at a NUL, as C strings are). Whatever the text and the size, the result
 * must fit and be one valid JSON string: jansson (which checks UTF-8 too)
 * must read it back. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/log/log.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[264], *text;
    size_t n;
    json_t *j;

    if (size < 1)
        return 0;
    n = 8 + data[0];
    text = malloc(size);
    if (!text)
        abort();
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    memset(out, 'Z', sizeof(out));
    log_quote(out, n, text);
    FUZZ_CHECK(memchr(out, '\0', n) != NULL);
    j = json_loads(out, JSON_DECODE_ANY, NULL);
    FUZZ_CHECK(j && json_is_string(j));
    /* nothing lost but what did not fit: a short text comes back whole */
    if (strlen(text) * 6 + 8 <= n && !strstr(out, "\\ufffd"))
        FUZZ_CHECK(strcmp(json_string_value(j), text) == 0);
    json_decref(j);
    free(text);
    return 0;
}
