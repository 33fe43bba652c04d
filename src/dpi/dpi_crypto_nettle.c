/*
 * The DPI crypto primitives (dpi_crypto.h) over nettle: a small, well-kept library that has
 * exactly these primitives (MD5, SHA-256, HMAC/HKDF, AES, GCM) without a TLS stack around
 * them. Built when configure finds nettle (the default).
 */
#include "config.h"

#include <nettle/aes.h>
#include <nettle/gcm.h>
#include <nettle/hkdf.h>
#include <nettle/hmac.h>
#include <nettle/md5.h>
#include <nettle/memops.h>
#include <nettle/sha2.h>

#include "dpi/dpi_crypto.h"

_Static_assert(sizeof(struct md5_ctx) <= sizeof(dpi_hash_t), "dpi_hash_t too small for MD5");
_Static_assert(sizeof(struct sha256_ctx) <= sizeof(dpi_hash_t),
               "dpi_hash_t too small for SHA-256");

const bool dpi_crypto_available = true;

void dpi_md5_init(dpi_hash_t *h)
{
    md5_init((struct md5_ctx *)h->bytes);
}

void dpi_md5_update(dpi_hash_t *h, const void *data, size_t len)
{
    md5_update((struct md5_ctx *)h->bytes, len, data);
}

void dpi_md5_final(dpi_hash_t *h, uint8_t out[16])
{
    md5_digest((struct md5_ctx *)h->bytes, MD5_DIGEST_SIZE, out);
}

void dpi_sha256_init(dpi_hash_t *h)
{
    sha256_init((struct sha256_ctx *)h->bytes);
}

void dpi_sha256_update(dpi_hash_t *h, const void *data, size_t len)
{
    sha256_update((struct sha256_ctx *)h->bytes, len, data);
}

void dpi_sha256_final(dpi_hash_t *h, uint8_t out[32])
{
    sha256_digest((struct sha256_ctx *)h->bytes, SHA256_DIGEST_SIZE, out);
}

bool dpi_hkdf_sha256_extract(const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
                             size_t ikm_len, uint8_t prk[32])
{
    struct hmac_sha256_ctx mac;
    hmac_sha256_set_key(&mac, salt_len, salt);
    hkdf_extract(&mac, (nettle_hash_update_func *)hmac_sha256_update,
                 (nettle_hash_digest_func *)hmac_sha256_digest, SHA256_DIGEST_SIZE, ikm_len,
                 ikm, prk);
    return true;
}

bool dpi_hkdf_sha256_expand(const uint8_t prk[32], const uint8_t *info, size_t info_len,
                            uint8_t *out, size_t out_len)
{
    if (out_len > 255 * SHA256_DIGEST_SIZE)
        return false;
    struct hmac_sha256_ctx mac;
    hmac_sha256_set_key(&mac, SHA256_DIGEST_SIZE, prk);
    hkdf_expand(&mac, (nettle_hash_update_func *)hmac_sha256_update,
                (nettle_hash_digest_func *)hmac_sha256_digest, SHA256_DIGEST_SIZE, info_len,
                info, out_len, out);
    return true;
}

bool dpi_aes128_encrypt_block(const uint8_t key[16], const uint8_t in[16], uint8_t out[16])
{
    struct aes128_ctx aes;
    aes128_set_encrypt_key(&aes, key);
    aes128_encrypt(&aes, AES_BLOCK_SIZE, out, in);
    return true;
}

bool dpi_aes128_gcm_open(const uint8_t key[16], const uint8_t nonce[12], const uint8_t *aad,
                         size_t aad_len, const uint8_t *ct, size_t ct_len,
                         const uint8_t tag[16], uint8_t *out)
{
    struct gcm_aes128_ctx gcm;
    uint8_t computed[GCM_DIGEST_SIZE];
    gcm_aes128_set_key(&gcm, key);
    gcm_aes128_set_iv(&gcm, GCM_IV_SIZE, nonce);
    gcm_aes128_update(&gcm, aad_len, aad);
    gcm_aes128_decrypt(&gcm, ct_len, out, ct);
    gcm_aes128_digest(&gcm, GCM_DIGEST_SIZE, computed);
    return memeql_sec(computed, tag, GCM_DIGEST_SIZE) != 0;
}
