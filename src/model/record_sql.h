/* Rendering a query's statements (record_sql.c). */
#ifndef DBCONN_RECORD_SQL_H
#define DBCONN_RECORD_SQL_H

#include <stdbool.h>
#include <stdint.h>
#include "model/record_map.h"
#include "model/record_query.h"

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

#endif
