/* The task-scoped session registry of one dbconn, and the thread-local
 * current task. */
#ifndef DBCONN_SCOPE_H
#define DBCONN_SCOPE_H

#include <stddef.h>

#include "dbconn.h"

typedef struct dbc_scope dbc_scope;

int dbc_scope_new(dbc_scope **out, dbconn *db);
/* Closes (rolls back) and forgets every registered session; returns how many
 * there were.  Later lookups fail with DBCONN_ECLOSED. */
size_t dbc_scope_close_all(dbc_scope *sc);
/* Frees the registry (after dbc_scope_close_all). */
void dbc_scope_free(dbc_scope *sc);

#endif
