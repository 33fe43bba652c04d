/*
 * The part of the TLS handshake parser (dpi_tls.c) that QUIC (dpi_quic.c) shares: QUIC
 * carries TLS handshake messages in CRYPTO frames, without TLS records around them.
 */
#ifndef OC_DPI_TLS_H
#define OC_DPI_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dpi/dpi.h"

/* What carries the handshake: the first letter of a JA4 fingerprint. */
typedef enum {
    DPI_TLS_OVER_TCP = 't',
    DPI_TLS_OVER_DTLS = 'd',
    DPI_TLS_OVER_QUIC = 'q',
} dpi_tls_transport_t;

/*
 * Reads the body of a ClientHello (the bytes after its 4-byte handshake header, or 12-byte
 * DTLS header) from [body, body + len) and stores SNI, ALPN, the client's highest version
 * and, when crypto is available and @complete, JA3 and JA4. With !@complete (the message was
 * cut by a buffer cap) only extensions that are wholly visible are used and no fingerprint
 * is made. Returns false if the bytes are not a ClientHello. Per packet; allocates nothing.
 */
bool dpi_tls_client_hello(dpi_ctx_t *ctx, const uint8_t *body, size_t len, bool complete,
                          dpi_tls_transport_t transport);

/* Text for a TLS/DTLS version number ("TLSv1.3", "DTLSv1.2"), NULL if unknown. */
const char *dpi_tls_version_name(uint16_t version);

#endif /* OC_DPI_TLS_H */
