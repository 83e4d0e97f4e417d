/* The current task (thread-local), every thread's own fallback key, and the
 * per-thread records that close a thread's scoped sessions when it exits.
 *
 * A task is any non-NULL pointer the application uses as an identity (a
 * coroutine, a uv handle, a request).  When no task is entered, the current
 * task is the thread's fallback key: an integer from a process-wide counter
 * mapped into a range of pointer values that no user-space object can have,
 * so a key can never be reused by a later thread or confused with an object
 * address (a freed pthread_t or stack address could). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <uv.h>

#include "util/alloc.h"
#include "util/error.h"
#include "scope/task.h"

/* Fallback keys are UINTPTR_MAX - (n << 4) for n = 1, 2, ...  While n < 2^44
 * bits 48..63 of a key are all ones (and its low nibble is 0xf, so it is not
 * even aligned).  No user-space pointer looks like that: on x86-64 user
 * addresses have bit 63 clear (also with 5-level paging and Intel LAM); on
 * AArch64 they have bit 55 clear (also with top-byte tags); the top half is
 * the kernel's on every mainstream 64-bit OS.  2^44 threads at a million
 * threads a second is half a year of nothing but thread creation.
 * (A static assertion rather than #if/#error, so that cppcheck, which does
 * not read <stdint.h>, still analyses this file.) */
_Static_assert(UINTPTR_MAX > 0xffffffffu,
               "libdbconn's thread keys need 64-bit pointers (see task.c)");
#define KEY_LIMIT (UINT64_C(1) << 44)

/* The one process-wide mutable variable besides the thread-locals: the
 * number of fallback keys handed out.  It must be process-wide (a key must
 * differ from every other thread's, past and future) and it is only ever
 * incremented atomically, so it needs no lock. */
static atomic_uint_least64_t keys_issued;

/* Immutable after the first use (pthread_once): the TSD key whose
 * destructor runs thread_exit().  Never deleted: a thread may exit at any
 * time in the life of the process. */
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
static int exit_key_err;

static _Thread_local void *current_task; /* entered task; NULL = none */
static _Thread_local uintptr_t own_key;  /* 0 until first needed */
static _Thread_local dbc_trec *own_rec;  /* holds the thread's reference */

struct dbc_trec {
    uv_mutex_t lock;   /* guards links */
    dbc_list links;    /* registries holding a session under `key` */
    void *key;         /* the owning thread's fallback key */
    atomic_size_t refs;
};

void *dbc_thread_key(void) {
    if (!own_key) {
        uint_least64_t n = atomic_fetch_add_explicit(&keys_issued, 1,
                                                     memory_order_relaxed) +
                           1;
        if (n >= KEY_LIMIT)
            abort(); /* unreachable in practice; see KEY_LIMIT */
        own_key = UINTPTR_MAX - ((uintptr_t)n << 4);
    }
    /* A made-up identity that is never dereferenced: the integer-to-pointer
     * cast is the point.  NOLINTNEXTLINE(performance-no-int-to-ptr) */
    return (void *)own_key;
}

bool dbc_is_own_thread_key(const void *key) {
    return own_key != 0 && (uintptr_t)key == own_key;
}

void dbc_scope_key_name(const void *key, char *buf, size_t cap) {
    uintptr_t k = (uintptr_t)key;
    uintptr_t n = (UINTPTR_MAX - k) >> 4;
    if ((k & 0xfu) == 0xfu && n >= 1 && n < KEY_LIMIT &&
        UINTPTR_MAX - (n << 4) == k)
        (void)snprintf(buf, cap, "thread #%" PRIuPTR " (key %p)", n, key);
    else
        (void)snprintf(buf, cap, "task %p", key);
}

void *dbconn_current_task(void) {
    return current_task ? current_task : dbc_thread_key();
}

void *dbconn_task_enter(void *task) {
    void *prev = current_task;
    current_task = task;
    return prev;
}

void dbconn_task_leave(void *previous) { current_task = previous; }

/* ---- thread records ----------------------------------------------------- */

static void trec_unref(dbc_trec *rec) {
    if (atomic_fetch_sub_explicit(&rec->refs, 1, memory_order_acq_rel) == 1) {
        uv_mutex_destroy(&rec->lock);
        dbc_free(rec);
    }
}

/* The TSD destructor: closes the sessions the exiting thread still has
 * under its fallback key.  The record's lock is never held while a registry
 * lock is taken (lock order, task.h): each round pins one registry under
 * the record's lock, then lets the registry remove the entry. */
static void thread_exit(void *arg) {
    dbc_trec *rec = arg;
    if (own_rec == rec)
        own_rec = NULL; /* the thread's reference is now this function's */
    for (;;) {
        uv_mutex_lock(&rec->lock);
        dbc_list *n = dbc_list_first(&rec->links);
        dbc_tlink *l = n ? DBC_LIST_ENTRY(n, dbc_tlink, node) : NULL;
        void *owner = l ? l->owner : NULL;
        const dbc_tlink_ops *ops = l ? l->ops : NULL;
        if (l)
            ops->pin(owner);
        uv_mutex_unlock(&rec->lock);
        if (!l)
            break;
        /* Removes the link (or finds that a concurrent remove or close did
         * it under the registry lock): every round shortens the list. */
        ops->drop(owner, rec->key, rec);
    }
    trec_unref(rec);
}

static void make_exit_key(void) {
    exit_key_err = pthread_key_create(&exit_key, thread_exit);
}

static int trec_new(dbc_trec **out) {
    pthread_once(&exit_key_once, make_exit_key);
    if (exit_key_err)
        return dbc_fail(DBCONN_ENOMEM,
                        "pthread_key_create failed (error %d): cannot arm the "
                        "thread-exit cleanup of scoped sessions",
                        exit_key_err);
    dbc_trec *rec = dbc_calloc(1, sizeof *rec);
    if (!rec)
        return dbc_nomem();
    if (uv_mutex_init(&rec->lock) != 0) {
        dbc_free(rec);
        return dbc_fail(DBCONN_ENOMEM, "cannot create a thread record's mutex");
    }
    rec->key = dbc_thread_key();
    dbc_list_init(&rec->links);
    atomic_init(&rec->refs, 1); /* the thread's reference */
    int err = pthread_setspecific(exit_key, rec);
    if (err) {
        trec_unref(rec);
        return dbc_fail(DBCONN_ENOMEM,
                        "pthread_setspecific failed (error %d): cannot arm "
                        "the thread-exit cleanup of scoped sessions", err);
    }
    own_rec = rec;
    *out = rec;
    return 0;
}

int dbc_tlink_new(void *owner, const dbc_tlink_ops *ops, dbc_tlink **out) {
    *out = NULL;
    dbc_trec *rec = own_rec;
    if (!rec) {
        int rc = trec_new(&rec);
        if (rc)
            return rc;
    }
    dbc_tlink *l = dbc_calloc(1, sizeof *l);
    if (!l) {
        dbc_trec_trim(); /* drops a record made just now */
        return dbc_nomem();
    }
    l->owner = owner;
    l->ops = ops;
    l->rec = rec;
    atomic_fetch_add_explicit(&rec->refs, 1, memory_order_relaxed);
    *out = l;
    return 0;
}

void dbc_tlink_attach(dbc_tlink *l) {
    dbc_trec *rec = l->rec;
    uv_mutex_lock(&rec->lock);
    dbc_list_push_front(&rec->links, &l->node);
    uv_mutex_unlock(&rec->lock);
}

void dbc_tlink_detach(dbc_tlink *l) {
    dbc_trec *rec = l->rec;
    uv_mutex_lock(&rec->lock);
    dbc_list_remove(&l->node);
    uv_mutex_unlock(&rec->lock);
}

void dbc_tlink_free(dbc_tlink *l) {
    if (!l)
        return;
    dbc_trec *rec = l->rec;
    dbc_free(l);
    trec_unref(rec);
}

void dbc_trec_trim(void) {
    dbc_trec *rec = own_rec;
    if (!rec)
        return;
    /* Only the owning thread attaches links to its record, so once this
     * thread sees the list empty it stays empty. */
    uv_mutex_lock(&rec->lock);
    bool empty = dbc_list_empty(&rec->links);
    uv_mutex_unlock(&rec->lock);
    if (!empty)
        return;
    (void)pthread_setspecific(exit_key, NULL); /* cannot fail: key is valid */
    own_rec = NULL;
    trec_unref(rec);
}
