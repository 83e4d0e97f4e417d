/* Prepared statements of one pooled connection, LRU keyed by SQL text. */
#ifndef DBCONN_STMTCACHE_H
#define DBCONN_STMTCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "driver/driver.h"
#include "util/list.h"

typedef struct dbc_centry dbc_centry;
struct dbc_centry {
    char *sql;            /* owned key */
    size_t len;
    uint64_t hash;
    dbc_stmt *stmt;       /* owned; NULL while checked out by a caller */
    struct dbc_colnames *colnames; /* owned; built at the first result */
    /* Whether the statement returns at most one row (dbc_driver.one_row),
     * asked at its first reuse and true of the program of generation
     * plan_gen only; asked at most DBC_PLAN_ASKS times (a statement that
     * SQLite recompiles for every binding would ask on every run). */
    enum { DBC_PLAN_UNKNOWN, DBC_PLAN_ONE_ROW, DBC_PLAN_ROWS } plan;
    unsigned plan_gen;
    unsigned char plan_asks;
    /* A query or a write (dbc_sql_verb): once it has succeeded, the
     * transaction is still open (only transaction control, DDL and the
     * like need the connection asked). */
    bool keeps_tx;
    /* !drv->readonly(stmt): fixed by the text (a recompile after a schema
     * change makes the same kind of program), so asked once. */
    bool writes;
    double created;       /* monotonic seconds, for echo's "cached since" */
    dbc_centry *hnext;    /* hash chain */
    dbc_list lru;         /* in the LRU list, most recent first */
};

#define DBC_PLAN_ASKS 2

typedef struct dbc_stmtcache {
    const dbc_driver *drv;
    size_t capacity;      /* 0 = cache off */
    size_t count;
    dbc_centry **buckets;
    size_t nbuckets;
    dbc_list lru;         /* dbc_centry.lru, most recently used first */
    /* Programs pass the same SQL pointer (a literal) again and again: a
     * small table keyed by the pointer skips hashing the text on a hit (the
     * text is still compared). */
    struct {
        const void *ptr; /* a key (see dbc_stmtcache_get) */
        dbc_centry *e;
    } recent[16];
} dbc_stmtcache;

void dbc_stmtcache_init(dbc_stmtcache *c, const dbc_driver *drv,
                        size_t capacity);
/* Finalizes every statement. */
void dbc_stmtcache_clear(dbc_stmtcache *c);

/* A statement for `sql` ready to bind: from the cache (*hit = 1, *age =
 * seconds since it was prepared) or freshly prepared (*age = seconds it took;
 * age may be NULL).  *entry is the cache slot it goes back to (NULL: not
 * cached).  Give it back with dbc_stmtcache_put() (which resets it; the next
 * bind replaces every binding) whether or not it ran well. */
/* key is the SQL's identity for the recent table: the caller's pointer,
 * never dereferenced (sql itself, or the text an async op copied it from). */
int dbc_stmtcache_get(dbc_stmtcache *c, dbc_conn *conn, const void *key,
                      const char *sql, dbc_stmt **out, dbc_centry **entry,
                      int *hit, double *age);
/* The most recently used entry, or NULL when the cache is empty. */
static inline dbc_centry *dbc_stmtcache_newest(const dbc_stmtcache *c) {
    dbc_list *n = dbc_list_first(&c->lru);
    return n ? DBC_LIST_ENTRY(n, dbc_centry, lru) : NULL;
}

/* Moves e to the front of the LRU list. */
void dbc_stmtcache_touch(dbc_stmtcache *c, dbc_centry *e);

static inline size_t dbc_stmtcache_recent_slot(const void *key) {
    return ((uintptr_t)key >> 3) & 15;
}

/* The common case, inline: the same SQL pointer as a recent call, its text
 * unchanged (a pointer may be reused for other text) and its statement in
 * the cache: takes the statement out and returns its entry (*out = the
 * statement, a hit).  NULL: use dbc_stmtcache_get. */
static inline dbc_centry *dbc_stmtcache_take_recent(dbc_stmtcache *c,
                                                    const void *key,
                                                    const char *sql,
                                                    dbc_stmt **out) {
    size_t rs = dbc_stmtcache_recent_slot(key);
    dbc_centry *e = c->recent[rs].e;
    if (!e || c->recent[rs].ptr != key || !e->stmt || strcmp(e->sql, sql) != 0)
        return NULL;
    *out = e->stmt;
    e->stmt = NULL;
    if (c->lru.next != &e->lru)
        dbc_stmtcache_touch(c, e);
    return e;
}

/* The entry a recent call with this key found, without taking anything
 * out and without comparing the text (a hint: the caller checks the
 * entry again when it has the statement); NULL when none. */
static inline const dbc_centry *dbc_stmtcache_peek_recent(
    const dbc_stmtcache *c, const void *key) {
    size_t rs = dbc_stmtcache_recent_slot(key);
    return c->recent[rs].ptr == key ? c->recent[rs].e : NULL;
}

/* Resets st and gives it back to its entry (finalizes it when uncached). */
static inline void dbc_stmtcache_put(dbc_stmtcache *c, dbc_centry *entry,
                                     dbc_stmt *st) {
    c->drv->reset(st);
    /* An entry that is out is never evicted, so `entry` is still valid. */
    if (entry && !entry->stmt)
        entry->stmt = st;
    else
        c->drv->finalize(st);
}

#endif
