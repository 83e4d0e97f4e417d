/* Running queries (record_fetch.c). */
#ifndef DBCONN_RECORD_FETCH_H
#define DBCONN_RECORD_FETCH_H

#include <stdint.h>
#include "dbconn.h"
#include "model/record_query.h"

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
