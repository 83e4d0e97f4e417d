/* One model on its own (model.c): validation when it is added to a base,
 * and the metadata helpers the DDL renderer and the active-record layer
 * share (the `references` string, the index list, column lookup).
 * Identifiers compare as SQLite compares them: ASCII letters without case,
 * every other byte exactly (dbc_ascii_ieq). */
#ifndef DBCONN_MODEL_H
#define DBCONN_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "dbconn.h"
#include "util/buf.h"

/* All valid DBCONN_PRIMARY_KEY | ... bits. */
#define DBC_COLUMN_FLAGS                                                        \
    (DBCONN_PRIMARY_KEY | DBCONN_NOT_NULL | DBCONN_UNIQUE |                     \
     DBCONN_AUTOINCREMENT | DBCONN_INDEXED | DBCONN_ZERO_IS_NULL)

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
