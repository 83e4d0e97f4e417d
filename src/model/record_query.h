/* The query builder (record_query.c): a query's conditions, groups,
 * order, limit and loads. */
#ifndef DBCONN_RECORD_QUERY_H
#define DBCONN_RECORD_QUERY_H

#include <stdbool.h>
#include <stdint.h>
#include "dbconn.h"
#include "model/record.h"
#include "model/record_rel.h"
#include "util/buf.h"

typedef struct dbc_qagg {
    int fn;
    int col; /* -1: count(*) */
} dbc_qagg;


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

/* Room for `extra` parameters after q's own (the limit and offset of a
 * run).  DBCONN_ENOMEM. */
int dbc_query_reserve_params(dbconn_query *q, size_t extra);
/* Fails with the query's kept failure, if any. */
int dbc_query_check(dbconn_query *q);
/* Closes the groups left open (at the start of every run). */
void dbc_query_close_groups(dbconn_query *q);

#endif
