/* The task-scoped session registry of one dbconn (scope.c), and the
 * thread-local current task with the per-thread records that close a
 * thread's sessions when it exits (task.c).
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

/* ---- current task and thread keys (task.c) ------------------------------ */

/* The calling thread's fallback key (assigned on first use): unique for the
 * life of the process, and never the address of any object. */
void *dbc_thread_key(void);
/* True when `key` is the calling thread's own fallback key. */
bool dbc_is_own_thread_key(const void *key);

/* A thread's record: the registries holding a session under its fallback
 * key, closed by a pthread key destructor when the thread exits.
 * Reference-counted: the thread holds one reference while its thread-local
 * pointer refers to the record, and every link holds one. */
typedef struct dbc_trec dbc_trec;

/* "Thread rec has a session in registry sc".  Owned by the registry entry
 * of that session while attached (the entry's aux pointer). */
typedef struct dbc_tlink {
    dbc_scope *sc;                /* the registry; alive while attached */
    dbc_trec *rec;                /* counted reference */
    struct dbc_tlink *prev, *next; /* rec's list; guarded by rec's lock */
} dbc_tlink;

/* A new, unattached link from the calling thread's record (made on demand,
 * which arms the thread-exit cleanup) to `sc`.  DBCONN_ENOMEM. */
int dbc_tlink_new(dbc_scope *sc, dbc_tlink **out);
/* Adds / removes `l` to / from its record's list.  Take the record's lock:
 * call with the registry lock held (lock order above). */
void dbc_tlink_attach(dbc_tlink *l);
void dbc_tlink_detach(dbc_tlink *l);
/* Frees a detached link and drops its record reference.  No locks held. */
void dbc_tlink_free(dbc_tlink *l);
/* Lets the calling thread drop its record when it lists no registry, so a
 * long-lived thread (main) keeps nothing after its last session closed. */
void dbc_trec_trim(void);

/* ---- registry side of the thread-exit cleanup (scope.c, for task.c) ----- */

/* Keeps `sc` (its memory, and its dbconn for dbc_scope_close_all's waiters)
 * alive until dbc_scope_drop_thread.  Called with the lock of a record
 * holding an attached link to `sc`: that proves `sc` is still alive. */
void dbc_scope_pin(dbc_scope *sc);
/* Closes the session `rec` has in `sc` under `key` if it is still there,
 * then undoes dbc_scope_pin.  No locks held. */
void dbc_scope_drop_thread(dbc_scope *sc, void *key, dbc_trec *rec);

#endif
