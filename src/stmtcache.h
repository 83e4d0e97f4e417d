/* Prepared statements of one pooled connection, LRU keyed by SQL text. */
#ifndef DBCONN_STMTCACHE_H
#define DBCONN_STMTCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "driver.h"

typedef struct dbc_centry dbc_centry;
struct dbc_centry {
    char *sql;            /* owned key */
    size_t len;
    uint64_t hash;
    dbc_stmt *stmt;       /* owned; NULL while checked out by a caller */
    struct dbc_colnames *colnames; /* owned; built at the first result */
    double created;       /* monotonic seconds, for echo's "cached since" */
    dbc_centry *hnext;    /* hash chain */
    dbc_centry *lprev, *lnext; /* LRU list, most recent first */
};

typedef struct dbc_stmtcache {
    const dbc_driver *drv;
    size_t capacity;      /* 0 = cache off */
    size_t count;
    dbc_centry **buckets;
    size_t nbuckets;
    dbc_centry *head, *tail;
    /* Programs pass the same SQL pointer (a literal) again and again: a
     * small table keyed by the pointer skips hashing the text on a hit (the
     * text is still compared). */
    struct {
        const char *ptr;
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
 * cached).  Give it back with dbc_stmtcache_put() (which resets it and clears
 * its bindings) whether or not it ran well. */
int dbc_stmtcache_get(dbc_stmtcache *c, dbc_conn *conn, const char *sql,
                      dbc_stmt **out, dbc_centry **entry, int *hit,
                      double *age);
void dbc_stmtcache_put(dbc_stmtcache *c, dbc_centry *entry, dbc_stmt *st);

#endif
