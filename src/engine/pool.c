/* The queue pool.  Checkout takes an idle connection (the most recently
 * checked in with pool_use_lifo, the default; the longest idle without),
 * opens a new one while under pool_size + max_overflow, or waits (FIFO) up
 * to pool_timeout_ms.  Checkin hands the connection straight to the first
 * waiter, keeps it idle, or closes it when it is overflow or discarded.
 *
 * The idle reaper: every checkout and checkin (and the async layer's upkeep
 * timer, when a loop exists) closes the connections idle longer than
 * pool_idle_timeout_s.  The idle list is ordered by checkin time, so the
 * reaper looks only at its tail.
 *
 * Who holds a connection: the pool records when it was checked out; the
 * holder records itself, its scope key, the write gate and the statement it
 * runs (pool.h: dbc_pconn_claim, dbc_sqlnote).  Pool timeouts name the
 * holders; with hold_warn_ms, a connection held past it is logged once per
 * checkout, at the next pool event (or upkeep tick) or at its checkin. */
#include <inttypes.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"
#include "util/error.h"
#include "engine/pool.h"

struct dbc_pool {
    const dbc_driver *drv;
    dbc_target *target;
    int pool_size;    /* -1 = no limit */
    int max_overflow; /* -1 = unlimited */
    int timeout_ms;
    int recycle_s;
    bool pre_ping;
    bool lifo;
    uint64_t idle_timeout_ns; /* 0 = never */
    uint64_t warn_ns;         /* hold_warn_ms; 0 = off */
    size_t cache_size;
    dbc_log *log;             /* hold warnings; NULL = none */
    dbc_gate *gate;           /* whose owner holder reports name; or NULL */
    dbc_key_namer name_key;   /* how they name a scope key; or NULL */

    uv_mutex_t lock;
    dbc_list idle;    /* dbc_pconn.idle_link, most recently checked in
                         first */
    dbc_list all;     /* every connection slot (dbc_pconn.all) */
    int total;        /* slots, connected or about to be */
    int checked_out;
    dbc_waitq waiters;
    uint64_t checkouts, timeouts;
    uint64_t hits, misses; /* of connections already closed */
    uint64_t reaped, warnings;
};

int dbc_pool_new(dbc_pool **out, const dbc_driver *drv, dbc_target *t,
                 const dbc_config *cfg) {
    *out = NULL;
    dbc_pool *p = dbc_calloc(1, sizeof *p);
    if (!p)
        return dbc_nomem();
    if (uv_mutex_init(&p->lock)) {
        dbc_free(p);
        return dbc_nomem();
    }
    dbc_waitq_init(&p->waiters);
    dbc_list_init(&p->all);
    dbc_list_init(&p->idle);
    p->drv = drv;
    p->target = t;
    p->pool_size = cfg->pool_size;
    p->max_overflow = cfg->max_overflow;
    p->timeout_ms = cfg->pool_timeout_ms;
    p->recycle_s = cfg->pool_recycle_s;
    p->pre_ping = cfg->pool_pre_ping;
    p->cache_size = (size_t)cfg->statement_cache_size;
    p->lifo = cfg->pool_use_lifo;
    p->idle_timeout_ns = (uint64_t)cfg->pool_idle_timeout_s * 1000000000u;
    p->warn_ns = (uint64_t)cfg->hold_warn_ms * 1000000u;
    *out = p;
    return 0;
}

static void close_conn(dbc_pool *p, dbc_pconn *c) {
    dbc_stmtcache_clear(&c->cache);
    p->drv->disconnect(c->conn);
    dbc_free(c);
}

void dbc_pool_free(dbc_pool *p) {
    if (!p)
        return;
    dbc_list *n, *next;
    DBC_LIST_FOREACH_SAFE(n, next, &p->all) /* all checked in by now */
        close_conn(p, DBC_LIST_ENTRY(n, dbc_pconn, all));
    uv_mutex_destroy(&p->lock);
    dbc_free(p);
}

static bool at_limit(const dbc_pool *p) {
    if (p->pool_size < 0 || p->max_overflow < 0)
        return false;
    return p->total >= p->pool_size + p->max_overflow;
}

/* A new, unconnected slot (lock held). */
static dbc_pconn *new_slot(dbc_pool *p) {
    dbc_pconn *c = dbc_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    dbc_stmtcache_init(&c->cache, p->drv, p->cache_size);
    atomic_init(&c->cache_hits, 0);
    atomic_init(&c->cache_misses, 0);
    dbc_list_push_front(&p->all, &c->all);
    p->total++;
    return c;
}

static void drop_slot(dbc_pool *p, dbc_pconn *c) {
    /* Checked in: nobody counts on c any more. */
    p->hits += atomic_load_explicit(&c->cache_hits, memory_order_relaxed);
    p->misses += atomic_load_explicit(&c->cache_misses, memory_order_relaxed);
    dbc_list_remove(&c->all);
    p->total--;
}

/* ---- the statement note (pool.h: dbc_sqlnote) ---------------------------- */

/* The writer's side, on the statement path: the first DBC_NOTE_MAX bytes
 * as they are (no NUL among them: the text was longer).  Rendering is the
 * reader's (note_read). */
static void note_store(dbc_sqlnote *n, const char *text, unsigned gen) {
    uint_least64_t w[DBC_NOTE_MAX / 8];
    size_t len = strnlen(text, DBC_NOTE_MAX);
    /* The words up to the one holding the NUL (the bytes after it are
     * never read); all of them when the text fills the note. */
    size_t words = len < DBC_NOTE_MAX ? len / 8 + 1 : DBC_NOTE_MAX / 8;
    w[words - 1] = 0;
    memcpy(w, text, len);
    unsigned seq = atomic_load_explicit(&n->seq, memory_order_relaxed);
    atomic_store_explicit(&n->seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&n->gen, gen, memory_order_relaxed);
    for (size_t i = 0; i < words; i++)
        atomic_store_explicit(&n->w[i], w[i], memory_order_relaxed);
    atomic_store_explicit(&n->seq, seq + 2, memory_order_release);
}

/* The note's bytes as shown: whitespace and control runs as one space, cut
 * (on a UTF-8 boundary) with "..." when the text was longer than fits. */
static void note_render(const char *raw, char *out) {
    size_t len = strnlen(raw, DBC_NOTE_MAX);
    bool cut = len == DBC_NOTE_MAX;
    const size_t room = DBC_NOTE_MAX - 4; /* for "..." and the NUL */
    size_t n = 0;
    bool space = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)raw[i];
        if (c <= 0x20 || c == 0x7f) {
            space = n > 0;
            continue;
        }
        if (n + (space ? 2 : 1) > room) {
            cut = true;
            break;
        }
        if (space)
            out[n++] = ' ';
        space = false;
        out[n++] = (char)c;
    }
    if (cut) {
        while (n > 0 && ((unsigned char)out[n - 1] & 0xC0) == 0x80)
            n--; /* not in the middle of a UTF-8 character */
        if (n > 0 && (unsigned char)out[n - 1] >= 0xC0)
            n--;
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

/* The note as shown into out, "" when it is not checkout `gen`'s. */
static void note_read(dbc_sqlnote *n, unsigned gen, char *out) {
    uint_least64_t w[DBC_NOTE_MAX / 8];
    for (int tries = 0; tries < 10000; tries++) {
        if (tries >= 64)
            sched_yield(); /* the writer may have been preempted mid-way */
        unsigned seq = atomic_load_explicit(&n->seq, memory_order_acquire);
        if (seq & 1u)
            continue;
        unsigned g = atomic_load_explicit(&n->gen, memory_order_relaxed);
        for (size_t i = 0; i < DBC_NOTE_MAX / 8; i++)
            w[i] = atomic_load_explicit(&n->w[i], memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&n->seq, memory_order_relaxed) == seq) {
            char raw[DBC_NOTE_MAX];
            memcpy(raw, w, sizeof raw);
            if (g == gen)
                note_render(raw, out);
            else
                out[0] = '\0'; /* an earlier checkout's */
            return;
        }
    }
    (void)snprintf(out, DBC_NOTE_MAX, "(changing)");
}

void dbc_pconn_note_sql_slow(dbc_pconn *c, const char *sql) {
    note_store(&c->sql, sql, c->out_gen);
}

void dbc_pconn_claim(dbc_pconn *c, const void *holder, void *task) {
    atomic_store_explicit(&c->holder, holder, memory_order_relaxed);
    atomic_store_explicit(&c->task, task, memory_order_relaxed);
}

/* c is checked out now (lock held): counted, timed, its holder unknown
 * until it claims it. */
static void out_locked(dbc_pool *p, dbc_pconn *c) {
    p->checked_out++;
    p->checkouts++;
    c->out_since = uv_hrtime();
    c->warned = false;
    c->out_gen++; /* the note is an earlier checkout's now */
    atomic_store_explicit(&c->holder, NULL, memory_order_relaxed);
    atomic_store_explicit(&c->task, NULL, memory_order_relaxed);
}

/* ---- holders ------------------------------------------------------------- */

/* The write gate's owner and since when (pool lock held: then the gate's). */
typedef struct gate_peek {
    const void *owner;
    uint64_t since;
} gate_peek;

static gate_peek peek_gate(dbc_pool *p) {
    gate_peek g = {NULL, 0};
    if (p->gate)
        dbc_gate_owner(p->gate, &g.owner, &g.since);
    return g;
}

static void holding_locked(dbc_pool *p, dbc_pconn *c, uint64_t now,
                           const gate_peek *g, dbc_holding *h) {
    h->name_key = p->name_key;
    h->holder = atomic_load_explicit(&c->holder, memory_order_relaxed);
    h->task = atomic_load_explicit(&c->task, memory_order_relaxed);
    h->held_ns = now > c->out_since ? now - c->out_since : 0;
    h->gate = h->holder && g->owner == h->holder;
    h->gate_ns = h->gate && now > g->since ? now - g->since : 0;
    note_read(&c->sql, c->out_gen, h->sql);
}

void dbc_holding_describe(const dbc_holding *h, char *buf, size_t cap) {
    char gate[64] = "";
    if (h->gate)
        (void)snprintf(gate, sizeof gate, " (the write gate for %" PRIu64
                       " ms)", h->gate_ns / 1000000u);
    char who[64];
    if (h->task && h->name_key)
        h->name_key(h->task, who, sizeof who);
    else if (h->task)
        (void)snprintf(who, sizeof who, "task %p", h->task);
    else if (h->holder)
        (void)snprintf(who, sizeof who, "session %p", h->holder);
    else
        (void)snprintf(who, sizeof who, "a session starting a transaction");
    if (h->sql[0])
        (void)snprintf(buf, cap, "%s for %" PRIu64 " ms%s, last statement "
                       "\"%s\"", who, h->held_ns / 1000000u, gate, h->sql);
    else
        (void)snprintf(buf, cap, "%s for %" PRIu64 " ms%s, no statement yet",
                       who, h->held_ns / 1000000u, gate);
}

/* The checked-out connections, longest held first (lock held). */
static size_t holdings_locked(dbc_pool *p, dbc_holding *out, size_t cap) {
    uint64_t now = uv_hrtime();
    gate_peek g = peek_gate(p);
    size_t n = 0, k = 0;
    for (dbc_list *l = dbc_list_first(&p->all); l;
         l = dbc_list_next(&p->all, l)) {
        dbc_pconn *c = DBC_LIST_ENTRY(l, dbc_pconn, all);
        if (c->idle)
            continue;
        n++;
        if (!cap)
            continue;
        dbc_holding h;
        holding_locked(p, c, now, &g, &h);
        /* Insertion by held time, keeping the cap longest. */
        size_t at = k;
        while (at > 0 && out[at - 1].held_ns < h.held_ns)
            at--;
        if (at >= cap)
            continue;
        size_t last = k < cap ? k : cap - 1;
        memmove(out + at + 1, out + at, (last - at) * sizeof *out);
        out[at] = h;
        if (k < cap)
            k++;
    }
    return n;
}

size_t dbc_pool_holdings(dbc_pool *p, dbc_holding *out, size_t cap) {
    uv_mutex_lock(&p->lock);
    size_t n = holdings_locked(p, out, cap);
    uv_mutex_unlock(&p->lock);
    return n;
}

int dbc_pool_holding_of(dbc_pool *p, const void *holder, dbc_holding *out) {
    int found = 0;
    uint64_t now = uv_hrtime();
    uv_mutex_lock(&p->lock);
    gate_peek g = peek_gate(p);
    for (dbc_list *l = dbc_list_first(&p->all); l && !found;
         l = dbc_list_next(&p->all, l)) {
        dbc_pconn *c = DBC_LIST_ENTRY(l, dbc_pconn, all);
        if (!c->idle && atomic_load_explicit(&c->holder, memory_order_relaxed) ==
                            holder) {
            holding_locked(p, c, now, &g, out);
            found = 1;
        }
    }
    uv_mutex_unlock(&p->lock);
    return found;
}

#define DESCRIBED 3 /* holders named in a message */

static void describe_locked(dbc_pool *p, char *buf, size_t cap) {
    dbc_holding h[DESCRIBED];
    size_t n = holdings_locked(p, h, DESCRIBED);
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && i < DESCRIBED && len + 1 < cap; i++) {
        if (i)
            len += (size_t)snprintf(buf + len, cap - len, "; ");
        if (len + 1 < cap)
            dbc_holding_describe(&h[i], buf + len, cap - len);
        len += strlen(buf + len);
    }
    if (n > DESCRIBED && len + 1 < cap)
        (void)snprintf(buf + len, cap - len, "; and %zu more",
                       n - DESCRIBED);
}

void dbc_pool_describe_holders(dbc_pool *p, char *buf, size_t cap) {
    uv_mutex_lock(&p->lock);
    describe_locked(p, buf, cap);
    uv_mutex_unlock(&p->lock);
}

/* ---- pool events: the reaper and the hold warnings ------------------------ */

#define WARNS 4 /* hold warnings one event logs at most */

typedef struct pool_event {
    dbc_list doomed;          /* reaped connections (idle_link), to close */
    dbc_holding warn[WARNS];  /* to log */
    size_t nwarn;
} pool_event;

/* Without pool_idle_timeout_s and hold_warn_ms an event costs this and
 * two tests (event_locked, event_end). */
static inline void event_init(pool_event *ev) {
    dbc_list_init(&ev->doomed);
    ev->nwarn = 0;
}

/* Lock held: c, checked out, is due a hold warning? Then it gets one. */
static void warn_check(dbc_pool *p, pool_event *ev, dbc_pconn *c,
                       uint64_t now) {
    if (!p->warn_ns || c->warned || ev->nwarn == WARNS ||
        now - c->out_since < p->warn_ns)
        return;
    c->warned = true;
    p->warnings++;
    gate_peek g = peek_gate(p);
    holding_locked(p, c, now, &g, &ev->warn[ev->nwarn++]);
}

/* Lock held: what every pool event does -- the reaper, the warnings due. */
static void event_run_locked(dbc_pool *p, pool_event *ev) {
    uint64_t now = uv_hrtime();
    dbc_list *n;
    while (p->idle_timeout_ns && (n = dbc_list_last(&p->idle)) != NULL) {
        dbc_pconn *c = DBC_LIST_ENTRY(n, dbc_pconn, idle_link);
        if (now - c->idle_since < p->idle_timeout_ns)
            break; /* the rest were checked in later */
        dbc_list_remove(&c->idle_link);
        c->idle = false;
        drop_slot(p, c);
        p->reaped++;
        dbc_list_push_back(&ev->doomed, &c->idle_link);
    }
    if (!p->warn_ns)
        return;
    for (dbc_list *l = dbc_list_first(&p->all); l && ev->nwarn < WARNS;
         l = dbc_list_next(&p->all, l)) {
        dbc_pconn *c = DBC_LIST_ENTRY(l, dbc_pconn, all);
        if (!c->idle)
            warn_check(p, ev, c, now);
    }
}

static inline void event_locked(dbc_pool *p, pool_event *ev) {
    if (p->idle_timeout_ns || p->warn_ns)
        event_run_locked(p, ev);
}

/* No lock held: closes what was reaped, logs the warnings. */
static void event_finish(dbc_pool *p, pool_event *ev) {
    dbc_list *n, *next;
    DBC_LIST_FOREACH_SAFE(n, next, &ev->doomed)
        close_conn(p, DBC_LIST_ENTRY(n, dbc_pconn, idle_link));
    for (size_t i = 0; i < ev->nwarn && p->log; i++) {
        char what[512];
        dbc_holding_describe(&ev->warn[i], what, sizeof what);
        dbc_log_printf(p->log, DBCONN_LOG_WARN,
                       "dbconn.pool: a pooled connection held longer than "
                       "hold_warn_ms (%" PRIu64 " ms): held by %s",
                       p->warn_ns / 1000000u, what);
    }
}

void dbc_pool_set_key_namer(dbc_pool *p, dbc_key_namer name) {
    p->name_key = name;
}

static inline void event_end(dbc_pool *p, pool_event *ev) {
    if (ev->nwarn || !dbc_list_empty(&ev->doomed))
        event_finish(p, ev);
}

void dbc_pool_set_log(dbc_pool *p, dbc_log *log, dbc_gate *gate) {
    p->log = log;
    p->gate = gate;
}

void dbc_pool_upkeep(dbc_pool *p) {
    pool_event ev;
    event_init(&ev);
    uv_mutex_lock(&p->lock);
    event_locked(p, &ev);
    uv_mutex_unlock(&p->lock);
    event_end(p, &ev);
}

uint64_t dbc_pool_upkeep_interval_ms(const dbc_pool *p) {
    uint64_t ms = 0;
    if (p->idle_timeout_ns)
        ms = p->idle_timeout_ns / 1000000u / 4;
    if (p->warn_ns && (!ms || p->warn_ns / 1000000u / 4 < ms))
        ms = p->warn_ns / 1000000u / 4;
    return ms ? (ms < 10 ? 10 : ms > 60000 ? 60000 : ms) : 0;
}

/* An idle connection or a new slot, counted as checked out (lock held):
 * 0, 1 when none can be had now (waiters go first), or DBCONN_ENOMEM. */
static int take_locked(dbc_pool *p, dbc_pconn **out) {
    dbc_list *n = p->lifo ? dbc_list_first(&p->idle) : dbc_list_last(&p->idle);
    dbc_pconn *c = n ? DBC_LIST_ENTRY(n, dbc_pconn, idle_link) : NULL;
    if (c && !dbc_waitq_head(&p->waiters)) {
        dbc_list_remove(&c->idle_link);
        c->idle = false;
    } else if (!at_limit(p) && !dbc_waitq_head(&p->waiters)) {
        if (!(c = new_slot(p)))
            return dbc_nomem();
    } else {
        return 1;
    }
    out_locked(p, c);
    *out = c;
    return 0;
}

#define HOLDERS_MAX 800 /* bytes of a message naming the holders */

int dbc_pool_acquire_or_park(dbc_pool *p, dbc_pconn **out, dbc_waiter *w) {
    *out = NULL;
    pool_event ev;
    event_init(&ev);
    uv_mutex_lock(&p->lock);
    event_locked(p, &ev);
    int rc = take_locked(p, out);
    if (rc <= 0) {
        uv_mutex_unlock(&p->lock);
        event_end(p, &ev);
        return rc;
    }
    if (p->timeout_ms == 0 || !w) {
        p->timeouts++;
        char holders[HOLDERS_MAX];
        describe_locked(p, holders, sizeof holders);
        int in_use = p->checked_out;
        uv_mutex_unlock(&p->lock);
        event_end(p, &ev);
        return dbc_fail(DBCONN_ETIMEOUT,
                        "connection pool exhausted: %d connections in use "
                        "(pool_size %d + max_overflow %d) and pool_timeout_ms "
                        "is 0; held by: %s",
                        in_use, p->pool_size, p->max_overflow, holders);
    }
    dbc_waitq_push(&p->waiters, w);
    uv_mutex_unlock(&p->lock);
    event_end(p, &ev);
    return 1;
}

int dbc_pool_try(dbc_pool *p, dbc_pconn **out) {
    *out = NULL;
    pool_event ev;
    event_init(&ev);
    uv_mutex_lock(&p->lock);
    event_locked(p, &ev);
    int rc = take_locked(p, out);
    uv_mutex_unlock(&p->lock);
    event_end(p, &ev);
    return rc;
}

int dbc_pool_unpark(dbc_pool *p, dbc_waiter *w) {
    uv_mutex_lock(&p->lock);
    int parked = dbc_waiter_queued(w);
    if (parked) {
        dbc_waitq_remove(&p->waiters, w);
        p->timeouts++;
    }
    uv_mutex_unlock(&p->lock);
    return parked;
}

/* A blocking waiter; `granted` is set under the pool lock. */
typedef struct sync_waiter {
    dbc_waiter w; /* first member */
    uv_cond_t cond;
    dbc_pconn *granted;
} sync_waiter;

static void sync_ready(dbc_waiter *w, void *resource) {
    (void)w;
    (void)resource;
}

static int wait_sync(dbc_pool *p, sync_waiter *sw) {
    uint64_t deadline = uv_hrtime() + (uint64_t)p->timeout_ms * 1000000u;
    uv_mutex_lock(&p->lock);
    while (!sw->granted) {
        uint64_t now = uv_hrtime();
        if (now < deadline)
            uv_cond_timedwait(&sw->cond, &p->lock, deadline - now);
        if (!sw->granted && uv_hrtime() >= deadline) {
            if (dbc_waiter_queued(&sw->w)) {
                dbc_waitq_remove(&p->waiters, &sw->w);
                p->timeouts++;
            }
            char holders[HOLDERS_MAX];
            describe_locked(p, holders, sizeof holders);
            int in_use = p->checked_out;
            uv_mutex_unlock(&p->lock);
            return dbc_fail(DBCONN_ETIMEOUT,
                            "timed out after %d ms (pool_timeout_ms) waiting "
                            "for a pooled connection: %d in use (pool_size "
                            "%d + max_overflow %d), held by: %s",
                            p->timeout_ms, in_use, p->pool_size,
                            p->max_overflow, holders);
        }
    }
    uv_mutex_unlock(&p->lock);
    return 0;
}

/* None free at the first try: park a waiter (with its condition variable)
 * and wait; 0 with *out, or a failure. */
static int checkout_wait(dbc_pool *p, dbc_pconn **out) {
    sync_waiter sw = {.w = {.ready = sync_ready}};
    if (uv_cond_init(&sw.cond))
        return dbc_nomem();
    int rc = dbc_pool_acquire_or_park(p, out, &sw.w);
    if (rc == 1) {
        rc = wait_sync(p, &sw);
        *out = sw.granted;
    }
    uv_cond_destroy(&sw.cond);
    return rc;
}

int dbc_pool_checkout(dbc_pool *p, dbc_pconn **out) {
    dbc_pconn *c = NULL;
    /* Usually one is free: no waiter (and no condition variable to make)
     * unless it is needed. */
    int rc = dbc_pool_try(p, &c);
    if (rc == 1)
        rc = checkout_wait(p, &c);
    if (rc < 0) {
        *out = NULL;
        return rc;
    }
    rc = dbc_pool_prepare(p, c);
    if (rc) {
        dbc_pool_checkin(p, c, true);
        *out = NULL;
        return rc;
    }
    *out = c;
    return 0;
}

static uint64_t now_ms(void) { return uv_hrtime() / 1000000u; }

static int connect_slot(dbc_pool *p, dbc_pconn *c) {
    dbc_conn *conn = NULL;
    int rc = p->drv->connect(p->target, &conn);
    if (rc)
        return rc;
    uv_mutex_lock(&p->lock); /* interrupt_all reads c->conn under the lock */
    c->conn = conn;
    c->created_ms = now_ms();
    uv_mutex_unlock(&p->lock);
    return 0;
}

static void disconnect_slot(dbc_pool *p, dbc_pconn *c) {
    uv_mutex_lock(&p->lock);
    dbc_conn *conn = c->conn;
    c->conn = NULL;
    uv_mutex_unlock(&p->lock);
    dbc_stmtcache_clear(&c->cache);
    p->drv->disconnect(conn);
}

int dbc_pool_prepare(dbc_pool *p, dbc_pconn *c) {
    /* Too old, or dead when pinged: reconnect below. */
    if (c->conn && ((p->recycle_s > 0 && now_ms() - c->created_ms >=
                                             (uint64_t)p->recycle_s * 1000u) ||
                    (p->pre_ping && p->drv->ping(c->conn) != 0)))
        disconnect_slot(p, c);
    if (!c->conn)
        return connect_slot(p, c);
    return 0;
}

bool dbc_pool_prepared(const dbc_pool *p, const dbc_pconn *c) {
    return c->conn && !p->pre_ping &&
           !(p->recycle_s > 0 &&
             now_ms() - c->created_ms >= (uint64_t)p->recycle_s * 1000u);
}

static void checkin(dbc_pool *p, dbc_pconn *c, bool discard, bool quiet);

void dbc_pool_checkin(dbc_pool *p, dbc_pconn *c, bool discard) {
    checkin(p, c, discard, false);
}

void dbc_pool_checkin_quiet(dbc_pool *p, dbc_pconn *c, bool discard) {
    checkin(p, c, discard, true);
}

static void checkin(dbc_pool *p, dbc_pconn *c, bool discard, bool quiet) {
    dbc_waiter *w = NULL;
    dbc_pconn *handed = NULL, *closing = NULL;
    pool_event ev;
    event_init(&ev);
    uv_mutex_lock(&p->lock);
    /* Its own warning first: a hand-over below starts a new checkout. */
    if (p->warn_ns)
        warn_check(p, &ev, c, uv_hrtime());
    p->checked_out--;
    if (discard) {
        drop_slot(p, c);
        closing = c;
        if (dbc_waitq_head(&p->waiters) && (handed = new_slot(p)) != NULL)
            w = dbc_waitq_pop(&p->waiters);
    } else if (dbc_waitq_head(&p->waiters)) {
        w = dbc_waitq_pop(&p->waiters);
        handed = c;
    } else if (p->pool_size >= 0 && p->total > p->pool_size) {
        drop_slot(p, c); /* overflow: close it */
        closing = c;
    } else {
        dbc_list_push_front(&p->idle, &c->idle_link);
        c->idle = true;
        if (p->idle_timeout_ns) /* (the clock only when it matters) */
            c->idle_since = uv_hrtime();
        atomic_store_explicit(&c->holder, NULL, memory_order_relaxed);
    }
    if (w) {
        out_locked(p, handed); /* a new checkout */
        if (w->ready == sync_ready) {
            sync_waiter *sw = (sync_waiter *)(void *)w;
            sw->granted = handed;
            uv_cond_signal(&sw->cond);
            w = NULL;
        }
    }
    event_locked(p, &ev);
    uv_mutex_unlock(&p->lock);
    event_end(p, &ev);
    if (closing)
        close_conn(p, closing);
    if (w && quiet && w->ready_quiet)
        w->ready_quiet(w, handed);
    else if (w)
        w->ready(w, handed);
}

void dbc_pool_interrupt_all(dbc_pool *p) {
    uv_mutex_lock(&p->lock);
    for (dbc_list *n = dbc_list_first(&p->all); n;
         n = dbc_list_next(&p->all, n)) {
        dbc_pconn *c = DBC_LIST_ENTRY(n, dbc_pconn, all);
        if (!c->idle && c->conn)
            p->drv->interrupt(c->conn);
    }
    uv_mutex_unlock(&p->lock);
}

void dbc_pool_stats(dbc_pool *p, dbconn_stats *st) {
    uv_mutex_lock(&p->lock);
    st->size = p->total;
    st->checked_out = p->checked_out;
    st->overflow = p->pool_size >= 0 && p->total > p->pool_size
                       ? p->total - p->pool_size
                       : 0;
    st->waiters = p->waiters.count;
    st->checkouts = p->checkouts;
    st->timeouts = p->timeouts;
    st->cache_hits = p->hits;
    st->cache_misses = p->misses;
    st->reaped = p->reaped;
    st->hold_warnings = p->warnings;
    for (dbc_list *n = dbc_list_first(&p->all); n;
         n = dbc_list_next(&p->all, n)) {
        dbc_pconn *c = DBC_LIST_ENTRY(n, dbc_pconn, all);
        st->cache_hits +=
            atomic_load_explicit(&c->cache_hits, memory_order_relaxed);
        st->cache_misses +=
            atomic_load_explicit(&c->cache_misses, memory_order_relaxed);
    }
    uv_mutex_unlock(&p->lock);
}
