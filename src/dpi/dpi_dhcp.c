/*
 * DHCP (RFC 2131, options RFC 2132) and DHCPv6 (RFC 8415).
 *
 * DHCP rides in a BOOTP message (RFC 951): a fixed 236-byte part, then the magic cookie
 * 99.130.83.99 that tells DHCP options from BOOTP vendor bytes. The cookie at its offset,
 * a known op code, a hardware address length that fits its field and a DHCP message type
 * option (plain BOOTP has none) identify it; the options (code, length, value) are walked
 * up to the end option or the end of the bytes. Fields come from
 * the client's messages: host name (12), vendor class (60), requested address (50). A
 * client's DISCOVER may lack what its REQUEST carries, so the flow is followed until the
 * client has sent a REQUEST (or INFORM) or all three fields are known, unless only the
 * server speaks in it.
 *
 * DHCPv6 has no magic number: a message is a type byte, a transaction id and options
 * (code, length, value) that must tile the datagram exactly. On top of that a client or
 * server message must carry a client or server DUID (every type does except, optionally,
 * Information-request, which then carries an option request or elapsed time), and a relay
 * message its relayed message. Fields: host name from the Client FQDN option (39) and
 * the vendor class (16).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "dpi/dpi.h"

/* ---- DHCP ------------------------------------------------------------------------------ */

#define BOOTP_FIXED 236
#define DHCP_OPT_PAD 0
#define DHCP_OPT_REQUESTED_ADDR 50
#define DHCP_OPT_HOST_NAME 12
#define DHCP_OPT_MSG_TYPE 53
#define DHCP_OPT_VENDOR_CLASS 60
#define DHCP_OPT_END 255

#define DHCP_REQUEST 3
#define DHCP_INFORM 8

/* A text option: up to its first NUL (some clients count a terminating one). */
static void set_text(dpi_ctx_t *ctx, oc_field_t field, const uint8_t *p, size_t n)
{
    const uint8_t *nul = memchr(p, 0, n);
    if (nul != NULL)
        n = (size_t)(nul - p);
    if (n > 0)
        dpi_field_set(ctx, field, p, n);
}

dpi_verdict_t dpi_dhcp(dpi_ctx_t *ctx)
{
    const uint8_t *p = ctx->data;
    size_t len = ctx->len;
    if (len < BOOTP_FIXED + 4 || (p[0] != 1 && p[0] != 2) || p[2] > 16 ||
        dpi_be32(p + BOOTP_FIXED) != 0x63825363)
        return DPI_NO; /* once identified, this ends inspection and keeps the label */
    bool client = p[0] == 1;
    int msg_type = -1;
    const uint8_t *host = NULL, *vendor = NULL, *req = NULL;
    size_t host_len = 0, vendor_len = 0;
    size_t off = BOOTP_FIXED + 4;
    while (off < len) {
        uint8_t code = p[off];
        if (code == DHCP_OPT_END)
            break;
        if (code == DHCP_OPT_PAD) {
            off++;
            continue;
        }
        if (off + 2 > len)
            break; /* cut by the capture: keep what was read */
        size_t olen = p[off + 1];
        const uint8_t *val = p + off + 2;
        if (off + 2 + olen > len)
            break;
        if (code == DHCP_OPT_MSG_TYPE && olen == 1)
            msg_type = val[0];
        else if (code == DHCP_OPT_HOST_NAME)
            host = val, host_len = olen;
        else if (code == DHCP_OPT_VENDOR_CLASS)
            vendor = val, vendor_len = olen;
        else if (code == DHCP_OPT_REQUESTED_ADDR && olen == 4)
            req = val;
        off += 2 + olen;
    }
    /* No message type: plain BOOTP. Types above 18 are unassigned. */
    if (msg_type < 1 || msg_type > 18)
        return DPI_NO;
    ctx->proto = OC_PROTO_DHCP;
    if (client) {
        if (host != NULL)
            set_text(ctx, OC_FIELD_DHCP_HOST_NAME, host, host_len);
        if (vendor != NULL)
            set_text(ctx, OC_FIELD_DHCP_VENDOR_CLASS, vendor, vendor_len);
        /* 0.0.0.0 asks for nothing; a REQUEST's address is the one the client takes, so it
         * replaces what a DISCOVER asked for. */
        if (req != NULL && dpi_be32(req) != 0 &&
            (msg_type == DHCP_REQUEST || !dpi_field_has(ctx, OC_FIELD_DHCP_REQUESTED_ADDR))) {
            char text[16];
            int n = snprintf(text, sizeof text, "%u.%u.%u.%u", req[0], req[1], req[2], req[3]);
            dpi_field_replace(ctx, OC_FIELD_DHCP_REQUESTED_ADDR, text, (size_t)n);
        }
    }
    if (ctx->fields == NULL || (client && (msg_type == DHCP_REQUEST || msg_type == DHCP_INFORM)))
        return DPI_MATCH;
    /* A server talking to a client that has not spoken in this flow (replies to broadcasts
     * from 0.0.0.0 go to another address pair): the client's messages are elsewhere. */
    if (!client && ctx->pkts[ctx->dir ^ 1u] == 0)
        return DPI_MATCH;
    if (dpi_field_has(ctx, OC_FIELD_DHCP_HOST_NAME) &&
        dpi_field_has(ctx, OC_FIELD_DHCP_VENDOR_CLASS) &&
        dpi_field_has(ctx, OC_FIELD_DHCP_REQUESTED_ADDR))
        return DPI_MATCH;
    return DPI_MATCH_MORE;
}

/* ---- DHCPv6 ---------------------------------------------------------------------------- */

#define V6_RELAY_FORW 12
#define V6_RELAY_REPL 13
#define V6_INFORMATION_REQUEST 11
#define V6_RELAY_HDR 34         /* type, hop count, link and peer addresses */
#define V6_OPT_CLIENTID 1
#define V6_OPT_SERVERID 2
#define V6_OPT_ORO 6
#define V6_OPT_ELAPSED_TIME 8
#define V6_OPT_RELAY_MSG 9
#define V6_OPT_VENDOR_CLASS 16
#define V6_OPT_CLIENT_FQDN 39
#define V6_OPT_MAX 200           /* IANA has assigned fewer (about 150) */

/* A DUID: a known type (RFC 8415 section 11.1) and room for more than the type. */
static bool duid_ok(const uint8_t *p, size_t n)
{
    if (n < 3 || n > 130)
        return false;
    uint16_t type = dpi_be16(p);
    return type >= 1 && type <= 4;
}

/* The Client FQDN option's name (RFC 4704): flags, then a DNS name in wire form, possibly
 * partial (no root label), never compressed. Written with dots; other bytes as they are. */
static void set_fqdn(dpi_ctx_t *ctx, const uint8_t *p, size_t n)
{
    char text[256];
    size_t t = 0;
    size_t off = 1;
    while (off < n && p[off] != 0) {
        size_t l = p[off];
        if (l > 63 || off + 1 + l > n || t + l + 1 >= sizeof text)
            break;
        if (t > 0)
            text[t++] = '.';
        memcpy(text + t, p + off + 1, l);
        t += l;
        off += 1 + l;
    }
    if (t > 0)
        dpi_field_set(ctx, OC_FIELD_DHCP_HOST_NAME, text, t);
}

dpi_verdict_t dpi_dhcpv6(dpi_ctx_t *ctx)
{
    const uint8_t *p = ctx->data;
    size_t len = ctx->len;
    if (len < 4)
        return DPI_NO;
    uint8_t type = p[0];
    size_t off;
    if (type >= 1 && type <= V6_INFORMATION_REQUEST)
        off = 4;
    else if (type == V6_RELAY_FORW || type == V6_RELAY_REPL)
        off = V6_RELAY_HDR;
    else
        return DPI_NO;
    bool id = false, relay_msg = false, info_opts = false;
    const uint8_t *fqdn = NULL, *vendor = NULL;
    size_t fqdn_len = 0, vendor_len = 0;
    unsigned n_opts = 0;
    while (off < len) {
        if (off + 4 > len)
            return DPI_NO;
        uint16_t code = dpi_be16(p + off), olen = dpi_be16(p + off + 2);
        const uint8_t *val = p + off + 4;
        if (code == 0 || code > V6_OPT_MAX || off + 4 + olen > len)
            return DPI_NO;
        if (code == V6_OPT_CLIENTID || code == V6_OPT_SERVERID) {
            if (!duid_ok(val, olen))
                return DPI_NO;
            id = true;
        } else if (code == V6_OPT_RELAY_MSG) {
            relay_msg = olen >= 4;
        } else if (code == V6_OPT_ORO || code == V6_OPT_ELAPSED_TIME) {
            info_opts = true;
        } else if (code == V6_OPT_CLIENT_FQDN && olen >= 1) {
            fqdn = val, fqdn_len = olen;
        } else if (code == V6_OPT_VENDOR_CLASS && olen >= 6) {
            vendor = val, vendor_len = olen;
        }
        off += 4u + olen;
        n_opts++;
    }
    if (n_opts == 0)
        return DPI_NO;
    if (type == V6_RELAY_FORW || type == V6_RELAY_REPL) {
        if (!relay_msg)
            return DPI_NO;
    } else if (!id && !(type == V6_INFORMATION_REQUEST && info_opts)) {
        return DPI_NO;
    }
    ctx->proto = OC_PROTO_DHCPV6;
    if (fqdn != NULL)
        set_fqdn(ctx, fqdn, fqdn_len);
    if (vendor != NULL) {
        /* enterprise number, then vendor-class-data: (length, opaque) pairs; the first */
        size_t dl = dpi_be16(vendor + 4);
        if (dl > 0 && 6 + dl <= vendor_len)
            dpi_field_set(ctx, OC_FIELD_DHCP_VENDOR_CLASS, vendor + 6, dl);
    }
    return DPI_MATCH;
}
