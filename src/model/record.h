/* The active-record layer: what its files share.
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

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbconn.h"
#include "util/buf.h"

/* ---- record_plan.c -------------------------------------------------------- */

/* An UPDATE statement for one set of columns (a bit mask over the model's
 * first 64 columns). */
typedef struct dbc_rupd {
    uint64_t mask;
    char sql[];
} dbc_rupd;

#define DBC_RUPD_SLOTS 8

/* Everything about a model the record calls need, worked out once per base
 * and model (the base keeps it: dbc_base_record_plan) and then only read.
 * Column numbers index m->columns; -1 = none. */
typedef struct dbc_rplan {
    const dbconn_model *m;
    size_t ncols;
    size_t npk;
    const size_t *pk;       /* npk column numbers, in declaration order */
    int gen;                /* the generated key: the only primary key
                               column, of type INTEGER */
    int created_at, updated_at; /* kept TIMESTAMP columns */
    size_t nts;             /* TIMESTAMP columns */
    bool has_blob_or_text;
    char *select_list;      /* "t"."a", "t"."b", ... (all columns) */
    char *get_sql;          /* SELECT ... WHERE pk = ? */
    char *insert_sql;       /* every column */
    char *insert_gen_sql;   /* without the generated key, RETURNING it */
    char *update_sql;       /* every column but the key and created_at;
                               NULL when there is none, or more than 64 */
    char *save_sql;         /* the same, RETURNING created_at if kept */
    char *insert_absent_sql; /* INSERT ... SELECT <every column> WHERE NOT
                                EXISTS (the key): the async save's second
                                statement */
    char *delete_sql;
    char *exists_sql;
    char *count_sql;
    /* UPDATE statements of dbconn_record_update's column sets, published
     * once each (never replaced: a reader may hold one). */
    _Atomic(dbc_rupd *) upd[DBC_RUPD_SLOTS];
} dbc_rplan;

/* Builds m's plan; *out owned (dbc_rplan_free).  DBCONN_ENOMEM. */
int dbc_rplan_new(const dbconn_model *m, dbc_rplan **out);
void dbc_rplan_free(dbc_rplan *p);
/* The UPDATE for the columns in `mask` (plus updated_at), WHERE key: from
 * the plan's slots or built; *owned is set when the caller must dbc_free
 * the returned text (no slot was free).  NULL when out of memory. */
const char *dbc_rplan_update_sql(dbc_rplan *p, uint64_t mask, char **owned);
/* Appends `"table"."column"` for column i of m. */
void dbc_rplan_qualified(dbc_buf *b, const dbconn_model *m, size_t i);
/* Appends "WHERE key1 = ? AND ..." for the plan's key, qualified. */
void dbc_rplan_key_where(dbc_buf *b, const dbc_rplan *p);

/* In base.c: m's plan in b (built at first use, kept until the base is
 * cleared or freed), and (when bound is not NULL) the dbconn b is bound to
 * at that moment -- one look under the base's lock for both.
 * DBCONN_EINVAL naming the model when m is not one of b's models;
 * DBCONN_ENOMEM. */
int dbc_base_record_plan(dbconn_base *b, const dbconn_model *m,
                         dbc_rplan **out, dbconn **bound);
/* In base.c: the model of b whose table is named `name` (len bytes,
 * compared as SQLite compares identifiers), or NULL. */
const dbconn_model *dbc_base_model_named(dbconn_base *b, const char *name,
                                         size_t len);

/* ---- record_map.c --------------------------------------------------------- */

/* Parameter values built from struct fields, with room for the text of
 * timestamps; inline for small models. */
#define DBC_RVALS_INLINE 16
typedef struct dbc_rvals {
    dbconn_value *v;
    size_t n, cap;
    char (*ts)[DBCONN_TIMESTAMP_LEN];
    size_t nts;
    dbconn_value inline_v[DBC_RVALS_INLINE];
    char inline_ts[4][DBCONN_TIMESTAMP_LEN];
    void *heap; /* owned: v and ts when they did not fit inline */
} dbc_rvals;

/* Room for `cap` values, `nts` of them timestamps.  DBCONN_ENOMEM. */
int dbc_rvals_init(dbc_rvals *rv, size_t cap, size_t nts);
void dbc_rvals_free(dbc_rvals *rv);
void dbc_rvals_reset(dbc_rvals *rv);
/* Appends column c of obj as a parameter (NULL fields as SQL NULL). */
int dbc_rvals_field(dbc_rvals *rv, const dbconn_model *m, size_t c,
                    const void *obj);
/* Appends v as a value for column c: an integer for a BOOLEAN column binds
 * as a boolean, an integer for a TIMESTAMP column is formatted; text for a
 * TIMESTAMP column binds as a timestamp.  DBCONN_EINVAL for a timestamp out
 * of range. */
int dbc_rvals_value(dbc_rvals *rv, const dbconn_column *col,
                    const dbconn_value *v);

/* Re-records the thread's last failure `rc` as
 * 'model "<table>": column "<col>": <the message>'.  Returns rc. */
int dbc_fail_column(int rc, const char *table, const char *col);
/* True when column c of obj holds SQL NULL in the struct's terms. */
bool dbc_field_is_null(const dbconn_column *col, const void *obj);
/* Reads / writes an int64_t-sized field (INTEGER, TIMESTAMP). */
int64_t dbc_field_i64(const dbconn_column *col, const void *obj);
void dbc_field_set_i64(const dbconn_column *col, void *obj, int64_t v);
/* Orders field ca of a against field cb of b, two columns of one type
 * (NULL first); for matching keys. */
int dbc_field_cmp(const dbconn_column *ca, const void *a,
                  const dbconn_column *cb, const void *b);

/* Fills obj (zeroed first) from row `row` of r, whose columns col0 ..
 * col0 + ncols - 1 are m's columns in order.  Text and blob fields point
 * into r.  DBCONN_EINVAL naming model and column for a value of the wrong
 * kind (text in an INTEGER column, a malformed timestamp). */
int dbc_fill_struct(const dbconn_model *m, const dbconn_result *r, size_t row,
                    size_t col0, void *obj);

/* ---- record_rows.c -------------------------------------------------------- */

/* Related rows loaded for each row of a result (record_rel.c fills it). */
typedef struct dbc_rload {
    char *name;          /* owned: the rel as the user spelled it */
    dbconn_rows *rows;   /* owned: the related rows, grouped by row */
    size_t *start;       /* owned: n entries, first related row of row i */
    size_t *count;       /* owned: how many */
    bool to_one;         /* a parent (count 0 or 1), not children */
} dbc_rload;

struct dbconn_rows {
    const dbconn_model *m;
    size_t n;
    dbconn_result *res;  /* owned: the text and blob bytes */
    dbc_rload *loads;    /* owned */
    size_t nloads;
    unsigned char *data; /* n structs, after this header */
};

/* Rows of m made from every row of res (taken: freed on failure too). */
int dbc_rows_from_result(const dbconn_model *m, dbconn_result *res,
                         dbconn_rows **out);
/* Moves the structs of r into the order of perm (perm[i] = old index of the
 * new row i).  DBCONN_ENOMEM. */
int dbc_rows_permute(dbconn_rows *r, const size_t *perm);

/* ---- record.c ------------------------------------------------------------- */

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

/* ---- record_bulk.c -------------------------------------------------------- */

/* The columns a create writes into: a copy of the plan's roles, for work
 * that outlives its call (an async job must not read the plan, which
 * dbconn_base_clear may free once dbconn_close has unbound the base). */
typedef struct dbc_roles {
    const dbconn_model *m;
    int gen, created_at, updated_at;
} dbc_roles;

dbc_roles dbc_rplan_roles(const dbc_rplan *p);

/* What a create writes into a struct -- the generated key and the kept
 * timestamps -- remembered to be put back when the write fails. */
typedef struct dbc_written {
    int64_t key, created, updated;
} dbc_written;

dbc_written dbc_remember(const dbc_roles *r, const void *obj);
void dbc_put_back(const dbc_roles *r, void *obj, dbc_written w);

/* ---- record_query.c / record_sql.c ---------------------------------------- */

typedef struct dbc_qagg {
    int fn;
    int col; /* -1: count(*) */
} dbc_qagg;

typedef struct dbc_rel {
    const dbconn_model *other;
    dbc_rplan *oplan;
    bool to_one;   /* many-to-one: this model's fk -> other's key */
    size_t fk;     /* the foreign-key column: in m when to_one, else other */
    size_t key;    /* the referenced column: in other when to_one, else m */
} dbc_rel;

#define DBC_QDEPTH 16

struct dbconn_query {
    dbconn_session *s;     /* NULL: the bound session at each run */
    dbc_rctx c;            /* base and plan */
    int err;               /* the first failure of a builder call */
    char *errmsg;          /* owned: its message */
    dbc_buf where;         /* the condition, without WHERE */
    struct {
        bool or;
        size_t nterms;
    } groups[DBC_QDEPTH];  /* groups[0] = the top level (AND) */
    size_t depth;
    dbconn_value *params;  /* owned array; text/blob point into `bytes` */
    size_t nparams, capparams;
    char **bytes;          /* owned copies of text and blob values */
    size_t nbytes, capbytes;
    int alias;             /* next alias number for EXISTS subqueries */
    dbc_buf order;         /* ORDER BY list */
    size_t norder;
    int *order_cols;       /* owned: the column of each ORDER BY item */
    int64_t limit, offset; /* -1: none */
    dbc_rel *loads;        /* owned */
    char **load_names;     /* owned, each owned */
    size_t nloads;
    int *group_cols;       /* owned */
    size_t ngroup;
    dbc_qagg *aggs;        /* owned */
    size_t naggs;
    char *sql;             /* owned: the last rendered SELECT (its pointer
                              keeps the statement cache's fast path) */
    int sql_kind;          /* what `sql` is for; 0 = stale */
    int64_t sql_limit;
};

/* One statement of a run: its text and parameters. */
typedef struct dbc_qstmt {
    char *sql;                  /* owned when sql_owned, else the query's */
    bool sql_owned;
    const dbconn_value *params; /* the query's, or rv's */
    size_t nparams;
    dbc_rvals rv;               /* parameters of its own (an update) */
    bool has_rv;
} dbc_qstmt;

/* Kinds of rendered SELECT. */
enum { DBC_QK_ROWS = 1, DBC_QK_COUNT, DBC_QK_EXISTS, DBC_QK_AGG };

/* Room for `extra` parameters after q's own (the limit and offset of a
 * run).  DBCONN_ENOMEM. */
int dbc_query_reserve_params(dbconn_query *q, size_t extra);
/* Fails with the query's kept failure, if any. */
int dbc_query_check(dbconn_query *q);
/* Closes the groups left open (at the start of every run). */
void dbc_query_close_groups(dbconn_query *q);
/* Renders SELECT of `kind` with limit `limit` (-1: none), kept in q->sql
 * while the query is unchanged; the parameters are q's, followed by the
 * limit and offset values. */
int dbc_query_render(dbconn_query *q, int kind, int64_t limit,
                     dbc_qstmt *out);
/* The statement that loads relationship k for the rows the main query
 * returns at `limit`: the main query as a subquery, so its parameters are
 * the main query's. */
int dbc_query_render_load(dbconn_query *q, size_t k, int64_t limit,
                          dbc_qstmt *out);
/* UPDATE ... SET cols[i] = vals[i] (plus updated_at) / DELETE ... with the
 * query's conditions. */
int dbc_query_render_update(dbconn_query *q, const int *cols,
                            const dbconn_value *vals, size_t n,
                            dbc_qstmt *out);
int dbc_query_render_delete(dbconn_query *q, dbc_qstmt *out);
void dbc_qstmt_free(dbc_qstmt *st);

/* ---- record_rel.c --------------------------------------------------------- */

/* Resolves rel (len bytes) from model p->m (see dbconn_query_load). */
int dbc_rel_resolve(dbconn_base *b, const dbc_rplan *p, const char *rel,
                    size_t len, dbc_rel *out);
/* Attaches the related rows `related` (taken) to `rows` under `name`:
 * matches keys, groups children by parent. */
int dbc_rel_attach(dbconn_rows *rows, const dbc_rel *rel, const char *name,
                   dbconn_rows *related);

/* ---- record_fetch.c ------------------------------------------------------- */

/* How many rows a fetch keeps: all, the first, exactly one, one or none. */
enum { DBC_FETCH_ALL = 0, DBC_FETCH_FIRST, DBC_FETCH_ONE, DBC_FETCH_ONE_OR_NONE };
/* The SELECT limit a fetch mode runs with: its own (1 for first, 2 for
 * one / one or none) within the query's (-1: none). */
int64_t dbc_fetch_limit(const dbconn_query *q, int mode);
/* Checks the row count of a fetch of m by `what` (DBCONN_ENOTFOUND /
 * DBCONN_EMULTIPLE); frees rows and sets them NULL for "none" answers. */
int dbc_fetch_finish(const dbconn_model *m, const char *what, int mode,
                     dbconn_rows **rows);
/* Columns and values of an update by condition as column numbers, checked. */
int dbc_query_update_cols(dbconn_query *q, const char *const *columns,
                          size_t n, int **cols);

#endif
