/* The queue pool.  Checkout takes an idle connection, opens a new one while
 * under pool_size + max_overflow, or waits (FIFO) up to pool_timeout_ms.
 * Checkin hands the connection straight to the first waiter, keeps it idle,
 * or closes it when it is overflow or discarded. */
#include <stdatomic.h>

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
    size_t cache_size;

    uv_mutex_t lock;
    dbc_pconn *idle;  /* LIFO: the warmest connection (and cache) first */
    dbc_list all;     /* every connection slot (dbc_pconn.all) */
    int total;        /* slots, connected or about to be */
    int checked_out;
    dbc_waitq waiters;
    uint64_t checkouts, timeouts;
    uint64_t hits, misses; /* of connections already closed */
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
    p->drv = drv;
    p->target = t;
    p->pool_size = cfg->pool_size;
    p->max_overflow = cfg->max_overflow;
    p->timeout_ms = cfg->pool_timeout_ms;
    p->recycle_s = cfg->pool_recycle_s;
    p->pre_ping = cfg->pool_pre_ping;
    p->cache_size = (size_t)cfg->statement_cache_size;
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

/* An idle connection or a new slot, counted as checked out (lock held):
 * 0, 1 when none can be had now (waiters go first), or DBCONN_ENOMEM. */
static int take_locked(dbc_pool *p, dbc_pconn **out) {
    dbc_pconn *c = p->idle;
    if (c && !dbc_waitq_head(&p->waiters)) {
        p->idle = c->next;
        c->next = NULL;
        c->idle = false;
    } else if (!at_limit(p) && !dbc_waitq_head(&p->waiters)) {
        if (!(c = new_slot(p)))
            return dbc_nomem();
    } else {
        return 1;
    }
    p->checked_out++;
    p->checkouts++;
    *out = c;
    return 0;
}

int dbc_pool_acquire_or_park(dbc_pool *p, dbc_pconn **out, dbc_waiter *w) {
    *out = NULL;
    uv_mutex_lock(&p->lock);
    int rc = take_locked(p, out);
    if (rc <= 0) {
        uv_mutex_unlock(&p->lock);
        return rc;
    }
    if (p->timeout_ms == 0 || !w) {
        p->timeouts++;
        uv_mutex_unlock(&p->lock);
        return dbc_fail(DBCONN_ETIMEOUT,
                        "connection pool exhausted: %d connections in use "
                        "(pool_size %d + max_overflow %d) and pool_timeout_ms "
                        "is 0",
                        p->checked_out, p->pool_size, p->max_overflow);
    }
    dbc_waitq_push(&p->waiters, w);
    uv_mutex_unlock(&p->lock);
    return 1;
}

int dbc_pool_try(dbc_pool *p, dbc_pconn **out) {
    *out = NULL;
    uv_mutex_lock(&p->lock);
    int rc = take_locked(p, out);
    uv_mutex_unlock(&p->lock);
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
            uv_mutex_unlock(&p->lock);
            return dbc_fail(DBCONN_ETIMEOUT,
                            "timed out after %d ms (pool_timeout_ms) waiting "
                            "for a pooled connection: %d in use (pool_size "
                            "%d + max_overflow %d)",
                            p->timeout_ms, p->checked_out, p->pool_size,
                            p->max_overflow);
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
    uv_mutex_lock(&p->lock);
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
        c->next = p->idle;
        c->idle = true;
        p->idle = c;
    }
    if (w) {
        p->checked_out++;
        p->checkouts++;
        if (w->ready == sync_ready) {
            sync_waiter *sw = (sync_waiter *)(void *)w;
            sw->granted = handed;
            uv_cond_signal(&sw->cond);
            w = NULL;
        }
    }
    uv_mutex_unlock(&p->lock);
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
