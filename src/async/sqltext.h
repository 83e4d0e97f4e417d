/* The SQL texts of queued operations, interned per engine: one copy of
 * each distinct text however many operations carry it, freed with the
 * last of them (sqltext.c).  A queued exec then costs a pointer for its
 * SQL, and that pointer -- the same for the same text -- is the statement
 * cache's fast-path key.
 *
 * The loop thread only (submission and delivery run there); workers read
 * the texts of the ops they run, which hold a reference meanwhile. */
#ifndef DBCONN_ASYNC_SQLTEXT_H
#define DBCONN_ASYNC_SQLTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "util/list.h"
#include "util/sqlverb.h"

typedef struct dbc_sqltext dbc_sqltext;

typedef struct dbc_sqltexts {
    dbc_sqltext **buckets;  /* owned; NULL until the first text */
    size_t nbuckets;        /* a power of two */
    size_t count;
    size_t idle_bytes;      /* text bytes of the entries nothing holds */
    dbc_list idle;          /* those entries, most recently idle first */
    /* The caller's pointers seen last (a program passes the same literal
     * again and again): a hit costs one comparison, no hashing. */
    struct {
        const char *ptr;
        dbc_sqltext *e;
    } recent[8];
} dbc_sqltexts;

/* An empty table (allocates nothing). */
void dbc_sqltexts_init(dbc_sqltexts *t);
/* Frees the table; every text must have been put back. */
void dbc_sqltexts_free(dbc_sqltexts *t);
/* The interned copy of sql (NUL-terminated), with one more reference:
 * NULL when out of memory (nothing recorded).  Give it back with
 * dbc_sqltext_put. */
const char *dbc_sqltext_get(dbc_sqltexts *t, const char *sql);
/* Drops a reference taken by dbc_sqltext_get.  A text nothing holds any
 * more stays interned (an awaiting program's next op finds its text there:
 * no allocation per op), the least recently idle ones freed past
 * DBC_SQLTEXT_IDLE_MAX bytes of idle text. */
#define DBC_SQLTEXT_IDLE_MAX 65536
void dbc_sqltext_put(dbc_sqltexts *t, const char *text);
/* dbc_sql_verb of an interned text (one it holds a reference to), worked
 * out once per text. */
dbc_verb dbc_sqltext_verb(const char *text);

#endif
