/* Per-model plans of the active-record layer (record_plan.c): the SQL of
 * every record call, built once per base and model. */
#ifndef DBCONN_RECORD_PLAN_H
#define DBCONN_RECORD_PLAN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "dbconn.h"
#include "util/buf.h"

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

#endif
