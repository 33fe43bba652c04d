/*
 * Protocol identification over a bounded payload prefix (STYLE.md: src/dpi, prefix dpi_).
 *
 * The flow engine calls dpi_packet() for each packet that carries payload while a flow is
 * under inspection. Inspection state (candidate dissectors, per-dissector scratch, the first
 * bytes of each TCP direction in sequence order) lives in a fixed pool of dpi_inspect_t
 * slots, taken when a flow is still undecided after its first payload packet (which is
 * inspected in a staging slot) and returned when the flow is identified or given up;
 * fields live in a second pool of oc_fields_t for as long as the flow. Nothing
 * is allocated per packet, and flow_t/flow_cold_t only hold two slot indices and the label.
 *
 * Dissectors (one function each, in dpi_PROTO.c) see a dpi_ctx_t and answer with a verdict.
 * For TCP they always get the whole in-order prefix of the packet's direction from the
 * start of the stream (up to DPI_STREAM_CAP bytes), so a request split over segments reads
 * like one; for UDP they get the datagram. They must never read outside [data, data + len)
 * and must cope with any bytes: everything here is attacker-controlled.
 */
#ifndef OC_DPI_H
#define OC_DPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ocellus/ocellus.h>

/* Bytes of each TCP direction kept in order for dissectors (and, for UDP, a scratch buffer
 * per direction a dissector may use to reassemble, e.g. QUIC CRYPTO frames). */
#define DPI_STREAM_CAP 4096

/* Bytes of each direction an inspection slot holds itself; a direction that needs more
 * moves to a DPI_STREAM_CAP buffer of its own (dpi.c). */
#define DPI_SMALL 512

/* Per-dissector private state, zeroed when inspection starts. */
#define DPI_SCRATCH 32

/* Inspection gives up after this many payload packets (both directions together). */
#define DPI_MAX_PACKETS 24

/* What a dissector says about a flow after one call. */
typedef enum {
    DPI_NO = 0,     /* not this protocol: never called again for this flow */
    DPI_MAYBE,      /* cannot tell yet: call again with the next payload */
    DPI_MATCH,      /* identified (ctx->proto set) and done with its fields */
    DPI_MATCH_MORE, /* identified; wants later payload for fields: only it is called, until
                       it returns DPI_MATCH (or DPI_NO, which ends inspection keeping the
                       label) or the packet budget runs out */
} dpi_verdict_t;

typedef struct dpi dpi_t;
struct dec_packet;

/* One call of a dissector. */
typedef struct dpi_ctx {
    const uint8_t *data;   /* TCP: this direction's stream from its first byte; UDP: the
                              datagram (as captured; may be shorter than on the wire) */
    uint32_t len;
    uint32_t new_off;      /* TCP: where this packet's bytes start in data (0 for UDP) */
    const uint8_t *peer;   /* TCP: the other direction's prefix so far (peer_len bytes);
                              NULL for UDP */
    uint32_t peer_len;
    bool stream_full;      /* TCP: DPI_STREAM_CAP reached: no more bytes will come */
    uint8_t l4;            /* 6 TCP, 17 UDP */
    uint8_t dir;           /* oc_direction_t of the packet: 0 = from the flow's source */
    uint8_t family;        /* 4 or 6 */
    uint16_t sport, dport; /* ports of this packet (host order): sport is the sender's */
    const uint8_t *saddr, *daddr; /* addresses of this packet (16 bytes; IPv4 in the first 4) */
    uint32_t pkts[2];      /* payload packets seen before this one, per direction */
    uint8_t *scratch;      /* DPI_SCRATCH bytes private to this dissector in this flow */
    uint8_t *buf;          /* UDP only: DPI_STREAM_CAP bytes for this direction, shared by
                              the dissectors of the flow (QUIC and DTLS use it, each only
                              once it has matched: the engine moves it between slots only
                              then); NULL for TCP */
    uint32_t *buf_len;     /* bytes of buf in use (the dissector maintains it) */
    oc_fields_t *fields;   /* NULL when fields are not wanted or none could be kept:
                              dissectors must check (dpi_field_set() does) */
    uint16_t proto;        /* out: oc_protocol_t on DPI_MATCH / DPI_MATCH_MORE; a dissector
                              may change it later (SMTP -> SMTPS) */
    dpi_t *dpi;            /* for dpi_expect() */
    uint64_t ts_us;        /* packet time */
} dpi_ctx_t;

typedef dpi_verdict_t (*dpi_fn_t)(dpi_ctx_t *ctx);

/* ---- helpers for dissectors (dpi_util.c) ---------------------------------------------- */

/* Stores @len bytes of @value as @field unless the field is already set (the first value
 * wins) or ctx->fields is NULL; cut to OC_FIELD_MAX_LEN and to the room left. Returns
 * whether it stored something. */
bool dpi_field_set(dpi_ctx_t *ctx, oc_field_t field, const void *value, size_t len);
/* The same for a NUL-terminated string and for a number (stored in decimal). */
bool dpi_field_set_str(dpi_ctx_t *ctx, oc_field_t field, const char *value);
bool dpi_field_set_uint(dpi_ctx_t *ctx, oc_field_t field, uint64_t value);
/* Replaces a field's value (for a later, better value: the server's choice over the
 * client's offer). Same limits. */
bool dpi_field_replace(dpi_ctx_t *ctx, oc_field_t field, const void *value, size_t len);
bool dpi_field_has(const dpi_ctx_t *ctx, oc_field_t field);

/* Byte readers: the caller has checked the length. */
static inline uint16_t dpi_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t dpi_be24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}
static inline uint32_t dpi_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Case-insensitive: does [p, p + len) start with the NUL-terminated @prefix? */
bool dpi_starts_with_ci(const uint8_t *p, size_t len, const char *prefix);

/* Case-insensitive: how many leading bytes of [p, p + len) agree with the NUL-terminated
 * @word, stopping at the word's end, at len or at the first difference. With k the result:
 * the whole word is there when word[k] == '\0' (then k is its length), and all the bytes
 * agree with the word's start when k == len. One pass, for loops over many words. */
static inline size_t dpi_agree_ci(const uint8_t *p, size_t len, const char *word)
{
    size_t i = 0;
    for (; word[i] != '\0' && i < len; i++) {
        uint8_t a = p[i], b = (uint8_t)word[i];
        if (a != b) {
            /* Equal but for case only if both are letters: then they differ in bit 5. */
            uint8_t la = (uint8_t)(a | 0x20);
            if (la != (uint8_t)(b | 0x20) || la < 'a' || la > 'z')
                break;
        }
    }
    return i;
}

/* Which of the @n NUL-terminated @tokens starts [p, p + len) followed by a space (a request
 * method of HTTP, SIP, RTSP...): its length, or 0 if none. *@prefix tells whether the bytes
 * could still become one (all of them are the start of a token): wait for more. */
size_t dpi_token_match(const uint8_t *p, size_t len, const char *const *tokens, size_t n,
                       bool *prefix);

/* Length of the line at [p, p + len) up to (not including) CRLF or LF; -1 if no line end
 * within len (the line is not complete yet). */
long dpi_line_len(const uint8_t *p, size_t len);

/*
 * Looks for the header @name (without ':', case-insensitive) among the header lines of a
 * text message (HTTP, SIP, ...) starting at [p, p + len) (just after the first line) and
 * ending at an empty line. On success points *value and *value_len at the value with surrounding
 * blanks trimmed. Only complete lines are considered.
 */
bool dpi_header_find(const uint8_t *p, size_t len, const char *name, const uint8_t **value,
                     size_t *value_len);

/*
 * Announces that a TCP or UDP connection to @addr:@port (family 4 or 6; @l4 6 or 17) is
 * expected soon and is @proto (FTP data, RTP announced in SIP/SDP): the first flow with that
 * endpoint as either side within DPI_EXPECT_TIMEOUT_S gets the label without inspection.
 * A fixed table; the oldest announcement gives way.
 */
#define DPI_EXPECT_TIMEOUT_S 120
void dpi_expect(dpi_ctx_t *ctx, uint8_t family, const uint8_t *addr, uint16_t port, uint8_t l4,
                oc_protocol_t proto);

/* ---- the dissectors ------------------------------------------------------------------ */

/* Table entry: the protocol a dissector finds and the transports it runs on. */
typedef struct dpi_dissector {
    const char *name;
    dpi_fn_t fn;
    bool tcp, udp;
} dpi_dissector_t;

/* Every dissector, in the order they are tried (dpi_table.c). */
extern const dpi_dissector_t dpi_dissectors[];
extern const unsigned dpi_n_dissectors;

/* Dissector functions (each in its own dpi_NAME.c). */
dpi_verdict_t dpi_http(dpi_ctx_t *ctx);
dpi_verdict_t dpi_tls(dpi_ctx_t *ctx);
dpi_verdict_t dpi_dtls(dpi_ctx_t *ctx);
dpi_verdict_t dpi_quic(dpi_ctx_t *ctx);
dpi_verdict_t dpi_dns(dpi_ctx_t *ctx);       /* DNS, mDNS and LLMNR, UDP and TCP */
dpi_verdict_t dpi_ssh(dpi_ctx_t *ctx);
dpi_verdict_t dpi_smtp(dpi_ctx_t *ctx);
dpi_verdict_t dpi_pop3(dpi_ctx_t *ctx);
dpi_verdict_t dpi_imap(dpi_ctx_t *ctx);
dpi_verdict_t dpi_ftp(dpi_ctx_t *ctx);
dpi_verdict_t dpi_dhcp(dpi_ctx_t *ctx);
dpi_verdict_t dpi_dhcpv6(dpi_ctx_t *ctx);
dpi_verdict_t dpi_ntp(dpi_ctx_t *ctx);
dpi_verdict_t dpi_sip(dpi_ctx_t *ctx);
dpi_verdict_t dpi_rtp(dpi_ctx_t *ctx);       /* RTP and RTCP */
dpi_verdict_t dpi_stun(dpi_ctx_t *ctx);
dpi_verdict_t dpi_bgp(dpi_ctx_t *ctx);
dpi_verdict_t dpi_mqtt(dpi_ctx_t *ctx);
dpi_verdict_t dpi_bittorrent(dpi_ctx_t *ctx);
dpi_verdict_t dpi_bittorrent_utp(dpi_ctx_t *ctx); /* uTP: a heuristic */
dpi_verdict_t dpi_ssdp(dpi_ctx_t *ctx);
dpi_verdict_t dpi_kerberos(dpi_ctx_t *ctx);
dpi_verdict_t dpi_mysql(dpi_ctx_t *ctx);
dpi_verdict_t dpi_git(dpi_ctx_t *ctx);
dpi_verdict_t dpi_wireguard(dpi_ctx_t *ctx);
dpi_verdict_t dpi_gnutella(dpi_ctx_t *ctx);
dpi_verdict_t dpi_netbios(dpi_ctx_t *ctx);
dpi_verdict_t dpi_zoom(dpi_ctx_t *ctx);
dpi_verdict_t dpi_discord(dpi_ctx_t *ctx);
dpi_verdict_t dpi_telegram(dpi_ctx_t *ctx);
dpi_verdict_t dpi_dropbox(dpi_ctx_t *ctx);
dpi_verdict_t dpi_spotify(dpi_ctx_t *ctx);
dpi_verdict_t dpi_natpmp(dpi_ctx_t *ctx);
dpi_verdict_t dpi_wsd(dpi_ctx_t *ctx);

/*
 * The TLS handshake parser shared by TLS, the mail STARTTLS upgrades and DTLS: reads TLS
 * records from [p, p + len) (one direction's bytes from the first record on) and fills SNI,
 * versions, ALPN, cipher, JA3/JA4 and certificate fields. @client says whether these are the
 * client's bytes. Returns true once everything that direction can give was seen.
 */
bool dpi_tls_parse(dpi_ctx_t *ctx, const uint8_t *p, size_t len, bool client);

/* ---- the engine side (dpi.c) ----------------------------------------------------------- */

#define DPI_NONE UINT32_MAX

/* Pools and the expectation table, one per engine. */
void dpi_init(dpi_t **dpi, const oc_config_t *cfg);
void dpi_free(dpi_t *dpi);

/* What the flow engine keeps for DPI per flow (in flow_cold_t). */
typedef struct dpi_flow {
    uint32_t inspect;   /* dpi_inspect_t slot, DPI_NONE when not inspecting */
    uint32_t fields;    /* oc_fields_t slot, DPI_NONE when none */
} dpi_flow_t;

/* Per-flow DPI states (flow_t.dpi_state). */
enum { DPI_ST_NEW = 0, DPI_ST_INSPECTING = 1, DPI_ST_DONE = 2 };

/* A packet of a flow that is not DPI_ST_DONE. May change *state and *proto. Counts into
 * @stats. Per packet; allocates nothing. */
void dpi_packet(dpi_t *dpi, dpi_flow_t *df, uint8_t *state, uint16_t *proto, unsigned dir,
                uint64_t ts_us, const struct dec_packet *pkt, oc_engine_stats_t *stats);

/* The fields of a flow (NULL if none). */
const oc_fields_t *dpi_fields(const dpi_t *dpi, const dpi_flow_t *df);

/* The flow ends: its slots go back to the pools. */
void dpi_flow_release(dpi_t *dpi, dpi_flow_t *df);

#endif /* OC_DPI_H */
