/* A parked request for a resource (a pooled connection, the write gate).
 * The releaser hands the resource over by calling ready() with no lock held,
 * from the releasing thread; ready() must be cheap (signal, post to a loop). */
#ifndef DBCONN_WAITER_H
#define DBCONN_WAITER_H

#include <stdbool.h>

#include "util/list.h"

typedef struct dbc_waiter dbc_waiter;
struct dbc_waiter {
    void (*ready)(dbc_waiter *w, void *resource);
    /* Optional: what a releaser that promised to wake the waiter's loop
     * anyway calls instead of ready() (no wake-up of its own). */
    void (*ready_quiet)(dbc_waiter *w, void *resource);
    dbc_list node;      /* in a dbc_waitq while queued */
    const void *owner;  /* who asks (the gate records it as its owner) */
};

typedef struct dbc_waitq { /* FIFO, protected by its owner's lock */
    dbc_list q;
    int count;
} dbc_waitq;

static inline void dbc_waitq_init(dbc_waitq *q) {
    dbc_list_init(&q->q);
    q->count = 0;
}

static inline bool dbc_waiter_queued(const dbc_waiter *w) {
    return dbc_list_linked(&w->node);
}

/* The first waiter, or NULL. */
static inline dbc_waiter *dbc_waitq_head(const dbc_waitq *q) {
    dbc_list *n = dbc_list_first(&q->q);
    return n ? DBC_LIST_ENTRY(n, dbc_waiter, node) : NULL;
}

static inline void dbc_waitq_push(dbc_waitq *q, dbc_waiter *w) {
    dbc_list_push_back(&q->q, &w->node);
    q->count++;
}

static inline void dbc_waitq_remove(dbc_waitq *q, dbc_waiter *w) {
    dbc_list_remove(&w->node);
    q->count--;
}

static inline dbc_waiter *dbc_waitq_pop(dbc_waitq *q) {
    dbc_waiter *w = dbc_waitq_head(q);
    if (w)
        dbc_waitq_remove(q, w);
    return w;
}

#endif
