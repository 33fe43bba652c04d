/*
 * Seeded hashing of fixed-size keys. The flow table needs a hash that an attacker who sends
 * crafted addresses cannot steer into one probe chain, so every table mixes in a seed chosen at
 * start-up. The mixer is the 64-bit finalizer from MurmurHash3 applied per word, which is
 * enough for keys of a few words and costs a handful of multiplies.
 */
#ifndef OC_UT_HASH_H
#define OC_UT_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t ut_hash_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x *= UINT64_C(0xc4ceb9fe1a85ec53);
    x ^= x >> 33;
    return x;
}

/*
 * Hashes @len bytes (a multiple of 8) at @key with @seed. Each word is multiplied and rotated
 * into the state (two multiplies per word instead of a full finalizer), and one finalizer at
 * the end spreads every input bit over the result; the seed keeps chosen keys from
 * predicting where they land.
 */
static inline uint64_t ut_hash_words(const void *key, size_t len, uint64_t seed)
{
    const uint8_t *p = key;
    uint64_t h = seed ^ (len * UINT64_C(0x9e3779b97f4a7c15));
    for (size_t i = 0; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, sizeof w);
        w *= UINT64_C(0x87c37b91114253d5);
        w = (w << 31) | (w >> 33);
        h ^= w * UINT64_C(0x4cf5ad432745937f);
        h = ((h << 27) | (h >> 37)) * 5 + UINT64_C(0x52dce729);
    }
    return ut_hash_mix64(h);
}

#endif /* OC_UT_HASH_H */
