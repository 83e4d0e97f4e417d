/* The current task (thread-local), every thread's own fallback key, and
 * the per-thread records that close a thread's scoped sessions when it
 * exits.  The records know registries only through the hooks a registry
 * gives its links (dbc_tlink_ops): task.c calls nothing of scope.c. */
#ifndef DBCONN_TASK_H
#define DBCONN_TASK_H

#include <stdbool.h>
#include <stddef.h>

#include "util/list.h"

/* The calling thread's fallback key (assigned on first use): unique for the
 * life of the process, and never the address of any object. */
void *dbc_thread_key(void);
/* True when `key` is the calling thread's own fallback key. */
bool dbc_is_own_thread_key(const void *key);
/* A scope key in words for messages: "thread #3" for a thread's fallback
 * key (threads numbered in the order they first needed one), otherwise
 * "task 0x...". */
void dbc_scope_key_name(const void *key, char *buf, size_t cap);

/* A thread's record: the registries holding a session under its fallback
 * key, closed by a pthread key destructor when the thread exits.
 * Reference-counted: the thread holds one reference while its thread-local
 * pointer refers to the record, and every link holds one. */
typedef struct dbc_trec dbc_trec;

/* What a registry does for the thread-exit cleanup of its entries. */
typedef struct dbc_tlink_ops {
    /* Keeps the registry (`owner`) alive until drop; called with the lock
     * of a record holding an attached link to it, which proves it alive. */
    void (*pin)(void *owner);
    /* Closes the session `rec` has in the registry under `key` if it is
     * still there (detaching the link), then undoes pin.  No locks held. */
    void (*drop)(void *owner, void *key, dbc_trec *rec);
} dbc_tlink_ops;

/* "Thread rec has a session in registry `owner`".  Owned by the registry
 * entry of that session while attached (the entry's aux pointer). */
typedef struct dbc_tlink {
    void *owner;              /* the registry; alive while attached */
    const dbc_tlink_ops *ops;
    dbc_trec *rec;            /* counted reference */
    dbc_list node;            /* rec's list; guarded by rec's lock */
} dbc_tlink;

/* A new, unattached link from the calling thread's record (made on demand,
 * which arms the thread-exit cleanup) to `owner`.  DBCONN_ENOMEM. */
int dbc_tlink_new(void *owner, const dbc_tlink_ops *ops, dbc_tlink **out);
/* Adds / removes `l` to / from its record's list.  Takes the record's
 * lock: the registry calls these with its own lock held (lock order:
 * registry lock -> thread record lock, never the other way). */
void dbc_tlink_attach(dbc_tlink *l);
void dbc_tlink_detach(dbc_tlink *l);
/* Frees a detached link and drops its record reference.  No locks held. */
void dbc_tlink_free(dbc_tlink *l);
/* Lets the calling thread drop its record when it lists no registry, so a
 * long-lived thread (main) keeps nothing after its last session closed. */
void dbc_trec_trim(void);

#endif
