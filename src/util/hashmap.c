/* Open-addressing pointer map (see hashmap.h for the design). */
#include <stdint.h>
#include <string.h>

#include "util/alloc.h"
#include "dbconn.h"
#include "util/hashmap.h"

#define MIN_CAPACITY 16u

/* The 64-bit finaliser of MurmurHash3: every input bit affects every output
 * bit, so masking the low bits of the result is a good index even though
 * pointers have constant low (alignment) and high bits. */
static size_t hash_ptr(const void *p) {
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x *= UINT64_C(0xc4ceb9fe1a85ec53);
    x ^= x >> 33;
    return (size_t)x;
}

void dbc_hmap_init(dbc_hmap *m) { memset(m, 0, sizeof *m); }

void dbc_hmap_free(dbc_hmap *m) {
    dbc_free(m->slots);
    dbc_hmap_init(m);
}

size_t dbc_hmap_capacity(const dbc_hmap *m) {
    return m->slots ? m->mask + 1 : 0;
}

dbc_hslot *dbc_hmap_find(const dbc_hmap *m, const void *key) {
    if (!m->slots || !key)
        return NULL;
    for (size_t i = hash_ptr(key) & m->mask;; i = (i + 1) & m->mask) {
        dbc_hslot *s = &m->slots[i];
        if (s->key == key)
            return s;
        if (!s->key) /* the table is never full: an empty slot ends a run */
            return NULL;
    }
}

/* Places an entry known to be absent into a table with room. */
static void place(dbc_hslot *slots, size_t mask, const dbc_hslot *e) {
    size_t i = hash_ptr(e->key) & mask;
    while (slots[i].key)
        i = (i + 1) & mask;
    slots[i] = *e;
}

static int rehash(dbc_hmap *m, size_t capacity) {
    dbc_hslot *slots = dbc_calloc(capacity, sizeof *slots);
    if (!slots)
        return DBCONN_ENOMEM;
    for (size_t i = 0, n = dbc_hmap_capacity(m); i < n; i++)
        if (m->slots[i].key)
            place(slots, capacity - 1, &m->slots[i]);
    dbc_free(m->slots);
    m->slots = slots;
    m->mask = capacity - 1;
    return 0;
}

int dbc_hmap_insert(dbc_hmap *m, void *key, void *val, void *aux) {
    size_t cap = dbc_hmap_capacity(m);
    if ((m->count + 1) * 2 > cap) { /* keep the load factor at most 1/2 */
        size_t ncap = cap ? cap * 2 : MIN_CAPACITY;
        if (ncap < cap || rehash(m, ncap) != 0)
            return DBCONN_ENOMEM; /* the caller names what was growing */
    }
    place(m->slots, m->mask, &(dbc_hslot){key, val, aux});
    m->count++;
    return 0;
}

void dbc_hmap_remove(dbc_hmap *m, dbc_hslot *slot) {
    size_t mask = m->mask;
    size_t hole = (size_t)(slot - m->slots);
    /* Backward-shift deletion: pull later members of the probe run into the
     * hole when the hole lies on their path from their home slot. */
    for (size_t i = (hole + 1) & mask; m->slots[i].key; i = (i + 1) & mask) {
        size_t home = hash_ptr(m->slots[i].key) & mask;
        /* distance(home -> i) >= distance(hole -> i): the hole is on i's
         * probe path, so moving i there keeps it reachable. */
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            m->slots[hole] = m->slots[i];
            hole = i;
        }
    }
    m->slots[hole] = (dbc_hslot){0};
    m->count--;

    size_t cap = mask + 1;
    if (cap > MIN_CAPACITY && m->count * 8 < cap) {
        /* Halve until the load would pass 1/4: the new load lies in
         * (1/8, 1/4], far from both thresholds. */
        size_t ncap = cap / 2;
        while (ncap / 2 >= MIN_CAPACITY && m->count * 4 <= ncap / 2)
            ncap /= 2;
        (void)rehash(m, ncap); /* on failure the larger table stays valid */
    }
}

void dbc_hmap_take(dbc_hmap *to, dbc_hmap *from) {
    *to = *from;
    dbc_hmap_init(from);
}
