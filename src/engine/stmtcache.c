/* Per-connection prepared-statement cache: a chained hash on the SQL text
 * plus an LRU list.  A statement is taken out while it runs (entry->stmt is
 * NULL meanwhile), so a nested use of the same SQL gets a fresh one. */
#include <string.h>
#include <uv.h>

#include "util/alloc.h"
#include "result/result.h"
#include "util/sqlverb.h"
#include "engine/stmtcache.h"
#include "util/hash.h"

static double seconds(void) { return (double)uv_hrtime() / 1e9; }

void dbc_stmtcache_init(dbc_stmtcache *c, const dbc_driver *drv,
                        size_t capacity) {
    memset(c, 0, sizeof *c);
    dbc_list_init(&c->lru);
    c->drv = drv;
    c->capacity = capacity;
}

static dbc_centry **slot_of(dbc_stmtcache *c, const char *sql, size_t len,
                            uint64_t h) {
    dbc_centry **pp = &c->buckets[h & (c->nbuckets - 1)];
    while (*pp && !((*pp)->hash == h && (*pp)->len == len &&
                    memcmp((*pp)->sql, sql, len) == 0))
        pp = &(*pp)->hnext;
    return pp;
}

static void remove_entry(dbc_stmtcache *c, dbc_centry *e) {
    for (size_t i = 0; i < 16; i++)
        if (c->recent[i].e == e)
            c->recent[i].e = NULL, c->recent[i].ptr = NULL;
    dbc_centry **pp = slot_of(c, e->sql, e->len, e->hash);
    *pp = e->hnext;
    dbc_list_remove(&e->lru);
    if (e->stmt)
        c->drv->finalize(e->stmt);
    dbc_colnames_free(e->colnames);
    dbc_free(e->sql);
    dbc_free(e);
    c->count--;
}

void dbc_stmtcache_clear(dbc_stmtcache *c) {
    dbc_list *n;
    while ((n = dbc_list_first(&c->lru)) != NULL)
        remove_entry(c, DBC_LIST_ENTRY(n, dbc_centry, lru));
    dbc_free(c->buckets);
    c->buckets = NULL;
    c->nbuckets = 0;
}

/* Remembers a freshly prepared statement (taken out: stmt stays with the
 * caller until put).  Failure to remember is not an error: no caching. */
static dbc_centry *insert(dbc_stmtcache *c, const char *sql, size_t len,
                          uint64_t h) {
    if (!c->buckets) {
        size_t n = 16;
        while (n < c->capacity * 2)
            n *= 2;
        c->buckets = dbc_calloc(n, sizeof *c->buckets);
        if (!c->buckets)
            return NULL;
        c->nbuckets = n;
    }
    /* Evict the least recently used statement that is not running. */
    for (dbc_list *n = dbc_list_last(&c->lru); c->count >= c->capacity && n;) {
        dbc_list *prev = dbc_list_prev(&c->lru, n);
        dbc_centry *e = DBC_LIST_ENTRY(n, dbc_centry, lru);
        if (e->stmt)
            remove_entry(c, e);
        n = prev;
    }
    if (c->count >= c->capacity)
        return NULL;
    dbc_centry *e = dbc_calloc(1, sizeof *e);
    char *copy = dbc_strndup(sql, len);
    if (!e || !copy) {
        dbc_free(e);
        dbc_free(copy);
        return NULL;
    }
    e->sql = copy;
    e->len = len;
    e->hash = h;
    e->created = seconds();
    e->keeps_tx = dbc_verb_keeps_tx(dbc_sql_verb(copy));
    dbc_centry **pp = slot_of(c, sql, len, h);
    e->hnext = *pp;
    *pp = e;
    dbc_list_push_front(&c->lru, &e->lru);
    c->count++;
    return e;
}

void dbc_stmtcache_touch(dbc_stmtcache *c, dbc_centry *e) {
    dbc_list_remove(&e->lru);
    dbc_list_push_front(&c->lru, &e->lru);
}

int dbc_stmtcache_get(dbc_stmtcache *c, dbc_conn *conn, const void *key,
                      const char *sql, dbc_stmt **out, dbc_centry **entry,
                      int *hit, double *age) {
    size_t rs = dbc_stmtcache_recent_slot(key);
    dbc_centry *e = c->recent[rs].e;
    *hit = 0;
    *entry = NULL;
    if (e && c->recent[rs].ptr == key && e->stmt && strcmp(e->sql, sql) == 0)
        goto hit;
    size_t len = strlen(sql);
    uint64_t h = 0;
    e = NULL;
    if (c->capacity && c->buckets) {
        h = dbc_hash_bytes(sql, len);
        e = *slot_of(c, sql, len, h);
        if (e && e->stmt) {
            c->recent[rs].ptr = key;
            c->recent[rs].e = e;
        hit:
            *out = e->stmt;
            e->stmt = NULL;
            if (c->lru.next != &e->lru)
                dbc_stmtcache_touch(c, e);
            *hit = 1;
            *entry = e;
            if (age)
                *age = seconds() - e->created;
            return 0;
        }
    } else if (c->capacity) {
        h = dbc_hash_bytes(sql, len);
    }
    double t0 = age ? seconds() : 0;
    int rc = c->drv->prepare(conn, sql, len, out);
    if (rc)
        return rc;
    if (age)
        *age = seconds() - t0;
    /* A statement already taken out (nested use of the same SQL) stays
     * uncached: this one is finalized on put. */
    if (c->capacity && !e && (*entry = insert(c, sql, len, h)) != NULL)
        (*entry)->writes = !c->drv->readonly(*out);
    return 0;
}

