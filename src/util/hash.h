/* A fast 64-bit hash of a byte string (SQL texts: the statement cache's
 * keys, the async layer's interned texts).  Not for untrusted adversarial
 * keys: chains stay short for the texts a program runs, not for inputs
 * crafted to collide. */
#ifndef DBCONN_HASH_H
#define DBCONN_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Eight bytes a step. */
static inline uint64_t dbc_hash_bytes(const char *s, size_t n) {
    uint64_t h = 0x9e3779b97f4a7c15u ^ n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdu;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53u;
    return h ^ (h >> 32);
}

#endif
