/* Base models: metadata + the bound session pointer.
 *
 * Owned by the model module (base.c: the base object and its binding;
 * model.c: validation of a model and the metadata helpers the DDL renderer
 * shares; initdb.c: dbconn_init_db / dbconn_base_ddl). */
#ifndef DBCONN_BASE_H
#define DBCONN_BASE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "dbconn.h"

/* Called by dbconn_close for each base bound to db: sets the session pointer
 * to NULL if it is still bound to db. */
void dbc_base_unbind(dbconn_base *b, dbconn *db);

/* ---- base.c: state shared with init_db (and the async init_db) ---------- */

/* A copy of b's model list, taken under b's lock so a concurrent
 * dbconn_base_add cannot move it: *out is owned by the caller (dbc_free;
 * NULL when *n is 0).  DBCONN_ENOMEM. */
int dbc_base_snapshot(dbconn_base *b, const dbconn_model ***out, size_t *n);
/* DBCONN_EINVAL (message naming both URLs) when b is bound to an open
 * dbconn other than db; 0 when unbound or bound to db. */
int dbc_base_check_bind(dbconn_base *b, dbconn *db);
/* Binds b's session pointer to db and registers b with db's engine (so
 * dbconn_close unbinds it).  Re-binding to the same db is a no-op; bound to
 * another dbconn: DBCONN_EINVAL. */
int dbc_base_bind(dbconn_base *b, dbconn *db);

/* ---- model.c: validation and metadata helpers ---------------------------- */

/* All valid DBCONN_PRIMARY_KEY | ... bits. */
#define DBC_COLUMN_FLAGS                                                        \
    (DBCONN_PRIMARY_KEY | DBCONN_NOT_NULL | DBCONN_UNIQUE |                     \
     DBCONN_AUTOINCREMENT | DBCONN_INDEXED | DBCONN_ZERO_IS_NULL)

/* Identifier equality as SQLite sees it: ASCII letters compare without case,
 * every other byte exactly.  `b` has length blen (not NUL-terminated). */
bool dbc_name_eqn(const char *a, const char *b, size_t blen);
bool dbc_name_eq(const char *a, const char *b);

/* A parsed `references` string: "table(column)" or "table".  Pointers into
 * the string; col is NULL when no column was given. */
typedef struct dbc_ref {
    const char *table;
    size_t table_len;
    const char *col;
    size_t col_len;
} dbc_ref;

/* 0, or DBCONN_EINVAL (message naming the string) when malformed. */
int dbc_ref_parse(const char *ref, dbc_ref *out);

/* A model's indexes as one list: its dbconn_index entries, then one per
 * DBCONN_INDEXED column (unique when the column is also DBCONN_UNIQUE). */
typedef struct dbc_index_view {
    const char *name;            /* NULL = generated "ix_<table>_<cols>" */
    const char *const *columns;  /* borrowed from the model */
    size_t ncolumns;
    bool unique;
} dbc_index_view;

size_t dbc_model_index_count(const dbconn_model *m);
void dbc_model_index_get(const dbconn_model *m, size_t i, dbc_index_view *v);
/* Appends the index's name (given or generated) to out, unquoted. */
void dbc_model_index_name(const dbconn_model *m, const dbc_index_view *v,
                          dbc_buf *out);
/* The column named `name` (ASCII case-insensitive), or NULL. */
const dbconn_column *dbc_model_column(const dbconn_model *m, const char *name,
                                      size_t len);
/* How many DBCONN_PRIMARY_KEY columns m has; *first gets the first one. */
size_t dbc_model_pk(const dbconn_model *m, const dbconn_column **first);

/* Everything dbconn_base_add checks about one model on its own (the base
 * checks duplicates against the other models).  0 or DBCONN_EINVAL naming the
 * table and column; DBCONN_ENOMEM. */
int dbc_model_validate(const dbconn_model *m);

#endif
