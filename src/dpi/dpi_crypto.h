/*
 * Cryptographic primitives the TLS and QUIC dissectors need: MD5 (JA3), SHA-256 (JA4),
 * HKDF-SHA256, AES-128 in ECB (QUIC header protection) and AES-128-GCM (QUIC Initial
 * packets). Two implementations, chosen in Makefile.am: dpi_crypto_nettle.c over Debian's
 * nettle, and dpi_crypto_none.c for builds configured --without-nettle, where every call
 * fails and dpi_crypto_available is false, so dissectors still label flows but leave the
 * fingerprints and the QUIC server name out.
 *
 * All functions are safe per packet: they allocate nothing and keep no state between calls
 * beyond the caller's dpi_hash_t.
 */
#ifndef OC_DPI_CRYPTO_H
#define OC_DPI_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether the functions below work in this build. */
extern const bool dpi_crypto_available;

/* Opaque hash state (MD5 or SHA-256), big enough for either implementation's context. */
typedef union dpi_hash {
    uint64_t align;
    uint8_t bytes[160];
} dpi_hash_t;

/* Incremental MD5 and SHA-256. *_final writes 16 or 32 bytes. */
void dpi_md5_init(dpi_hash_t *h);
void dpi_md5_update(dpi_hash_t *h, const void *data, size_t len);
void dpi_md5_final(dpi_hash_t *h, uint8_t out[16]);
void dpi_sha256_init(dpi_hash_t *h);
void dpi_sha256_update(dpi_hash_t *h, const void *data, size_t len);
void dpi_sha256_final(dpi_hash_t *h, uint8_t out[32]);

/* HKDF with SHA-256 (RFC 5869): Extract(salt, ikm) -> prk, and Expand(prk, info) -> out
 * (out_len <= 255 * 32). Return false when crypto is unavailable. */
bool dpi_hkdf_sha256_extract(const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
                             size_t ikm_len, uint8_t prk[32]);
bool dpi_hkdf_sha256_expand(const uint8_t prk[32], const uint8_t *info, size_t info_len,
                            uint8_t *out, size_t out_len);

/* One AES-128 block encryption (ECB): QUIC's header protection mask. */
bool dpi_aes128_encrypt_block(const uint8_t key[16], const uint8_t in[16], uint8_t out[16]);

/* AES-128-GCM decryption with a 12-byte nonce and a 16-byte tag. Writes ct_len bytes to
 * @out (which may equal @ct) and returns true only if the tag verifies. */
bool dpi_aes128_gcm_open(const uint8_t key[16], const uint8_t nonce[12], const uint8_t *aad,
                         size_t aad_len, const uint8_t *ct, size_t ct_len,
                         const uint8_t tag[16], uint8_t *out);

#endif /* OC_DPI_CRYPTO_H */
