/* The write gate: a FIFO lock owned by one session (writer) at a time.
 * Sync writers block on a condition variable with a timeout; async writers
 * park a waiter that is handed the gate on release. */
#include "gate.h"
#include "error.h"

int dbc_gate_init(dbc_gate *g) {
    g->owner = NULL;
    g->waiters = (dbc_waitq){0};
    g->waits = 0;
    return uv_mutex_init(&g->lock) ? dbc_nomem() : 0;
}

void dbc_gate_destroy(dbc_gate *g) { uv_mutex_destroy(&g->lock); }

/* A blocking waiter: ready() signals its condition variable. */
typedef struct sync_waiter {
    dbc_waiter w; /* first member */
    uv_cond_t cond;
    bool granted;
} sync_waiter;

static void sync_ready(dbc_waiter *w, void *resource) {
    (void)w;
    (void)resource; /* the gate sets `granted` under its lock */
}

int dbc_gate_acquire(dbc_gate *g, const void *owner, int timeout_ms) {
    uv_mutex_lock(&g->lock);
    if (!g->owner && !g->waiters.head) {
        g->owner = owner;
        uv_mutex_unlock(&g->lock);
        return 0;
    }
    g->waits++;
    if (timeout_ms <= 0) {
        uv_mutex_unlock(&g->lock);
        return dbc_fail(DBCONN_EBUSY, "another session of this engine holds "
                                      "the write lock (busy_timeout_ms is 0)");
    }
    sync_waiter sw = {.w = {.ready = sync_ready, .owner = owner}};
    if (uv_cond_init(&sw.cond)) {
        uv_mutex_unlock(&g->lock);
        return dbc_nomem();
    }
    dbc_waitq_push(&g->waiters, &sw.w);
    uint64_t deadline = uv_hrtime() + (uint64_t)timeout_ms * 1000000u;
    while (!sw.granted) {
        uint64_t now = uv_hrtime();
        if (now >= deadline ||
            uv_cond_timedwait(&sw.cond, &g->lock, deadline - now) ==
                UV_ETIMEDOUT) {
            if (sw.granted)
                break;
            if (uv_hrtime() >= deadline) {
                dbc_waitq_remove(&g->waiters, &sw.w);
                uv_mutex_unlock(&g->lock);
                uv_cond_destroy(&sw.cond);
                return dbc_fail(DBCONN_EBUSY,
                                "waited %d ms (busy_timeout_ms) for another "
                                "session of this engine to finish writing",
                                timeout_ms);
            }
        }
    }
    uv_mutex_unlock(&g->lock);
    uv_cond_destroy(&sw.cond);
    return 0;
}

int dbc_gate_try(dbc_gate *g, const void *owner) {
    uv_mutex_lock(&g->lock);
    int busy = g->owner || g->waiters.head;
    if (!busy)
        g->owner = owner;
    uv_mutex_unlock(&g->lock);
    return busy;
}

int dbc_gate_acquire_or_park(dbc_gate *g, const void *owner, dbc_waiter *w) {
    uv_mutex_lock(&g->lock);
    if (!g->owner && !g->waiters.head) {
        g->owner = owner;
        uv_mutex_unlock(&g->lock);
        return 0;
    }
    g->waits++;
    w->owner = owner;
    dbc_waitq_push(&g->waiters, w);
    uv_mutex_unlock(&g->lock);
    return 1;
}

int dbc_gate_unpark(dbc_gate *g, dbc_waiter *w) {
    uv_mutex_lock(&g->lock);
    int parked = w->queued;
    if (parked)
        dbc_waitq_remove(&g->waiters, w);
    uv_mutex_unlock(&g->lock);
    return parked;
}

void dbc_gate_release(dbc_gate *g, const void *owner) {
    uv_mutex_lock(&g->lock);
    if (g->owner != owner) { /* not ours: nothing to release */
        uv_mutex_unlock(&g->lock);
        return;
    }
    dbc_waiter *next = dbc_waitq_pop(&g->waiters);
    g->owner = next ? next->owner : NULL;
    if (next && next->ready == sync_ready) {
        sync_waiter *sw = (sync_waiter *)(void *)next;
        sw->granted = true;
        uv_cond_signal(&sw->cond);
        next = NULL;
    }
    uv_mutex_unlock(&g->lock);
    if (next)
        next->ready(next, NULL);
}

uint64_t dbc_gate_waits(dbc_gate *g) {
    uv_mutex_lock(&g->lock);
    uint64_t n = g->waits;
    uv_mutex_unlock(&g->lock);
    return n;
}
