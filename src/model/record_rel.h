/* Relationships from foreign keys, and loading related rows
 * (record_rel.c). */
#ifndef DBCONN_RECORD_REL_H
#define DBCONN_RECORD_REL_H

#include <stdbool.h>
#include <stddef.h>
#include "dbconn.h"
#include "model/record_plan.h"

typedef struct dbc_rel {
    const dbconn_model *other;
    dbc_rplan *oplan;
    bool to_one;   /* many-to-one: this model's fk -> other's key */
    size_t fk;     /* the foreign-key column: in m when to_one, else other */
    size_t key;    /* the referenced column: in other when to_one, else m */
} dbc_rel;

/* Resolves rel (len bytes) from model p->m (see dbconn_query_load). */
int dbc_rel_resolve(dbconn_base *b, const dbc_rplan *p, const char *rel,
                    size_t len, dbc_rel *out);
/* Attaches the related rows `related` (taken) to `rows` under `name`:
 * matches keys, groups children by parent. */
int dbc_rel_attach(dbconn_rows *rows, const dbc_rel *rel, const char *name,
                   dbconn_rows *related);

#endif
