/* The write gate: one writer transaction at a time per engine.
 *
 * Sync writers block on a condition variable with a timeout; async writers
 * park a waiter that is handed the gate on release.  Handing the gate to the
 * next thread in strict FIFO order costs a context switch per transaction
 * (the releasing thread, wanting the gate for its next transaction, must
 * queue behind a waiter that is not even running yet), which measured 0.75x
 * of the one-thread rate with 4 writer threads.  So a free gate may be taken
 * by whoever asks first ("barging", as pthread mutexes allow) -- but only
 * while the oldest sync waiter has waited less than BARGE_NS; after that the
 * release hands the gate straight to it, which bounds the unfairness.
 * Parked (async) waiters are always handed the gate directly: waking a loop
 * only to find the gate taken again would be pure cost.
 *
 * While owners hold the gate briefly (a moving average under POLL_HOLD_NS:
 * commits that do not wait for the disk), one sync writer at a time polls
 * it (sched_yield, up to SPIN_NS) instead of sleeping, so that a release
 * finds someone running who takes the gate at once: a newcomer when no one
 * is queued, otherwise the first waiter in the queue.  When the poller
 * takes the gate, the first sleeping waiter is woken to poll next -- that
 * wake-up overlaps the new owner's transaction instead of following it.  A
 * release wakes a sleeping waiter only when no one polls.  With 4 writer
 * threads and synchronous=OFF, polling by the queue's head took the rate
 * from 0.66-0.73x to 0.86-0.88x of one thread.  While owners hold it long
 * (a commit that waits for an fsync), waiters sleep: polling then cost the
 * fsync-bound workload 10-20% (0.76-0.86x of one thread against 0.95x
 * sleeping, which is what raw SQLite with a mutex reaches); see
 * docs/performance.md. */
#include <sched.h>

#include "error.h"
#include "gate.h"

#define BARGE_NS ((uint64_t)2000000u) /* 2 ms */
#define SPIN_NS ((uint64_t)300000u)  /* 300 us */
#define POLL_HOLD_NS ((uint64_t)50000u) /* 50 us */

int dbc_gate_init(dbc_gate *g) {
    g->owner = NULL;
    g->waiters = (dbc_waitq){0};
    g->waits = 0;
    g->polls = 0;
    g->taken_at = 0;
    g->hold_ns = 0;
    g->spinning = false;
    return uv_mutex_init(&g->lock) ? dbc_nomem() : 0;
}

void dbc_gate_destroy(dbc_gate *g) { uv_mutex_destroy(&g->lock); }

/* A blocking waiter: the gate signals its condition variable, either to
 * hand it the gate (granted) or to let it try (the gate is free). */
typedef struct sync_waiter {
    dbc_waiter w; /* first member */
    uv_cond_t cond;
    uint64_t since;
    bool granted;
} sync_waiter;

static void sync_ready(dbc_waiter *w, void *resource) {
    (void)w;
    (void)resource; /* the gate sets `granted` under its lock */
}

static bool is_sync(const dbc_waiter *w) { return w->ready == sync_ready; }

/* May a newcomer take the free gate now (lock held)? */
static bool may_take(const dbc_gate *g) {
    const dbc_waiter *head = g->waiters.head;
    if (g->owner)
        return false;
    if (!head)
        return true;
    return is_sync(head) &&
           uv_hrtime() - ((const sync_waiter *)(const void *)head)->since <
               BARGE_NS;
}

/* The gate has just become free (lock held, `now` = uv_hrtime()): let the
 * first waiter have it.  Returns a parked waiter to call ready() on once
 * the lock is released. */
static dbc_waiter *pass_on(dbc_gate *g, uint64_t now) {
    dbc_waiter *next = g->waiters.head;
    if (!next)
        return NULL;
    if (!is_sync(next)) { /* parked: handed over directly */
        dbc_waitq_remove(&g->waiters, next);
        g->owner = next->owner;
        g->taken_at = now;
        return next;
    }
    sync_waiter *sw = (sync_waiter *)(void *)next;
    if (now - sw->since >= BARGE_NS) { /* waited enough: its own */
        dbc_waitq_remove(&g->waiters, next);
        g->owner = next->owner;
        g->taken_at = now;
        sw->granted = true;
    } else if (g->spinning) {
        return NULL; /* the poller takes it; no wake-up for nothing */
    }
    uv_cond_signal(&sw->cond); /* granted, or free to try */
    return NULL;
}

/* Lock held: when no one polls, the first waiter (if it is a sleeping
 * sync writer) is woken to poll for the next release.  A spurious wake-up
 * costs a loop turn. */
static bool worth_polling(const dbc_gate *g);

static void wake_poller(dbc_gate *g) {
    dbc_waiter *head = g->waiters.head;
    if (head && is_sync(head) && !g->spinning && worth_polling(g))
        uv_cond_signal(&((sync_waiter *)(void *)head)->cond);
}

static void take(dbc_gate *g, const void *owner) {
    g->owner = owner;
    g->taken_at = uv_hrtime();
    wake_poller(g);
}

/* Polling pays while the gate changes hands every few microseconds. */
static bool worth_polling(const dbc_gate *g) {
    return g->hold_ns < POLL_HOLD_NS;
}

/* Polls until `done` says so or `until` (lock held; released while
 * yielding).  One poller at a time: see g->spinning. */
static void poll_gate(dbc_gate *g,
                      bool (*done)(const dbc_gate *g, const sync_waiter *sw),
                      const sync_waiter *sw, uint64_t until) {
    g->spinning = true;
    g->polls++;
    while (!done(g, sw) && uv_hrtime() < until) {
        uv_mutex_unlock(&g->lock);
        sched_yield();
        uv_mutex_lock(&g->lock);
    }
    g->spinning = false;
}

/* A newcomer stops polling when it may take the gate, or queues as soon as
 * someone else does. */
static bool newcomer_done(const dbc_gate *g, const sync_waiter *sw) {
    (void)sw;
    return may_take(g) || g->waiters.head;
}

/* The queue's head stops when the gate is free, or was handed to it. */
static bool head_done(const dbc_gate *g, const sync_waiter *sw) {
    return !g->owner || sw->granted || g->waiters.head != &sw->w;
}

static int timed_out(int timeout_ms) {
    return dbc_fail(DBCONN_EBUSY,
                    "waited %d ms (busy_timeout_ms) for another session of "
                    "this engine to finish writing",
                    timeout_ms);
}

int dbc_gate_acquire(dbc_gate *g, const void *owner, int timeout_ms) {
    uv_mutex_lock(&g->lock);
    /* One writer at a time may poll for a short while before it queues: a
     * commit (an fsync) is often over within SPIN_NS, and a thread that
     * takes the gate by itself needs no wake-up by the releaser. */
    if (!may_take(g) && !g->waiters.head && !g->spinning && timeout_ms > 0 &&
        worth_polling(g))
        poll_gate(g, newcomer_done, NULL, uv_hrtime() + SPIN_NS);
    if (may_take(g)) {
        take(g, owner);
        uv_mutex_unlock(&g->lock);
        return 0;
    }
    g->waits++;
    if (timeout_ms <= 0) {
        uv_mutex_unlock(&g->lock);
        return dbc_fail(DBCONN_EBUSY, "another session of this engine holds "
                                      "the write lock (busy_timeout_ms is 0)");
    }
    sync_waiter sw = {.w = {.ready = sync_ready, .owner = owner},
                      .since = uv_hrtime()};
    /* A newcomer that stopped polling hands the role on (a release may
     * have left the waking to it). */
    wake_poller(g);
    if (uv_cond_init(&sw.cond)) {
        uv_mutex_unlock(&g->lock);
        return dbc_nomem();
    }
    dbc_waitq_push(&g->waiters, &sw.w);
    uint64_t deadline = sw.since + (uint64_t)timeout_ms * 1000000u;
    dbc_waiter *handed = NULL;
    int rc = 0;
    bool polled = false; /* once per wake-up: then sleep until signalled */
    for (;;) {
        if (sw.granted) {
            take(g, owner); /* already ours: wake the next poller */
            break;
        }
        if (!g->owner && g->waiters.head == &sw.w) { /* free: ours to take */
            dbc_waitq_remove(&g->waiters, &sw.w);
            take(g, owner);
            break;
        }
        if (!polled && g->waiters.head == &sw.w && !g->spinning &&
            worth_polling(g)) {
            uint64_t until = uv_hrtime() + SPIN_NS;
            polled = true;
            poll_gate(g, head_done, &sw, until < deadline ? until : deadline);
            continue;
        }
        polled = false;
        uint64_t now = uv_hrtime();
        if (now >= deadline) {
            dbc_waitq_remove(&g->waiters, &sw.w);
            /* If the gate is free, the next waiter may have it now. */
            handed = g->owner ? NULL : pass_on(g, now);
            rc = timed_out(timeout_ms);
            break;
        }
        (void)uv_cond_timedwait(&sw.cond, &g->lock, deadline - now);
    }
    uv_mutex_unlock(&g->lock);
    uv_cond_destroy(&sw.cond);
    if (handed)
        handed->ready(handed, NULL);
    return rc;
}

int dbc_gate_try(dbc_gate *g, const void *owner) {
    uv_mutex_lock(&g->lock);
    bool free = may_take(g);
    if (free)
        take(g, owner);
    uv_mutex_unlock(&g->lock);
    return !free;
}

int dbc_gate_acquire_or_park(dbc_gate *g, const void *owner, dbc_waiter *w) {
    uv_mutex_lock(&g->lock);
    if (may_take(g)) {
        take(g, owner);
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

static void release(dbc_gate *g, const void *owner, bool quiet) {
    uv_mutex_lock(&g->lock);
    if (g->owner != owner) { /* not ours: nothing to release */
        uv_mutex_unlock(&g->lock);
        return;
    }
    g->owner = NULL;
    uint64_t now = uv_hrtime();
    /* A moving average over about the last eight holds. */
    g->hold_ns = g->hold_ns - g->hold_ns / 8 + (now - g->taken_at) / 8;
    dbc_waiter *handed = pass_on(g, now);
    uv_mutex_unlock(&g->lock);
    if (handed && quiet && handed->ready_quiet)
        handed->ready_quiet(handed, NULL);
    else if (handed)
        handed->ready(handed, NULL);
}

void dbc_gate_release(dbc_gate *g, const void *owner) {
    release(g, owner, false);
}

void dbc_gate_release_quiet(dbc_gate *g, const void *owner) {
    release(g, owner, true);
}

uint64_t dbc_gate_waits(dbc_gate *g) {
    uv_mutex_lock(&g->lock);
    uint64_t n = g->waits;
    uv_mutex_unlock(&g->lock);
    return n;
}
