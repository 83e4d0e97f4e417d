/* A parked request for a resource (a pooled connection, the write gate).
 * The releaser hands the resource over by calling ready() with no lock held,
 * from the releasing thread; ready() must be cheap (signal, post to a loop). */
#ifndef DBCONN_WAITER_H
#define DBCONN_WAITER_H

typedef struct dbc_waiter dbc_waiter;
struct dbc_waiter {
    void (*ready)(dbc_waiter *w, void *resource);
    /* Optional: what a releaser that promised to wake the waiter's loop
     * anyway calls instead of ready() (no wake-up of its own). */
    void (*ready_quiet)(dbc_waiter *w, void *resource);
    dbc_waiter *prev, *next;
    int queued; /* 1 while in a queue */
    const void *owner; /* who asks (the gate records it as its owner) */
};

typedef struct dbc_waitq { /* FIFO, protected by its owner's lock */
    dbc_waiter *head, *tail;
    int count;
} dbc_waitq;

static inline void dbc_waitq_push(dbc_waitq *q, dbc_waiter *w) {
    w->next = 0;
    w->queued = 1;
    w->prev = q->tail;
    if (q->tail)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
    q->count++;
}

static inline void dbc_waitq_remove(dbc_waitq *q, dbc_waiter *w) {
    if (w->prev)
        w->prev->next = w->next;
    else
        q->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        q->tail = w->prev;
    w->prev = w->next = 0;
    w->queued = 0;
    q->count--;
}

static inline dbc_waiter *dbc_waitq_pop(dbc_waitq *q) {
    dbc_waiter *w = q->head;
    if (w)
        dbc_waitq_remove(q, w);
    return w;
}

#endif
