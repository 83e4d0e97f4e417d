/* The write gate: one writer transaction at a time per engine, so writers of
 * this process queue here (FIFO; a newcomer may overtake the first in line
 * for 5 ms) instead of sleeping in SQLite's busy handler.  Writers in other
 * processes still meet busy_timeout.  How waiters wait: gate.c. */
#ifndef DBCONN_GATE_H
#define DBCONN_GATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "engine/waiter.h"

typedef struct dbc_gate {
    uv_mutex_t lock;
    const void *owner; /* NULL = free */
    dbc_waitq waiters;
    uint64_t waits;    /* acquisitions that had to wait */
    uint64_t polls;    /* times a sync writer started polling */
    uint64_t wakeups;  /* condition signals sent to sync waiters */
    uint64_t naps;     /* times the first waiter went to sleep on its own
                          short timer (releases leave it alone) */
    uint64_t taken_at; /* uv_hrtime() when the owner took it */
    uint64_t hold_ns;  /* moving average of how long owners held it */
    uint64_t first_since; /* when the first waiter in line became first */
    uint64_t barge_ns; /* how long newcomers may overtake the first waiter
                          (5 ms; tests change it) */
    bool spinning;     /* a sync writer polls: a newcomer before it queues,
                          or the queue's head */
    bool first_polls;  /* the poller is the first waiter: it looks for
                          itself, a release need not wake it */
    /* Bumped (under lock) whenever the owner or the line changes, so that
     * a poller can watch it without taking the lock: polling that took
     * the lock every turn made the owner's release and take wait for it. */
    atomic_uint changes;
    /* Names the owner in a timeout's message: "held by ..." into buf
     * (engine.c installs it; called with no gate lock held).  NULL: the
     * message does not name it. */
    void (*describe)(void *data, const void *owner, char *buf, size_t cap);
    void *describe_data;
} dbc_gate;

int dbc_gate_init(dbc_gate *g);
void dbc_gate_destroy(dbc_gate *g);
/* Blocks up to timeout_ms (0 = do not wait): 0 or DBCONN_EBUSY. */
int dbc_gate_acquire(dbc_gate *g, const void *owner, int timeout_ms);
/* 0 = acquired now; 1 = parked: w->ready(w, NULL) runs when it is owner's. */
int dbc_gate_acquire_or_park(dbc_gate *g, const void *owner, dbc_waiter *w);
/* Takes the gate if it is free now: 0, or 1 when someone else holds it. */
int dbc_gate_try(dbc_gate *g, const void *owner);
/* Removes a parked waiter; returns 1 if it was still parked, 0 if the gate
 * was already handed to it (then the caller owns the gate). */
int dbc_gate_unpark(dbc_gate *g, dbc_waiter *w);
/* Releases (owner must hold it) and hands it to the first waiter. */
void dbc_gate_release(dbc_gate *g, const void *owner);
/* Same, from an async job whose completion wakes the loop anyway: a parked
 * waiter is handed the gate through ready_quiet (no wake-up of its own). */
void dbc_gate_release_quiet(dbc_gate *g, const void *owner);
uint64_t dbc_gate_waits(dbc_gate *g);
/* The owner now (NULL: free) and uv_hrtime() when it took the gate. */
void dbc_gate_owner(dbc_gate *g, const void **owner, uint64_t *since);

#endif
