/* The task-scoped session registry of one dbconn: scope key -> the session
 * of that scope.  The current task and the thread records that close a
 * thread's sessions when it exits are task.h's.
 *
 * Lock order (never take them the other way round):
 *     registry lock (dbc_scope.lock)  ->  thread record lock (dbc_trec.lock)
 * No other lock is taken while either is held: sessions are created and
 * freed (dbc_session_new / dbc_session_free: they take the engine's and the
 * pool's locks and do I/O) only with neither held. */
#ifndef DBCONN_SCOPE_H
#define DBCONN_SCOPE_H

#include <stdbool.h>
#include <stddef.h>

#include "dbconn.h"

typedef struct dbc_scope dbc_scope;

/* ---- the registry (scope.c) --------------------------------------------- */

int dbc_scope_new(dbc_scope **out, dbconn *db);
/* Closes (rolls back) and forgets every registered session; returns how many
 * there were.  Later lookups fail with DBCONN_ECLOSED.  Waits until removals
 * running on other threads (thread-exit cleanup, dbconn_scoped_remove*) have
 * freed their sessions, so the engine may free the pool right after.  The
 * caller must not hold the engine's lock (those removals take it). */
size_t dbc_scope_close_all(dbc_scope *sc);
/* Releases the engine's reference to the registry (after
 * dbc_scope_close_all; closes everything first if that was not called).  The
 * memory goes when a thread-exit cleanup still finishing on another thread
 * lets go of it too.  NULL is a no-op. */
void dbc_scope_free(dbc_scope *sc);

#endif
