/* The connection pool: pool_size + max_overflow connections, checkout waits
 * up to pool_timeout_ms (DBCONN_ETIMEOUT), recycle and pre-ping. */
#ifndef DBCONN_POOL_H
#define DBCONN_POOL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "driver/driver.h"
#include "engine/options.h"
#include "engine/stmtcache.h"
#include "engine/waiter.h"

typedef struct dbc_pconn dbc_pconn;
struct dbc_pconn {
    dbc_conn *conn;       /* NULL until dbc_pool_prepare() connects it */
    dbc_stmtcache cache;
    uint64_t created_ms;  /* uv_hrtime()/1e6 when connected */
    dbc_pconn *next;      /* idle list */
    dbc_list all;         /* every connection of the pool */
    bool idle;
    /* Statement-cache lookups, written only by the connection's holder
     * (dbc_pconn_count_cache), read by dbc_pool_stats. */
    atomic_uint_fast64_t cache_hits, cache_misses;
};

typedef struct dbc_pool dbc_pool;

int dbc_pool_new(dbc_pool **out, const dbc_driver *drv, dbc_target *t,
                 const dbc_config *cfg);
/* Closes every connection; all must have been checked in. */
void dbc_pool_free(dbc_pool *p);

/* Blocking checkout: waits up to pool_timeout_ms, then DBCONN_ETIMEOUT.
 * The connection is ready (connected, recycled, pinged). */
int dbc_pool_checkout(dbc_pool *p, dbc_pconn **out);
/* Non-blocking: 0 with *out (call dbc_pool_prepare before use), 1 when
 * parked (w->ready(w, pconn) hands one over later), or DBCONN_ETIMEOUT when
 * pool_timeout_ms is 0 and none is free. */
int dbc_pool_acquire_or_park(dbc_pool *p, dbc_pconn **out, dbc_waiter *w);
/* Non-blocking and never waiting: 0 with *out (dbc_pool_prepare it), or 1
 * when none is free now (nothing is counted). */
int dbc_pool_try(dbc_pool *p, dbc_pconn **out);
/* 1 if w was still parked (now removed); 0 if a connection was already
 * handed to it.  Counts a timeout when it removes. */
int dbc_pool_unpark(dbc_pool *p, dbc_waiter *w);
/* Connects, recycles or pings as the configuration says (may block: run it
 * where blocking is allowed).  On failure, check the connection in with
 * discard = true. */
int dbc_pool_prepare(dbc_pool *p, dbc_pconn *c);
/* True when dbc_pool_prepare(p, c) would do nothing: c is connected, not
 * due for recycling, and no pre-ping is asked for (so nothing blocks). */
bool dbc_pool_prepared(const dbc_pool *p, const dbc_pconn *c);
/* Returns a connection (the caller rolled it back).  discard = close it. */
void dbc_pool_checkin(dbc_pool *p, dbc_pconn *c, bool discard);
/* Same, from an async job whose completion wakes the loop anyway (a parked
 * waiter is handed the connection through ready_quiet). */
void dbc_pool_checkin_quiet(dbc_pool *p, dbc_pconn *c, bool discard);
/* Interrupts the statements running on checked-out connections. */
void dbc_pool_interrupt_all(dbc_pool *p);
void dbc_pool_stats(dbc_pool *p, dbconn_stats *st);
/* Statement-cache accounting: the holder of c reports each lookup.  One
 * writer at a time (hand-overs go through the pool lock), so a relaxed load
 * and store do: no locked read-modify-write on the statement path. */
static inline void dbc_pconn_count_cache(dbc_pconn *c, bool hit) {
    atomic_uint_fast64_t *n = hit ? &c->cache_hits : &c->cache_misses;
    atomic_store_explicit(
        n, atomic_load_explicit(n, memory_order_relaxed) + 1,
        memory_order_relaxed);
}

#endif
