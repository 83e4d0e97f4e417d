/* The connection pool: pool_size + max_overflow connections, checkout waits
 * up to pool_timeout_ms (DBCONN_ETIMEOUT), recycle and pre-ping. */
#ifndef DBCONN_POOL_H
#define DBCONN_POOL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "driver/driver.h"
#include "engine/gate.h"
#include "engine/log.h"
#include "engine/options.h"
#include "engine/stmtcache.h"
#include "engine/waiter.h"

/* The statement a connection's holder last ran, for whoever asks who holds
 * it (dbconn_pool_holders, timeout messages, hold_warn_ms): the SQL text
 * only -- parameters are never recorded -- its first DBC_NOTE_MAX bytes as
 * they are (a reader collapses whitespace and marks a cut when it shows
 * them: the statement path only copies).  One writer (the holder); readers
 * on any thread.  A sequence lock over atomic words: the writer makes seq odd,
 * stores the words, makes it even; a reader retries while seq is odd or
 * changed under it.  No allocation, no lock on the statement path.  `gen`
 * is the checkout the text belongs to (dbc_pconn.out_gen): a note left by
 * an earlier holder is not shown, and a new holder that runs the same
 * cached statement again stores only that word. */
#define DBC_NOTE_MAX 128
typedef struct dbc_sqlnote {
    atomic_uint seq;
    atomic_uint gen;
    atomic_uint_least64_t w[DBC_NOTE_MAX / 8];
} dbc_sqlnote;

typedef struct dbc_pconn dbc_pconn;
struct dbc_pconn {
    dbc_conn *conn;       /* NULL until dbc_pool_prepare() connects it */
    dbc_stmtcache cache;
    uint64_t created_ms;  /* uv_hrtime()/1e6 when connected */
    dbc_list idle_link;   /* the idle list, most recently checked in first */
    dbc_list all;         /* every connection of the pool */
    bool idle;
    /* Pool lock: */
    uint64_t out_since;   /* uv_hrtime() of the checkout */
    uint64_t idle_since;  /* uv_hrtime() of the checkin */
    bool warned;          /* hold_warn_ms logged for this checkout */
    unsigned out_gen;     /* checkouts so far (the holder reads it) */
    /* Who holds it (dbc_pconn_claim; atomics: read by any thread). */
    _Atomic(const void *) holder;  /* the session (identity only) */
    _Atomic(void *) task;          /* its scope key; NULL: factory-made */
    dbc_sqlnote sql;
    uint64_t noted_hash;  /* the holders': the cached statement noted last
                             (skips noting the same text again) */
    unsigned noted_gen;   /* the checkout that noted it */
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

/* ---- who holds the connections ------------------------------------------ */

/* The holder of c (the session, identity only) and its scope key (NULL for
 * a factory-made session): set by the session layer once it holds c.  A
 * checkout's statement note starts empty. */
void dbc_pconn_claim(dbc_pconn *c, const void *holder, void *task);
/* The statement the holder runs now: `hash` identifies cached text (0:
 * not cached, always noted). */
void dbc_pconn_note_sql_slow(dbc_pconn *c, const char *sql);
static inline void dbc_pconn_note_sql(dbc_pconn *c, const char *sql,
                                      uint64_t hash) {
    if (hash && hash == c->noted_hash) { /* the same cached statement */
        if (c->noted_gen != c->out_gen) { /* as the previous holder's */
            c->noted_gen = c->out_gen;
            atomic_store_explicit(&c->sql.gen, c->out_gen,
                                  memory_order_relaxed);
        }
        return;
    }
    c->noted_hash = hash;
    c->noted_gen = c->out_gen;
    dbc_pconn_note_sql_slow(c, sql);
}

/* What dbconn_pool_holders reports of one checked-out connection. */
typedef struct dbc_holding {
    const void *holder;
    void *task;
    void (*name_key)(const void *key, char *buf, size_t cap); /* or NULL */
    uint64_t held_ns;      /* since the checkout */
    uint64_t gate_ns;      /* holding the write gate that long; 0: not */
    bool gate;
    char sql[DBC_NOTE_MAX];
} dbc_holding;

/* Up to cap of the checked-out connections, longest held first, into out;
 * returns how many are checked out (may exceed cap). */
size_t dbc_pool_holdings(dbc_pool *p, dbc_holding *out, size_t cap);
/* The checked-out connection held by `holder`: 1 with *out, or 0. */
int dbc_pool_holding_of(dbc_pool *p, const void *holder, dbc_holding *out);
/* One holder in words, for messages: "task 0x55d0c3a0 for 5012 ms (the
 * write gate for 5010 ms), last statement \"UPDATE t SET v = ?\"". */
void dbc_holding_describe(const dbc_holding *h, char *buf, size_t cap);
/* The holders of the checked-out connections in words (up to three,
 * longest held first, then "and N more"): "" when none. */
void dbc_pool_describe_holders(dbc_pool *p, char *buf, size_t cap);

/* ---- upkeep ------------------------------------------------------------- */

/* Where hold warnings go, and the write gate whose owner the holder
 * reports name (engine.c sets them after making the pool; lock order: the
 * pool's lock, then the gate's). */
void dbc_pool_set_log(dbc_pool *p, dbc_log *log, dbc_gate *gate);
/* How holder reports name a scope key (the top layer installs the scope
 * layer's; NULL: "task 0x..."). */
typedef void (*dbc_key_namer)(const void *key, char *buf, size_t cap);
void dbc_pool_set_key_namer(dbc_pool *p, dbc_key_namer name);
/* The periodic part of pool events (the async layer's timer calls it when
 * a loop exists): closes connections idle past pool_idle_timeout_s and
 * logs hold_warn_ms warnings that are due.  Any thread, no lock held. */
void dbc_pool_upkeep(dbc_pool *p);
/* How often dbc_pool_upkeep has work worth running, in ms; 0 = never (no
 * idle timeout, no hold warning configured). */
uint64_t dbc_pool_upkeep_interval_ms(const dbc_pool *p);
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
