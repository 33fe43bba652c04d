/*
 * The DPI crypto primitives (dpi_crypto.h) for a build configured --without-nettle: every
 * call fails and dpi_crypto_available is false. Dissectors check that flag and then skip
 * what needs crypto (JA3/JA4 fingerprints, decrypting QUIC Initial packets) while still
 * identifying the protocol.
 */
#include "config.h"

#include <string.h>

#include "dpi/dpi_crypto.h"

const bool dpi_crypto_available = false;

void dpi_md5_init(dpi_hash_t *h)
{
    memset(h, 0, sizeof *h);
}

void dpi_md5_update(dpi_hash_t *h, const void *data, size_t len)
{
    (void)h;
    (void)data;
    (void)len;
}

void dpi_md5_final(dpi_hash_t *h, uint8_t out[16])
{
    (void)h;
    memset(out, 0, 16);
}

void dpi_sha256_init(dpi_hash_t *h)
{
    memset(h, 0, sizeof *h);
}

void dpi_sha256_update(dpi_hash_t *h, const void *data, size_t len)
{
    (void)h;
    (void)data;
    (void)len;
}

void dpi_sha256_final(dpi_hash_t *h, uint8_t out[32])
{
    (void)h;
    memset(out, 0, 32);
}

bool dpi_hkdf_sha256_extract(const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
                             size_t ikm_len, uint8_t prk[32])
{
    (void)salt;
    (void)salt_len;
    (void)ikm;
    (void)ikm_len;
    (void)prk;
    return false;
}

bool dpi_hkdf_sha256_expand(const uint8_t prk[32], const uint8_t *info, size_t info_len,
                            uint8_t *out, size_t out_len)
{
    (void)prk;
    (void)info;
    (void)info_len;
    (void)out;
    (void)out_len;
    return false;
}

bool dpi_aes128_encrypt_block(const uint8_t key[16], const uint8_t in[16], uint8_t out[16])
{
    (void)key;
    (void)in;
    (void)out;
    return false;
}

bool dpi_aes128_gcm_open(const uint8_t key[16], const uint8_t nonce[12], const uint8_t *aad,
                         size_t aad_len, const uint8_t *ct, size_t ct_len,
                         const uint8_t tag[16], uint8_t *out)
{
    (void)key;
    (void)nonce;
    (void)aad;
    (void)aad_len;
    (void)ct;
    (void)ct_len;
    (void)tag;
    (void)out;
    return false;
}
