/* driver.c - replays a fuzz target's corpus as an ordinary test.
 *
 * Every libFuzzer target (`<module>_fuzz.c`, one LLVMFuzzerTestOneInput)
 * is also linked with this main() into a cc_test that feeds it each file of
 * its seed corpus and of its regressions (crashes found once, kept for
 * good). Under `bazel test --config=asan` that replays every known input
 * with AddressSanitizer and UBSan on, no clang or libFuzzer needed.
 * `tools/fuzz` builds the same target with libFuzzer to find new inputs.
 *
 * Usage: <test> DIR...   (every regular file below each DIR, recursively).
 * Fails when a DIR is missing or holds no file: a replay of nothing would
 * pass without testing anything. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* libFuzzer's optional init hook, when the target has one. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

enum { DRIVER_MAX_INPUT = 1 << 20 };

static int replay_file(const char *path)
{
    FILE *f;
    uint8_t *buf;
    size_t n;

    f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "driver: %s: %s\n", path, strerror(errno));
        return -errno;
    }
    buf = malloc(DRIVER_MAX_INPUT);
    if (!buf) {
        fclose(f);
        return -ENOMEM;
    }
    n = fread(buf, 1, DRIVER_MAX_INPUT, f);
    fclose(f);
    /* an exact-size copy, so ASan sees a read past the input's end */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) {
        free(buf);
        return -ENOMEM;
    }
    memcpy(exact, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

/* Replays every regular file below path; adds their number to *count. */
static int replay_tree(const char *path, long *count)
{
    struct stat st;
    struct dirent *e;
    DIR *d;
    char child[4096];
    int rc = 0;

    if (stat(path, &st)) {
        fprintf(stderr, "driver: %s: %s\n", path, strerror(errno));
        return -errno;
    }
    if (S_ISREG(st.st_mode)) {
        (*count)++;
        return replay_file(path);
    }
    d = opendir(path);
    if (!d)
        return -errno;
    while (!rc && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (snprintf(child, sizeof(child), "%s/%s", path, e->d_name) >=
            (int)sizeof(child)) {
            rc = -ENAMETOOLONG;
            break;
        }
        rc = replay_tree(child, count);
    }
    closedir(d);
    return rc;
}

int main(int argc, char **argv)
{
    long count = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR...\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        long before = count;

        if (replay_tree(argv[i], &count))
            return 1;
        if (count == before) {
            fprintf(stderr, "driver: %s holds no input\n", argv[i]);
            return 1;
        }
    }
    printf("driver: %ld inputs replayed, no crash\n", count);
    return 0;
}
