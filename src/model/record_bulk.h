/* What a create writes into a struct, remembered and put back
 * (record_bulk.c). */
#ifndef DBCONN_RECORD_BULK_H
#define DBCONN_RECORD_BULK_H

#include <stdint.h>
#include "dbconn.h"
#include "model/record_plan.h"

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

#endif
