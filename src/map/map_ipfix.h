/*
 * Finished flow -> IPFIX data record, driven by a template file (templates/README).
 *
 * map_ipfix_load() reads a template file into two libfixbuf templates (IPv4 and IPv6) and, for
 * each, a table of rows {element, length, value source, direction, offset}. map_ipfix_fill()
 * then writes a flow's values into a record buffer at those offsets; libfixbuf encodes the
 * buffer with the same template as the internal and the export template. Variable-length
 * elements (applicationName, the DPI fields) are an fbVarfield_t in the buffer, pointing
 * into the flow's fields.
 */
#ifndef OC_MAP_IPFIX_H
#define OC_MAP_IPFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fixbuf/public.h>
#include <glib.h>

#include <ocellus/ocellus.h>

#define MAP_IPFIX_ERROR (map_ipfix_error_quark())
GQuark map_ipfix_error_quark(void);

typedef enum {
    MAP_IPFIX_ERROR_OPEN,      /* the template file cannot be read */
    MAP_IPFIX_ERROR_SYNTAX,    /* bad line, bad pen/id */
    MAP_IPFIX_ERROR_UNKNOWN,   /* element not in the information model */
    MAP_IPFIX_ERROR_AMBIGUOUS, /* name of two elements: write pen/id */
    MAP_IPFIX_ERROR_DUPLICATE, /* the element is listed twice */
    MAP_IPFIX_ERROR_UNFILLABLE, /* the mapper has no value for the element */
    MAP_IPFIX_ERROR_EMPTY,     /* no element usable for IPv4 or for IPv6 flows */
    MAP_IPFIX_ERROR_FIXBUF     /* libfixbuf refused the template */
} map_ipfix_error_t;

/* The two address families get their own template (no zero-filled address fields). */
typedef enum { MAP_IPFIX_V4 = 0, MAP_IPFIX_V6 = 1, MAP_IPFIX_N_FAMILY } map_ipfix_family_t;

/* Template ids used in every session (data set ids, RFC 7011: >= 256). */
#define MAP_IPFIX_TID_V4 256
#define MAP_IPFIX_TID_V6 257

/* Largest record the mapper writes in memory (fixed element lengths plus one fbVarfield_t
 * per variable-length element). */
#define MAP_IPFIX_MAX_RECORD 1024

/* Where the templates are installed; OCELLUS_TEMPLATE_DIR in the environment overrides it
 * (tests run from the build tree). */
const char *map_ipfix_template_dir(void);

/*
 * Builds the information model every mapper uses: libfixbuf's IANA model plus the CERT
 * (PEN 6871) elements we export (initialTCPFlags, unionTCPFlags and their reverses,
 * reverseFlowDeltaMilliseconds, silkAppLabel, and the DPI fields: sslServerName,
 * sslServerCipher, dnsQName, dnsQRType, sshVersion and its reverse, smtpHello, smtpFrom,
 * smtpTo, smtpStartTLS, sipUserAgent, dhcpVendorCode). Free with fbInfoModelFree() after
 * every session using it.
 */
fbInfoModel_t *map_ipfix_model_new(void);

typedef struct map_ipfix map_ipfix_t;

/* Per-output mapping options. */
typedef struct map_ipfix_opts {
    bool uniflow;                 /* two one-way records per biflow: reverse elements and
                                     reverseFlowDeltaMilliseconds are left out */
    uint32_t ingress_interface;   /* value of ingressInterface */
    size_t max_wire_record;       /* 0: no limit; else variable-length values are cut, longest
                                     first, so that each encoded record fits in this many
                                     octets (a UDP datagram less the message and set
                                     headers); a template whose smallest record is longer is
                                     refused by map_ipfix_load() */
} map_ipfix_opts_t;

/*
 * Reads the template file @path (NULL: default.tmpl in map_ipfix_template_dir(); a name
 * without '/' is looked up there too, with ".tmpl" appended unless a file of that very name
 * exists) against @model (borrowed; must outlive the mapper).
 * Errors (MAP_IPFIX_ERROR) name the file, the line and the element. Setup only.
 */
map_ipfix_t *map_ipfix_load(fbInfoModel_t *model, const char *path, const map_ipfix_opts_t *opts,
                            GError **error);

/* Frees the mapper; map_ipfix_free(NULL) does nothing. */
void map_ipfix_free(map_ipfix_t *map);

/*
 * A new libfixbuf template for @family, for use as both the internal and the export template.
 * The caller owns it: fbSessionAddTemplate() hands it to a session, otherwise
 * fbTemplateFreeUnused() frees it. Returns NULL with @error set if libfixbuf refuses it.
 */
fbTemplate_t *map_ipfix_template_new(const map_ipfix_t *map, map_ipfix_family_t family,
                                     GError **error);

/* In-memory record size for @family, what fBufAppend() takes: the fixed element lengths
 * plus sizeof(fbVarfield_t) per variable-length element, without padding (libfixbuf's
 * layout). */
size_t map_ipfix_record_size(const map_ipfix_t *map, map_ipfix_family_t family);

/* Encoded (wire) length of the record @rec that map_ipfix_fill() wrote for @family: the fixed
 * lengths plus, per variable-length element, its value and a 1- or 3-octet length prefix.
 * With no variable-length element it equals map_ipfix_record_size(). Per record. */
size_t map_ipfix_wire_size(const map_ipfix_t *map, map_ipfix_family_t family,
                           const uint8_t *rec);

/* Whether the template has an element filled from DPI fields (applicationName included):
 * an output using it needs the flows' fields (oc_flow_info_t.fields). */
bool map_ipfix_wants_fields(const map_ipfix_t *map);

/* Number of elements of the @family template, and the i-th one (ent, num, length;
 * FB_IE_VARLEN for a variable-length one). */
size_t map_ipfix_n_elements(const map_ipfix_t *map, map_ipfix_family_t family);
void map_ipfix_element(const map_ipfix_t *map, map_ipfix_family_t family, size_t i,
                       uint32_t *ent, uint16_t *num, uint16_t *len);

/* The path the mapper was loaded from (for messages). */
const char *map_ipfix_path(const map_ipfix_t *map);

/*
 * Writes @info as records into @rec (room for 2 records of MAP_IPFIX_MAX_RECORD bytes each,
 * record i at rec + i * MAP_IPFIX_MAX_RECORD). Biflow mode writes one record; uniflow mode
 * one per direction that has packets (0, 1 or 2). Sets *family and returns the number of
 * records. Allocates nothing; runs on the export thread per record.
 *
 * Variable-length elements point into @info->fields (and static protocol names), not into
 * @rec: encode the records (fBufAppend()) while @info's fields are still valid.
 */
size_t map_ipfix_fill(const map_ipfix_t *map, const oc_flow_info_t *info, uint8_t *rec,
                      map_ipfix_family_t *family);

#endif /* OC_MAP_IPFIX_H */
