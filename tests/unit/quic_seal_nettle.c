/*
 * Test helper: QUIC client Initial protection with nettle (quic_seal.h). Written from
 * RFC 9001 section 5 apart from the dissector's code, and checked against the RFC's own
 * protected packet by the tests.
 */
#include "config.h"

#include <string.h>

#include <nettle/aes.h>
#include <nettle/gcm.h>
#include <nettle/hkdf.h>
#include <nettle/hmac.h>
#include <nettle/sha2.h>

#include "quic_seal.h"

static void hkdf_label(const uint8_t prk[32], const char *prefix, const char *label,
                       uint8_t *out, size_t out_len)
{
    uint8_t info[300];
    size_t n = 0, pl = strlen(prefix), ll = strlen(label);
    info[n++] = 0;
    info[n++] = (uint8_t)out_len;
    info[n++] = (uint8_t)(6 + pl + ll);
    memcpy(info + n, "tls13 ", 6);
    n += 6;
    memcpy(info + n, prefix, pl);
    n += pl;
    memcpy(info + n, label, ll);
    n += ll;
    info[n++] = 0;
    struct hmac_sha256_ctx mac;
    hmac_sha256_set_key(&mac, 32, prk);
    hkdf_expand(&mac, (nettle_hash_update_func *)hmac_sha256_update,
                (nettle_hash_digest_func *)hmac_sha256_digest, 32, n, info, out_len, out);
}

size_t quic_seal_initial(const uint8_t *salt, const char *prefix, const uint8_t *dcid,
                         size_t dcid_len, const uint8_t *hdr, size_t hdr_len, size_t pn_len,
                         const uint8_t *payload, size_t payload_len, uint8_t *out)
{
    uint8_t initial[32], client[32], key[16], iv[12], hp[16], mask[16];
    struct hmac_sha256_ctx mac;
    hmac_sha256_set_key(&mac, 20, salt);
    hkdf_extract(&mac, (nettle_hash_update_func *)hmac_sha256_update,
                 (nettle_hash_digest_func *)hmac_sha256_digest, 32, dcid_len, dcid, initial);
    hkdf_label(initial, "", "client in", client, 32);
    hkdf_label(client, prefix, "key", key, 16);
    hkdf_label(client, prefix, "iv", iv, 12);
    hkdf_label(client, prefix, "hp", hp, 16);

    uint64_t pn = 0;
    for (size_t i = hdr_len - pn_len; i < hdr_len; i++)
        pn = pn << 8 | hdr[i];
    for (size_t i = 0; i < 8; i++)
        iv[11 - i] ^= (uint8_t)(pn >> (8 * i));
    struct gcm_aes128_ctx gcm;
    gcm_aes128_set_key(&gcm, key);
    gcm_aes128_set_iv(&gcm, 12, iv);
    gcm_aes128_update(&gcm, hdr_len, hdr);
    memcpy(out, hdr, hdr_len);
    gcm_aes128_encrypt(&gcm, payload_len, out + hdr_len, payload);
    gcm_aes128_digest(&gcm, 16, out + hdr_len + payload_len);

    /* Header protection: the sample is 16 bytes from 4 bytes after the packet number. */
    size_t pn_off = hdr_len - pn_len;
    struct aes128_ctx aes;
    aes128_set_encrypt_key(&aes, hp);
    aes128_encrypt(&aes, 16, mask, out + pn_off + 4);
    out[0] ^= mask[0] & 0x0f;
    for (size_t i = 0; i < pn_len; i++)
        out[pn_off + i] ^= mask[1 + i];
    return hdr_len + payload_len + 16;
}
