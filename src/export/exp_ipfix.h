/*
 * What the IPFIX sinks share (exp_ipfix.c: file: and udp://; exp_tcp.c: tcp://): loading an
 * output's mapper and building a libfixbuf session and buffer exporter with its templates.
 * Not installed; not for main.c.
 */
#ifndef OC_EXP_IPFIX_H
#define OC_EXP_IPFIX_H

#include <fixbuf/public.h>

#include "export/exp_internal.h"
#include "map/map_ipfix.h"

/* Loads @out's template file into a new information model and mapper (both owned by the
 * caller, also on failure: free what is not NULL). Errors name the output. Setup only. */
bool exp_ipfix_load(exp_output_t *out, fbInfoModel_t **model, map_ipfix_t **map,
                    GError **error);

/* A new session (observation domain of @out, both templates as internal and export
 * templates, sequence numbers from 0) on a buffer exporter writing each message into @msg
 * (@msg_size bytes, caller-owned), in manual mode. The caller frees it with fBufFree(), which
 * frees the session too. NULL with @error set if libfixbuf refuses a template. */
fBuf_t *exp_ipfix_fbuf_new(exp_output_t *out, fbInfoModel_t *model, const map_ipfix_t *map,
                           uint8_t *msg, uint16_t msg_size, GError **error);

#endif /* OC_EXP_IPFIX_H */
