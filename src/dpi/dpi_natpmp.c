/*
 * NAT-PMP (RFC 6886), UDP port 5351 on the gateway.
 *
 * Requests are tiny and almost all zero: version 0, opcode 0 (external address, 2 bytes)
 * or 1/2 (map UDP/TCP, 12 bytes with a zero reserved field). Bytes that plain cannot
 * tell a protocol apart, so here the port is part of the evidence: a request must go to
 * 5351 and an answer (opcode + 128, result code, seconds since start of epoch) come from
 * it, each with the exact length RFC 6886 gives for its opcode. PCP (RFC 6887, version
 * 2) shares the port and is not NAT-PMP.
 */
#include "config.h"

#include "dpi/dpi.h"

#define NATPMP_PORT 5351

static bool natpmp_message(const uint8_t *p, size_t len, bool to_server)
{
    if (len < 2 || p[0] != 0)
        return false;
    uint8_t op = p[1];
    if (to_server) {
        if (op == 0)
            return len == 2;
        return (op == 1 || op == 2) && len == 12 && p[2] == 0 && p[3] == 0;
    }
    /* Answers carry a result code 0-5. */
    if (len < 8 || p[2] != 0 || p[3] > 5)
        return false;
    if (op == 128)
        return len == 12;
    return (op == 129 || op == 130) && len == 16;
}

dpi_verdict_t dpi_natpmp(dpi_ctx_t *ctx)
{
    if (ctx->l4 != 17)
        return DPI_NO;
    bool to_server = ctx->dport == NATPMP_PORT;
    if (!to_server && ctx->sport != NATPMP_PORT)
        return DPI_NO;
    if (!natpmp_message(ctx->data, ctx->len, to_server))
        return DPI_NO;
    ctx->proto = OC_PROTO_NAT_PMP;
    return DPI_MATCH;
}
