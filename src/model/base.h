/* Base models (base.c): the list of models and the bound session pointer.
 * A model's own validation and metadata helpers are model.h's; the DDL,
 * ddl.h's; init_db, initdb.h's. */
#ifndef DBCONN_BASE_H
#define DBCONN_BASE_H

#include <stdbool.h>
#include <stddef.h>

#include "dbconn.h"

/* Called by dbconn_close for each base bound to db: sets the session pointer
 * to NULL if it is still bound to db. */
void dbc_base_unbind(dbconn_base *b, dbconn *db);

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

/* The active-record layer's plan of a model (model/record_plan.h). */
typedef struct dbc_rplan dbc_rplan;

/* m's active-record plan in b (built at first use, kept until the base
 * is cleared or freed), and (when bound is not NULL) the dbconn b is bound to
 * at that moment -- one look under the base's lock for both.
 * DBCONN_EINVAL naming the model when m is not one of b's models;
 * DBCONN_ENOMEM. */
int dbc_base_record_plan(dbconn_base *b, const dbconn_model *m,
                         dbc_rplan **out, dbconn **bound);
/* The model of b whose table is named `name` (len bytes, compared as
 * SQLite compares identifiers), or NULL. */
const dbconn_model *dbc_base_model_named(dbconn_base *b, const char *name,
                                         size_t len);

#endif
