/* Buffered results: built row by row from a driver statement. */
#ifndef DBCONN_RESULT_H
#define DBCONN_RESULT_H

#include "driver.h"

/* A statement's column names, built once per cached statement and copied
 * into each result with one memcpy. */
typedef struct dbc_colnames {
    size_t ncols;
    unsigned generation; /* drv->generation() when built */
    size_t len;          /* bytes: the names, each NUL-terminated */
    size_t *offs;        /* ncols offsets into bytes (same allocation) */
    char *bytes;
} dbc_colnames;

int dbc_colnames_new(const dbc_driver *drv, dbc_stmt *st, dbc_colnames **out);
void dbc_colnames_free(dbc_colnames *cn);
/* True when cn still describes st. */
bool dbc_colnames_fresh(const dbc_colnames *cn, const dbc_driver *drv,
                        dbc_stmt *st);

/* A result with these column names and no rows. */
int dbc_result_new(const dbc_colnames *cn, dbconn_result **out);
/* A result with no columns (statements without rows). */
int dbc_result_new_empty(dbconn_result **out);
/* Appends the statement's current row (copies every value). */
int dbc_result_add_row(dbconn_result *r, const dbc_driver *drv, dbc_stmt *st);
/* Drops the rows, keeps columns and memory (for streaming one row at a time). */
void dbc_result_clear_rows(dbconn_result *r);
void dbc_result_set_counts(dbconn_result *r, int64_t changes,
                           int64_t last_insert_id);

#endif
