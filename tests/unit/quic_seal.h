/*
 * Test helper: QUIC Initial packet protection (RFC 9001 section 5), the inverse of what the
 * QUIC dissector undoes, so tests can build client Initials with any frames in them.
 * quic_seal_nettle.c does it with nettle; quic_seal_none.c (builds --without-nettle) fails.
 */
#ifndef OC_TEST_QUIC_SEAL_H
#define OC_TEST_QUIC_SEAL_H

#include <stddef.h>
#include <stdint.h>

/*
 * Seals a client Initial: @hdr is the unprotected long header, hdr_len bytes ending with a
 * pn_len-byte packet number (its Length field must count pn_len + payload_len + 16), and
 * @payload the frames. Keys come from @dcid with @salt (20 bytes) and the label @prefix
 * ("quic " or "quicv2 "). Writes hdr_len + payload_len + 16 bytes to @out and returns that
 * count; 0 when the build has no crypto.
 */
size_t quic_seal_initial(const uint8_t *salt, const char *prefix, const uint8_t *dcid,
                         size_t dcid_len, const uint8_t *hdr, size_t hdr_len, size_t pn_len,
                         const uint8_t *payload, size_t payload_len, uint8_t *out);

#endif
