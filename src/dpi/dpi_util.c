/*
 * Helpers for dissectors: bounded field stores and small text scanners. Everything reads
 * only inside the bounds it is given, since every byte comes from the wire.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "dpi/dpi.h"

static bool field_store(oc_fields_t *f, oc_field_t field, const void *value, size_t len)
{
    if (len > OC_FIELD_MAX_LEN)
        len = OC_FIELD_MAX_LEN;
    size_t room = OC_FIELDS_BYTES - f->used;
    if (len > room)
        len = room;
    if (len == 0)
        return false;
    memcpy(f->buf + f->used, value, len);
    f->off[field] = f->used;
    f->len[field] = (uint16_t)len;
    f->used = (uint16_t)(f->used + len);
    return true;
}

bool dpi_field_set(dpi_ctx_t *ctx, oc_field_t field, const void *value, size_t len)
{
    if (ctx->fields == NULL || (unsigned)field >= OC_FIELD_N || ctx->fields->len[field] != 0)
        return false;
    return field_store(ctx->fields, field, value, len);
}

bool dpi_field_replace(dpi_ctx_t *ctx, oc_field_t field, const void *value, size_t len)
{
    if (ctx->fields == NULL || (unsigned)field >= OC_FIELD_N)
        return false;
    oc_fields_t *f = ctx->fields;
    if (f->len[field] != 0 && len > 0 && len <= f->len[field]) {
        /* Fits where the old value was: no space is lost. */
        memcpy(f->buf + f->off[field], value, len);
        f->len[field] = (uint16_t)len;
        return true;
    }
    f->len[field] = 0; /* the old bytes stay as dead space: the store only grows */
    return field_store(f, field, value, len);
}

bool dpi_field_set_str(dpi_ctx_t *ctx, oc_field_t field, const char *value)
{
    return dpi_field_set(ctx, field, value, strlen(value));
}

bool dpi_field_set_uint(dpi_ctx_t *ctx, oc_field_t field, uint64_t value)
{
    char text[24];
    int n = snprintf(text, sizeof text, "%llu", (unsigned long long)value);
    return dpi_field_set(ctx, field, text, (size_t)n);
}

bool dpi_field_has(const dpi_ctx_t *ctx, oc_field_t field)
{
    return ctx->fields != NULL && (unsigned)field < OC_FIELD_N && ctx->fields->len[field] != 0;
}

/* Dissectors call these for every candidate flow, mostly on bytes that are not theirs: one
 * pass that stops at the first difference, without measuring the word first, keeps the
 * usual "no" to a byte or two. */
bool dpi_starts_with_ci(const uint8_t *p, size_t len, const char *prefix)
{
    return prefix[dpi_agree_ci(p, len, prefix)] == '\0';
}

size_t dpi_token_match(const uint8_t *p, size_t len, const char *const *tokens, size_t n,
                       bool *prefix)
{
    *prefix = false;
    for (size_t i = 0; i < n; i++) {
        const char *t = tokens[i];
        size_t k = 0;
        while (t[k] != '\0' && k < len && p[k] == (uint8_t)t[k])
            k++;
        if (t[k] == '\0') {
            /* The whole token: a method when a space follows, else still one if the bytes
             * end here. */
            if (k < len) {
                if (p[k] == ' ')
                    return k;
            } else {
                *prefix = true;
            }
        } else if (k == len) {
            *prefix = true; /* the bytes end inside the token */
        }
    }
    return 0;
}

long dpi_line_len(const uint8_t *p, size_t len)
{
    const uint8_t *nl = memchr(p, '\n', len);
    if (nl == NULL)
        return -1;
    size_t n = (size_t)(nl - p);
    if (n > 0 && p[n - 1] == '\r')
        n--;
    return (long)n;
}

static bool is_blank(uint8_t c)
{
    return c == ' ' || c == '\t';
}

bool dpi_header_find(const uint8_t *p, size_t len, const char *name, const uint8_t **value,
                     size_t *value_len)
{
    size_t name_len = strlen(name);
    size_t pos = 0;
    while (pos < len) {
        long ll = dpi_line_len(p + pos, len - pos);
        if (ll < 0)
            return false;
        const uint8_t *line = p + pos;
        size_t l = (size_t)ll;
        if (l == 0)
            return false; /* end of the headers */
        if (l > name_len && line[name_len] == ':' && dpi_starts_with_ci(line, l, name)) {
            size_t a = name_len + 1, b = l;
            while (a < b && is_blank(line[a]))
                a++;
            while (b > a && is_blank(line[b - 1]))
                b--;
            *value = line + a;
            *value_len = b - a;
            return true;
        }
        const uint8_t *nl = memchr(line, '\n', len - pos);
        pos = (size_t)(nl - p) + 1;
    }
    return false;
}
