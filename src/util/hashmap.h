/* An open-addressing hash map from non-NULL pointers to a pair of pointers:
 * the storage of the scoped session registry (scope.c).
 *
 * Linear probing with backward-shift deletion (no tombstones), so lookups
 * stay O(1) however many inserts and removals happen.  The table doubles
 * when it would pass half full and halves when it drops under an eighth full
 * (hysteresis: resizing is amortised O(1)).  Keys are hashed with a 64-bit
 * finaliser, so aligned pointers and the registry's thread keys (which
 * differ only in a few middle bits) spread over the whole table.
 *
 * Not thread-safe: the owner locks. */
#ifndef DBCONN_HASHMAP_H
#define DBCONN_HASHMAP_H

#include <stddef.h>

typedef struct dbc_hslot {
    void *key;   /* NULL = empty slot */
    void *val;
    void *aux;
} dbc_hslot;

typedef struct dbc_hmap {
    dbc_hslot *slots; /* owned; NULL while empty and never grown */
    size_t mask;      /* capacity - 1 (capacity is a power of two) */
    size_t count;
} dbc_hmap;

/* An empty map (allocates nothing). */
void dbc_hmap_init(dbc_hmap *m);
/* Frees the table; the values are the caller's. */
void dbc_hmap_free(dbc_hmap *m);
/* The slot holding `key`, or NULL.  The pointer is valid until the next
 * insert or remove. */
dbc_hslot *dbc_hmap_find(const dbc_hmap *m, const void *key);
/* Adds `key` (non-NULL, not present).  DBCONN_ENOMEM when the table could
 * not grow (the map is unchanged; no message is recorded: the caller names
 * what was growing). */
int dbc_hmap_insert(dbc_hmap *m, void *key, void *val, void *aux);
/* Removes the entry in `slot` (from dbc_hmap_find); never fails (a shrink
 * that cannot allocate keeps the larger table). */
void dbc_hmap_remove(dbc_hmap *m, dbc_hslot *slot);
/* Moves the contents of *from into *to (which must be empty or freed) and
 * leaves *from empty: lets the owner walk the entries after unlocking. */
void dbc_hmap_take(dbc_hmap *to, dbc_hmap *from);
/* Capacity (0 before the first insert), for iteration over m->slots. */
size_t dbc_hmap_capacity(const dbc_hmap *m);

#endif
