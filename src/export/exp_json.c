/*
 * json:PATH output: one JSON object per flow record and line (map_json.c formats them), to
 * a file or, for PATH "-", standard output. It sits behind the same queue and thread as the
 * IPFIX outputs so a blocked pipe or a slow disk never stalls capture either. stdio buffers
 * the lines; the buffer is flushed whenever the queue runs empty, so a reader following the
 * output sees records promptly.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "export/exp_internal.h"
#include "map/map_json.h"

typedef struct {
    FILE *fp;
    bool is_stdout;
    uint64_t unflushed;   /* lines written to stdio since the last fflush */
    char line[MAP_JSON_MAX];
} exp_json_t;

static FILE *json_fopen(const char *path, const char *mode, GError **error)
{
    FILE *fp = fopen(path, mode);
    if (fp == NULL)
        g_set_error(error, EXP_ERROR, EXP_ERROR_OPEN, "cannot open %s: %s", path,
                    g_strerror(errno));
    return fp;
}

static bool json_open(exp_output_t *out, GError **error)
{
    exp_json_t *s = g_new0(exp_json_t, 1);
    out->sink = s;
    out->wants_fields = true; /* JSON carries every field there is */
    if (strcmp(out->path, "-") == 0) {
        s->fp = stdout;
        s->is_stdout = true;
        return true;
    }
    s->fp = json_fopen(out->path, "we", error);
    if (s->fp == NULL) {
        g_prefix_error(error, "output %s: ", out->name);
        return false;
    }
    return true;
}

static void json_flush(exp_output_t *out)
{
    exp_json_t *s = out->sink;
    if (s->unflushed == 0 || s->fp == NULL)
        return;
    uint64_t n = s->unflushed;
    s->unflushed = 0;
    if (fflush(s->fp) != 0 || ferror(s->fp)) {
        exp_output_failure(out, "write %s: %s", s->is_stdout ? "standard output" : out->path,
                           g_strerror(errno));
        clearerr(s->fp);
        exp_output_account(out, 0, n, 0, 1);
        return;
    }
    exp_output_recovered(out);
    exp_output_account(out, n, 0, n, 0);
}

static void json_write(exp_output_t *out, const oc_flow_info_t *recs, size_t n)
{
    exp_json_t *s = out->sink;
    for (size_t i = 0; i < n; i++) {
        size_t len = map_json_format(&recs[i], s->line, sizeof s->line);
        if (s->fp == NULL || fwrite(s->line, 1, len, s->fp) != len) {
            exp_output_account(out, 0, 1, 0, 1);
            continue;
        }
        s->unflushed++;
    }
}

/* SIGHUP: appends to PATH (a new file if it was moved away); when that fails the file open
 * so far stays open and written, and @error says so. */
static bool json_reopen(exp_output_t *out, GError **error)
{
    exp_json_t *s = out->sink;
    if (s->is_stdout)
        return true;
    json_flush(out);
    GError *err = NULL;
    FILE *fp = json_fopen(out->path, "ae", &err);
    if (fp == NULL) {
        g_set_error(error, EXP_ERROR, EXP_ERROR_OPEN, "%s; still writing the file it had open",
                    err->message);
        g_error_free(err);
        return false;
    }
    if (s->fp != NULL)
        fclose(s->fp);
    s->fp = fp;
    return true;
}

static void json_free(exp_output_t *out)
{
    exp_json_t *s = out->sink;
    if (s->fp != NULL && !s->is_stdout)
        fclose(s->fp);
    else if (s->is_stdout)
        fflush(stdout);
    g_free(s);
    out->sink = NULL;
}

const exp_sink_ops_t exp_json_ops = {
    .open = json_open,
    .write = json_write,
    .flush = json_flush,
    .reopen = json_reopen,
    .free = json_free,
};
