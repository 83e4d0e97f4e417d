/* The active-record layer's record calls (record.c): the context every
 * call runs in, and the steps create, get, save, update and delete share.
 * The layer's files, each with a header of its own:
 *
 *   record_plan.c   per-model plans: the SQL of every record call, built once
 *   record_map.c    struct fields <-> parameter values and result cells
 *   record_time.c   dbconn_timestamp <-> text
 *   record_rows.c   dbconn_rows, copy / clear
 *   record.c        create, get, save, update, delete, destroy, exists,
 *                   count and the transaction rule they share
 *   record_bulk.c   insert_many
 *   record_query.c  the query builder (conditions, groups, order, limit)
 *   record_sql.c    rendering a query's statements
 *   record_fetch.c  running queries: all/first/one, count, update, delete,
 *                   aggregates
 *   record_rel.c    relationships from foreign keys; loading related rows
 *   record_json.c   JSON through jansson
 *   record_async.c  the async forms, built on dbconn_exec_async
 *
 * Everything here is built on the public API (include/dbconn.h) and the
 * model layer's own headers. */
#ifndef DBCONN_RECORD_H
#define DBCONN_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbconn.h"
#include "model/record_map.h"
#include "model/record_plan.h"

/* Where a record call runs: the session (given or the base's bound one),
 * the model's plan, and whether the call opened the transaction. */
typedef struct dbc_rctx {
    dbconn_session *s;
    dbconn_base *b;
    dbc_rplan *p;
    dbconn *bound;    /* what b was bound to when the plan was looked up */
    const char *what; /* the call, for messages */
    bool own;         /* the call began the transaction: it ends it */
} dbc_rctx;

/* Resolves b (NULL = default), the plan and the session (s NULL = bound).
 * Unbound base: DBCONN_ECLOSED naming the model.  Sets own. */
int dbc_rctx_open(dbc_rctx *c, dbconn_session *s, dbconn_base *b,
                  const dbconn_model *m, const char *what);
/* The base and plan only (no session): for the async forms and queries. */
int dbc_rctx_plan(dbc_rctx *c, dbconn_base *b, const dbconn_model *m,
                  const char *what);
/* The session of c: s, or the current task's scoped session of the dbconn
 * the base was bound to at dbc_rctx_plan.  Sets c->s. */
int dbc_rctx_session(dbc_rctx *c, dbconn_session *s);
/* Ends the call: rc == 0 commits what the call began; a failure rolls it
 * back (and keeps the failure's message).  Returns rc or the commit's
 * failure. */
int dbc_rctx_close(dbc_rctx *c, int rc);
/* Re-records the thread's last failure `rc` with the model and call named
 * in front (the native code kept).  Returns rc. */
int dbc_rfail(const dbc_rctx *c, int rc);
/* The parameters of obj's primary key, appended to rv. */
int dbc_rvals_key(dbc_rvals *rv, const dbc_rplan *p, const void *obj);
/* Sets obj's kept timestamps for a write at `now` (created_at only when it
 * is 0 and `creating`). */
void dbc_touch(const dbc_rplan *p, void *obj, dbconn_timestamp now,
               bool creating);
/* The statement and parameters that create obj: the generated-key INSERT
 * when the key is generated and 0 (*returning set), else the full one. */
int dbc_create_stmt(const dbc_rplan *p, const void *obj, dbc_rvals *rv,
                    const char **sql, bool *returning);
/* One INSERT of obj (rv: scratch, reset by the caller), writing the
 * generated key and the kept timestamps back; on failure obj is as it was.
 * The failure's message names the model. */
int dbc_create_one(dbc_rctx *c, void *obj, dbconn_timestamp now,
                   dbc_rvals *rv);
/* The columns named in columns[0..n-1] as a mask (NULL = all but the key
 * and created_at); DBCONN_EINVAL for a key column or an unknown name. */
int dbc_update_mask(const dbc_rplan *p, const char *const *columns, size_t n,
                    uint64_t *mask);
/* The parameters of UPDATE p->m SET <mask> WHERE key for obj. */
int dbc_update_vals(const dbc_rplan *p, uint64_t mask, const void *obj,
                    dbc_rvals *rv);
/* Checks a key of nkey values against the model's key (DBCONN_EINVAL). */
int dbc_check_key(const dbc_rctx *c, const dbconn_value *key, size_t nkey);
/* "\"id\" = 7" for a key, owned (dbc_free); NULL when out of memory. */
char *dbc_key_text(const dbc_rplan *p, const dbconn_value *key, size_t nkey);
/* The message for no row with that key (DBCONN_ENOTFOUND). */
int dbc_notfound(const dbc_rctx *c, const dbconn_value *key, size_t nkey);

#endif
