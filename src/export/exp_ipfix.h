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

/* Template id of the statistics options template, in every session beside the mapper's. */
#define EXP_STATS_TID 258
_Static_assert(EXP_STATS_TID != MAP_IPFIX_TID_V4 && EXP_STATS_TID != MAP_IPFIX_TID_V6,
               "the options template needs an id of its own");

/* Writes the statistics options record for @st into @rec (at least EXP_STATS_RECORD_SIZE
 * bytes), with the output's own counters: @records_sent IPFIX data records of flows delivered
 * so far, and its messages sent and records lost. Returns its length. Output thread. */
#define EXP_STATS_RECORD_SIZE 80
size_t exp_ipfix_stats_fill(exp_output_t *out, const exp_stats_t *st, uint64_t records_sent,
                            uint8_t *rec);

/* Loads @out's template file into a new information model and mapper (both owned by the
 * caller, also on failure: free what is not NULL) and sets out->wants_fields when the
 * template has DPI field elements. Errors name the output. Setup only. */
bool exp_ipfix_load(exp_output_t *out, fbInfoModel_t **model, map_ipfix_t **map,
                    GError **error);

/* A new session (observation domain of @out, both flow templates and the statistics options
 * template as internal and export templates, sequence numbers from 0) on a buffer exporter writing each message into @msg
 * (@msg_size bytes, caller-owned), in manual mode. The caller frees it with fBufFree(), which
 * frees the session too. NULL with @error set if libfixbuf refuses a template. */
fBuf_t *exp_ipfix_fbuf_new(exp_output_t *out, fbInfoModel_t *model, const map_ipfix_t *map,
                           uint8_t *msg, uint16_t msg_size, GError **error);

#endif /* OC_EXP_IPFIX_H */
