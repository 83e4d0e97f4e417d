/* The write gate: one writer transaction at a time per engine.
 *
 * Sync writers block on a condition variable with a timeout; async writers
 * park a waiter that is handed the gate on release.  Handing the gate to the
 * next thread in strict FIFO order costs a context switch per transaction
 * (the releasing thread, wanting the gate for its next transaction, must
 * queue behind a waiter that is not even running yet).  So a free gate may
 * be taken by whoever asks first ("barging", as pthread mutexes allow) --
 * but only until the first sync waiter in line has been first for
 * BARGE_NS; after that the release hands the gate straight to it, which
 * bounds the unfairness (each waiter ahead of another can be overtaken for
 * BARGE_NS, then runs).  The clock starts when a waiter becomes first in
 * line, not when it queues: counted from the queueing, every waiter behind
 * the first would be due as soon as it reached the front, and the gate
 * would change hands at nearly every release (strict FIFO again); every
 * change of hands costs the new writer's page cache and a wake-up or a
 * poll.  Parked (async) waiters are always handed the gate directly: waking
 * a loop only to find the gate taken again would be pure cost.
 *
 * How the first waiter learns that the gate is free depends on how long
 * owners hold it (a moving average, hold_ns):
 *
 * - Brief holds (under POLL_HOLD_NS: commits that do not wait for the
 *   disk): one sync writer at a time polls (sched_yield, up to SPIN_NS)
 *   instead of sleeping, so that a release finds someone running who takes
 *   the gate at once: a newcomer when no one is queued, otherwise the first
 *   waiter.  When the poller takes the gate, the next waiter is woken to
 *   poll -- that wake-up overlaps the new owner's transaction instead of
 *   following it.  A release wakes a sleeping first waiter unless the
 *   first waiter itself polls (a polling newcomer may end up queueing
 *   behind it without taking the gate).  A poller takes the lock only
 *   when the change counter says the owner or the line changed.
 *
 * - Long holds (a commit that waits for an fsync): polling beside an fsync
 *   slows the flush, so the first waiter naps: it sleeps for two average
 *   holds (at most NAP_MAX_NS) and looks again, and a release does not
 *   wake it.  The thread that releases and writes again -- the usual case
 *   under contention -- takes the gate back without a system call in
 *   between, as with a mutex (a wake-up from the release would cost that
 *   thread time while the gate stands free); a gate nobody takes back is
 *   noticed within a nap.  Only the first waiter naps; the others sleep
 *   until it leaves the line, when the next one is woken.  When the first
 *   waiter will be due within two holds (and holds are under NAP_MAX_NS)
 *   it polls for the release, so the hand-over finds it running instead
 *   of asleep.
 *
 * The figures behind these choices, against raw SQLite with a pthread
 * mutex around each transaction: docs/performance.md. */
#include <sched.h>

#include "util/error.h"
#include "engine/gate.h"

#define BARGE_NS ((uint64_t)5000000u)   /* 5 ms */
#define SPIN_NS ((uint64_t)300000u)     /* 300 us */
#define POLL_HOLD_NS ((uint64_t)50000u) /* 50 us */
#define NAP_MAX_NS ((uint64_t)500000u)  /* 500 us */

int dbc_gate_init(dbc_gate *g) {
    g->owner = NULL;
    dbc_waitq_init(&g->waiters);
    g->waits = 0;
    g->polls = 0;
    g->wakeups = 0;
    g->naps = 0;
    g->taken_at = 0;
    g->hold_ns = 0;
    g->first_since = 0;
    g->barge_ns = BARGE_NS;
    g->spinning = false;
    g->first_polls = false;
    g->describe = NULL;
    g->describe_data = NULL;
    atomic_init(&g->changes, 0);
    return uv_mutex_init(&g->lock) ? dbc_nomem() : 0;
}

void dbc_gate_destroy(dbc_gate *g) { uv_mutex_destroy(&g->lock); }

/* A blocking waiter: the gate signals its condition variable, either to
 * hand it the gate (granted) or to let it try (the gate is free). */
typedef struct sync_waiter {
    dbc_waiter w; /* first member */
    uv_cond_t cond;
    bool granted;
    bool napping; /* first in line, asleep on its own short timer */
} sync_waiter;

static void sync_ready(dbc_waiter *w, void *resource) {
    (void)w;
    (void)resource; /* the gate sets `granted` under its lock */
}

static bool is_sync(const dbc_waiter *w) { return w->ready == sync_ready; }

static sync_waiter *as_sync(dbc_waiter *w) {
    return w && is_sync(w) ? (sync_waiter *)(void *)w : NULL;
}

static void wake(dbc_gate *g, sync_waiter *sw) {
    g->wakeups++;
    uv_cond_signal(&sw->cond);
}

/* Polling pays while the gate changes hands every few microseconds. */
static bool worth_polling(const dbc_gate *g) {
    return g->hold_ns < POLL_HOLD_NS;
}

/* Has the first in line been overtaken long enough (lock held)? */
static bool first_due(const dbc_gate *g, uint64_t now) {
    return now - g->first_since >= g->barge_ns;
}

/* May a newcomer take the free gate now (lock held)? */
static bool may_take(dbc_gate *g) {
    if (g->owner)
        return false;
    if (!dbc_waitq_head(&g->waiters))
        return true;
    return as_sync(dbc_waitq_head(&g->waiters)) && !first_due(g, uv_hrtime());
}

/* Lock held: the owner or the line changed (see dbc_gate.changes). */
static void changed(dbc_gate *g) {
    atomic_store_explicit(
        &g->changes,
        atomic_load_explicit(&g->changes, memory_order_relaxed) + 1,
        memory_order_relaxed);
}

static void join_line(dbc_gate *g, dbc_waiter *w) {
    if (!dbc_waitq_head(&g->waiters))
        g->first_since = uv_hrtime();
    dbc_waitq_push(&g->waiters, w);
    changed(g);
}

/* Takes w out of the line (lock held).  The waiter that becomes first
 * starts the overtaking clock and, if it sleeps (sync), is woken: to poll
 * or nap as the first, or to take a free gate. */
static void leave_line(dbc_gate *g, dbc_waiter *w) {
    bool was_first = dbc_waitq_head(&g->waiters) == w;
    dbc_waitq_remove(&g->waiters, w);
    changed(g);
    if (!was_first || !dbc_waitq_head(&g->waiters))
        return;
    g->first_since = uv_hrtime();
    sync_waiter *next = as_sync(dbc_waitq_head(&g->waiters));
    if (next)
        wake(g, next);
}

/* The gate has just become free (lock held, `now` = uv_hrtime()): let the
 * first waiter have it.  Returns a parked waiter to call ready() on once
 * the lock is released. */
static dbc_waiter *pass_on(dbc_gate *g, uint64_t now) {
    dbc_waiter *next = dbc_waitq_head(&g->waiters);
    if (!next)
        return NULL;
    sync_waiter *sw = as_sync(next);
    if (!sw || first_due(g, now)) { /* parked, or overtaken enough */
        leave_line(g, next);
        g->owner = next->owner;
        changed(g);
        g->taken_at = now;
        if (!sw)
            return next;
        sw->granted = true;
        wake(g, sw);
    } else if (!g->first_polls && !sw->napping) {
        /* Free to try.  Only the first waiter's own polling or napping
         * makes this wake-up needless: a newcomer that polls may yet queue
         * behind it (the first became due meanwhile) and take nothing. */
        wake(g, sw);
    }
    return NULL;
}

/* Lock held: while holds are brief and no one polls, the first waiter (if
 * it is a sleeping sync writer) is woken to poll for the next release.  A
 * spurious wake-up costs a loop turn. */
static void wake_poller(dbc_gate *g) {
    sync_waiter *first = as_sync(dbc_waitq_head(&g->waiters));
    if (first && !first->napping && !g->spinning && worth_polling(g))
        wake(g, first);
}

static void take(dbc_gate *g, const void *owner) {
    g->owner = owner;
    changed(g);
    g->taken_at = uv_hrtime();
    wake_poller(g);
}

/* Polls until `done` says so or `until` (lock held; released while
 * yielding).  One poller at a time: see g->spinning. */
static void poll_gate(dbc_gate *g,
                      bool (*done)(const dbc_gate *g, const sync_waiter *sw),
                      const sync_waiter *sw, uint64_t until) {
    g->spinning = true;
    g->first_polls = sw != NULL;
    g->polls++;
    while (!done(g, sw) && uv_hrtime() < until) {
        unsigned seen = atomic_load_explicit(&g->changes, memory_order_relaxed);
        uv_mutex_unlock(&g->lock);
        do /* the lock only once something changed */
            sched_yield();
        while (atomic_load_explicit(&g->changes, memory_order_relaxed) ==
                   seen &&
               uv_hrtime() < until);
        uv_mutex_lock(&g->lock);
    }
    g->spinning = false;
    g->first_polls = false;
}

/* A newcomer stops polling when it may take the gate, or queues as soon as
 * someone else does. */
static bool newcomer_done(const dbc_gate *g, const sync_waiter *sw) {
    (void)sw;
    return !g->owner || dbc_waitq_head(&g->waiters);
}

/* The first waiter stops when the gate is free, or was handed to it. */
static bool first_done(const dbc_gate *g, const sync_waiter *sw) {
    return !g->owner || sw->granted || dbc_waitq_head(&g->waiters) != &sw->w;
}

/* How long the first waiter polls for the release from now (0: it does
 * not), lock held.  While holds are brief, for SPIN_NS; while they are
 * long, only when it will be due within two holds: for up to four. */
static uint64_t poll_for(const dbc_gate *g, uint64_t now) {
    if (worth_polling(g))
        return SPIN_NS;
    if (g->hold_ns < NAP_MAX_NS &&
        now + 2 * g->hold_ns >= g->first_since + g->barge_ns)
        return 4 * g->hold_ns;
    return 0;
}

/* The first waiter's nap while holds are long: two average holds. */
static uint64_t nap_for(const dbc_gate *g) {
    uint64_t nap = 2 * g->hold_ns;
    return nap < NAP_MAX_NS ? nap : NAP_MAX_NS;
}

/* The timeout's message, naming the owner the waiter last saw (no lock
 * held: describe takes the pool's). */
static int timed_out(dbc_gate *g, const void *owner, int timeout_ms) {
    char who[900] = "";
    if (owner && g->describe)
        g->describe(g->describe_data, owner, who, sizeof who);
    if (timeout_ms <= 0)
        return dbc_fail(DBCONN_EBUSY, "another session of this engine holds "
                        "the write lock (busy_timeout_ms is 0)%s%s",
                        who[0] ? "; held by " : "", who);
    return dbc_fail(DBCONN_EBUSY,
                    "waited %d ms (busy_timeout_ms) for another session of "
                    "this engine to finish writing%s%s",
                    timeout_ms, who[0] ? "; held by " : "", who);
}

/* Waits in line (lock held) until sw has the gate (0) or the deadline
 * passes (DBCONN_EBUSY; *handed: a parked waiter to hand the free gate). */
static int wait_in_line(dbc_gate *g, sync_waiter *sw, uint64_t deadline,
                        const void **holder, dbc_waiter **handed) {
    bool polled = false; /* once per wake-up: then sleep */
    for (;;) {
        bool first = dbc_waitq_head(&g->waiters) == &sw->w;
        if (sw->granted) {
            take(g, sw->w.owner); /* already ours: wake the next poller */
            return 0;
        }
        if (!g->owner && first) { /* free: ours to take */
            leave_line(g, &sw->w);
            take(g, sw->w.owner);
            return 0;
        }
        uint64_t now = uv_hrtime();
        uint64_t spin = first && !polled && !g->spinning && g->owner
                            ? poll_for(g, now)
                            : 0;
        if (spin) {
            polled = true;
            poll_gate(g, first_done, sw,
                      now + spin < deadline ? now + spin : deadline);
            continue;
        }
        polled = false;
        if (now >= deadline) {
            *holder = g->owner;
            leave_line(g, &sw->w);
            /* If the gate is free, the next waiter may have it now. */
            *handed = g->owner ? NULL : pass_on(g, now);
            return DBCONN_EBUSY; /* the caller says so: timed_out */
        }
        uint64_t wait = deadline - now;
        sw->napping = first && !worth_polling(g);
        if (sw->napping) {
            g->naps++;
            if (nap_for(g) < wait)
                wait = nap_for(g);
        }
        (void)uv_cond_timedwait(&sw->cond, &g->lock, wait);
        sw->napping = false;
    }
}

int dbc_gate_acquire(dbc_gate *g, const void *owner, int timeout_ms) {
    uv_mutex_lock(&g->lock);
    /* One writer at a time may poll for a short while before it queues: a
     * commit is often over within SPIN_NS, and a thread that takes the gate
     * by itself needs no wake-up by the releaser. */
    if (!may_take(g) && !dbc_waitq_head(&g->waiters) && !g->spinning && timeout_ms > 0 &&
        worth_polling(g))
        poll_gate(g, newcomer_done, NULL, uv_hrtime() + SPIN_NS);
    if (may_take(g)) {
        take(g, owner);
        uv_mutex_unlock(&g->lock);
        return 0;
    }
    g->waits++;
    if (timeout_ms <= 0) {
        const void *holder = g->owner;
        uv_mutex_unlock(&g->lock);
        return timed_out(g, holder, 0);
    }
    sync_waiter sw = {.w = {.ready = sync_ready, .owner = owner}};
    uint64_t deadline = uv_hrtime() + (uint64_t)timeout_ms * 1000000u;
    /* A newcomer that stopped polling hands the role on: while holds are
     * brief, the first waiter polls next. */
    wake_poller(g);
    if (uv_cond_init(&sw.cond)) {
        uv_mutex_unlock(&g->lock);
        return dbc_nomem();
    }
    join_line(g, &sw.w);
    dbc_waiter *handed = NULL;
    const void *holder = NULL;
    int rc = wait_in_line(g, &sw, deadline, &holder, &handed);
    uv_mutex_unlock(&g->lock);
    uv_cond_destroy(&sw.cond);
    if (handed)
        handed->ready(handed, NULL);
    return rc ? timed_out(g, holder, timeout_ms) : 0;
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
    join_line(g, w);
    uv_mutex_unlock(&g->lock);
    return 1;
}

int dbc_gate_unpark(dbc_gate *g, dbc_waiter *w) {
    uv_mutex_lock(&g->lock);
    int parked = dbc_waiter_queued(w);
    if (parked)
        leave_line(g, w);
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
    changed(g);
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

void dbc_gate_owner(dbc_gate *g, const void **owner, uint64_t *since) {
    uv_mutex_lock(&g->lock);
    *owner = g->owner;
    *since = g->taken_at;
    uv_mutex_unlock(&g->lock);
}
