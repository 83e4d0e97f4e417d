/* Per-connection prepared-statement cache: a chained hash on the SQL text
 * plus an LRU list.  A statement is taken out while it runs (entry->stmt is
 * NULL meanwhile), so a nested use of the same SQL gets a fresh one. */
#include <string.h>
#include <uv.h>

#include "alloc.h"
#include "stmtcache.h"

static uint64_t hash_sql(const char *s, size_t n) {
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211u;
    }
    return h;
}

static double seconds(void) { return (double)uv_hrtime() / 1e9; }

void dbc_stmtcache_init(dbc_stmtcache *c, const dbc_driver *drv,
                        size_t capacity) {
    memset(c, 0, sizeof *c);
    c->drv = drv;
    c->capacity = capacity;
}

static void lru_unlink(dbc_stmtcache *c, dbc_centry *e) {
    if (e->lprev)
        e->lprev->lnext = e->lnext;
    else
        c->head = e->lnext;
    if (e->lnext)
        e->lnext->lprev = e->lprev;
    else
        c->tail = e->lprev;
    e->lprev = e->lnext = NULL;
}

static void lru_push_front(dbc_stmtcache *c, dbc_centry *e) {
    e->lnext = c->head;
    e->lprev = NULL;
    if (c->head)
        c->head->lprev = e;
    c->head = e;
    if (!c->tail)
        c->tail = e;
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
    dbc_centry **pp = slot_of(c, e->sql, e->len, e->hash);
    *pp = e->hnext;
    lru_unlink(c, e);
    if (e->stmt)
        c->drv->finalize(e->stmt);
    dbc_free(e->sql);
    dbc_free(e);
    c->count--;
}

void dbc_stmtcache_clear(dbc_stmtcache *c) {
    while (c->head)
        remove_entry(c, c->head);
    dbc_free(c->buckets);
    c->buckets = NULL;
    c->nbuckets = 0;
}

/* Remembers a freshly prepared statement (taken out: stmt stays with the
 * caller until put).  Failure to remember is not an error: no caching. */
static void insert(dbc_stmtcache *c, const char *sql, size_t len, uint64_t h) {
    if (!c->buckets) {
        size_t n = 16;
        while (n < c->capacity * 2)
            n *= 2;
        c->buckets = dbc_calloc(n, sizeof *c->buckets);
        if (!c->buckets)
            return;
        c->nbuckets = n;
    }
    /* Evict the least recently used statement that is not running. */
    for (dbc_centry *e = c->tail; c->count >= c->capacity && e;) {
        dbc_centry *prev = e->lprev;
        if (e->stmt)
            remove_entry(c, e);
        e = prev;
    }
    if (c->count >= c->capacity)
        return;
    dbc_centry *e = dbc_calloc(1, sizeof *e);
    char *copy = dbc_strndup(sql, len);
    if (!e || !copy) {
        dbc_free(e);
        dbc_free(copy);
        return;
    }
    e->sql = copy;
    e->len = len;
    e->hash = h;
    e->created = seconds();
    dbc_centry **pp = slot_of(c, sql, len, h);
    e->hnext = *pp;
    *pp = e;
    lru_push_front(c, e);
    c->count++;
}

int dbc_stmtcache_get(dbc_stmtcache *c, dbc_conn *conn, const char *sql,
                      dbc_stmt **out, int *hit, double *age) {
    size_t len = strlen(sql);
    uint64_t h = 0;
    dbc_centry *e = NULL;
    *hit = 0;
    if (c->capacity && c->buckets) {
        h = hash_sql(sql, len);
        e = *slot_of(c, sql, len, h);
        if (e && e->stmt) {
            *out = e->stmt;
            e->stmt = NULL;
            if (e != c->head) {
                lru_unlink(c, e);
                lru_push_front(c, e);
            }
            *hit = 1;
            if (age)
                *age = seconds() - e->created;
            return 0;
        }
    } else if (c->capacity) {
        h = hash_sql(sql, len);
    }
    double t0 = age ? seconds() : 0;
    int rc = c->drv->prepare(conn, sql, len, out);
    if (rc)
        return rc;
    if (age)
        *age = seconds() - t0;
    if (c->capacity && !e)
        insert(c, sql, len, h);
    return 0;
}

void dbc_stmtcache_put(dbc_stmtcache *c, const char *sql, dbc_stmt *st) {
    c->drv->reset(st);
    if (c->capacity && c->buckets) {
        size_t len = strlen(sql);
        dbc_centry *e = *slot_of(c, sql, len, hash_sql(sql, len));
        if (e && !e->stmt) {
            e->stmt = st;
            return;
        }
    }
    c->drv->finalize(st);
}
