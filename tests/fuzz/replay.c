/*
 * Corpus replay for the fuzz targets when they are built without libFuzzer.
 *
 * make check must exercise every committed corpus file on machines without clang's fuzzer
 * runtime, so each fuzz_*.c links with this main() instead: it feeds every file named on the
 * command line, or found directly inside a directory named there, to LLVMFuzzerTestOneInput()
 * once, as libFuzzer does with -runs=0. A crash is the failure signal, exactly as under
 * libFuzzer; an unreadable argument is an error too, so a missing corpus cannot pass quietly.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs larger than this are not fuzz inputs; refusing them keeps a stray file harmless. */
#define REPLAY_MAX_INPUT (16u * 1024u * 1024u)

static int replay_file(const char *path, unsigned long *runs)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;

    if (f == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (;;) {
        size_t got;

        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            uint8_t *nbuf;

            if (ncap > REPLAY_MAX_INPUT) {
                fprintf(stderr, "replay: %s: larger than %u bytes\n", path, REPLAY_MAX_INPUT);
                free(buf);
                fclose(f);
                return -1;
            }
            nbuf = realloc(buf, ncap);
            if (nbuf == NULL) {
                fprintf(stderr, "replay: %s: out of memory\n", path);
                free(buf);
                fclose(f);
                return -1;
            }
            buf = nbuf;
            cap = ncap;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        fprintf(stderr, "replay: %s: read error\n", path);
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);

    /* Hand the target a block of exactly the input's size so ASan sees its end. */
    {
        uint8_t *exact = malloc(len ? len : 1);

        if (exact == NULL) {
            free(buf);
            return -1;
        }
        if (len > 0)
            memcpy(exact, buf, len);
        free(buf);
        LLVMFuzzerTestOneInput(exact, len);
        free(exact);
    }
    (*runs)++;
    return 0;
}

static int replay_path(const char *path, unsigned long *runs)
{
    struct stat st;
    DIR *dir;
    struct dirent *de;
    int rc = 0;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return replay_file(path, runs);

    dir = opendir(path);
    if (dir == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    while ((de = readdir(dir)) != NULL) {
        struct stat fst;
        char *child;
        size_t n;

        if (de->d_name[0] == '.')
            continue; /* ., .. and hidden files such as editor leftovers */
        n = strlen(path) + 1 + strlen(de->d_name) + 1;
        child = malloc(n);
        if (child == NULL) {
            rc = -1;
            break;
        }
        snprintf(child, n, "%s/%s", path, de->d_name);
        /* Only regular files: libFuzzer does not recurse either. */
        if (stat(child, &fst) == 0 && S_ISREG(fst.st_mode) && replay_file(child, runs) != 0)
            rc = -1;
        free(child);
    }
    closedir(dir);
    return rc;
}

int main(int argc, char **argv)
{
    unsigned long runs = 0;
    int rc = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        /* libFuzzer flags (-runs=0 ...) are accepted and ignored so callers need not care. */
        if (argv[i][0] == '-' && argv[i][1] != '\0')
            continue;
        if (replay_path(argv[i], &runs) != 0)
            rc = 1;
    }
    printf("%s: ran %lu inputs\n", argv[0], runs);
    return rc;
}
