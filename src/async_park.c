/* Waiting without blocking: a session that needs a pooled connection or the
 * write gate parks a waiter; the releasing thread hands the resource over
 * through the ready list and the wake handle; a timer enforces
 * pool_timeout_ms / busy_timeout_ms (see async_int.h). */
#include "async_int.h"

void dbc_async_rearm_timer(dbc_async *a) {
    uint64_t first = UINT64_MAX;
    for (dbc_async_session *p = a->parked; p; p = p->pnext)
        if (p->deadline < first)
            first = p->deadline;
    if (first == UINT64_MAX) {
        uv_timer_stop(&a->timer);
        return;
    }
    uint64_t now = uv_hrtime();
    uint64_t ms = first > now ? (first - now + 999999) / 1000000 : 0;
    uv_timer_start(&a->timer, dbc_async_on_timer, ms, 0);
}

void dbc_async_park(dbc_async_session *as, int state, int timeout_ms) {
    dbc_async *a = as->a;
    as->state = state;
    as->deadline = uv_hrtime() + (uint64_t)timeout_ms * 1000000u;
    as->pprev = NULL;
    as->pnext = a->parked;
    if (a->parked)
        a->parked->pprev = as;
    a->parked = as;
    dbc_async_rearm_timer(a);
}

void dbc_async_unlink_parked(dbc_async_session *as) {
    dbc_async *a = as->a;
    if (as->pprev)
        as->pprev->pnext = as->pnext;
    else if (a->parked == as)
        a->parked = as->pnext;
    if (as->pnext)
        as->pnext->pprev = as->pprev;
    as->pprev = as->pnext = NULL;
}

/* ready() of the pool and the gate: any thread, no pool/gate lock held. */
static void granted(dbc_async_session *as, void *resource, int kind) {
    dbc_async *a = as->a;
    uv_mutex_lock(&a->lock);
    as->grant = resource;
    as->grant_kind = kind;
    as->rnext = a->ready;
    a->ready = as;
    uv_mutex_unlock(&a->lock);
    uv_async_send(&a->wake);
}

void dbc_async_pool_ready(dbc_waiter *w, void *resource) {
    granted(CONTAINER(w, dbc_async_session, pool_w), resource, AS_PARKED_POOL);
}

void dbc_async_gate_ready(dbc_waiter *w, void *resource) {
    (void)resource;
    granted(CONTAINER(w, dbc_async_session, gate_w), NULL, AS_PARKED_GATE);
}

/* Takes as out of its wait; returns false when the grant is already on its
 * way (it will arrive through the ready list and must be given back). */
bool dbc_async_unpark(dbc_async_session *as) {
    dbconn *db = as->a->db;
    int still = as->state == AS_PARKED_POOL
                    ? dbc_pool_unpark(db->pool, &as->pool_w)
                    : dbc_gate_unpark(&db->gate, &as->gate_w);
    if (still) {
        dbc_async_unlink_parked(as);
        as->state = AS_IDLE;
        dbc_async_rearm_timer(as->a);
        return true;
    }
    as->state = AS_GRANTED;
    return false;
}

void dbc_async_on_timer(uv_timer_t *t) {
    dbc_async *a = CONTAINER(t, dbc_async, timer);
    uint64_t now = uv_hrtime();
    dbc_async_session *p = a->parked, *next;
    for (; p; p = next) {
        next = p->pnext;
        if (p->deadline > now || (p->state != AS_PARKED_POOL &&
                                  p->state != AS_PARKED_GATE))
            continue;
        int state = p->state;
        if (!dbc_async_unpark(p))
            continue; /* granted meanwhile: on_wake takes it */
        dbconn *db = a->db;
        if (state == AS_PARKED_POOL)
            dbc_fail(DBCONN_ETIMEOUT,
                     "timed out after %d ms (pool_timeout_ms) waiting for a "
                     "pooled connection",
                     db->cfg.pool_timeout_ms);
        else
            dbc_fail(DBCONN_EBUSY,
                     "waited %d ms (busy_timeout_ms) for another session of "
                     "this engine to finish writing",
                     db->cfg.busy_timeout_ms);
        int code = state == AS_PARKED_POOL ? DBCONN_ETIMEOUT : DBCONN_EBUSY;
        p->need_gate = false; /* what needed it failed; a rollback won't */
        dbc_session_fail(p->s, code);
        dbc_session_abort(p->s);
        dbc_async_complete_head(p, code);
        dbc_async_schedule(p);
    }
    dbc_async_rearm_timer(a);
}


void dbc_async_on_wake(uv_async_t *h) {
    dbc_async *a = CONTAINER(h, dbc_async, wake);
    uv_mutex_lock(&a->lock);
    dbc_async_session *list = a->ready;
    a->ready = NULL;
    uv_mutex_unlock(&a->lock);
    while (list) {
        dbc_async_session *as = list;
        list = as->rnext;
        as->rnext = NULL;
        dbc_async_unlink_parked(as);
        dbconn_session *s = as->s;
        if (as->cancelled) { /* nobody wants it any more: give it back */
            if (as->grant_kind == AS_PARKED_POOL)
                dbc_pool_checkin(a->db->pool, as->grant, false);
            else
                dbc_gate_release(&a->db->gate, s);
            as->cancelled = false;
            a->grants_expected--;
            as->state = AS_IDLE;
            if (as->free_pending)
                dbc_async_finish_free(as);
            continue;
        }
        if (as->grant_kind == AS_PARKED_POOL) {
            s->pc = as->grant;
            as->pc_fresh = true;
        } else {
            s->holds_gate = true;
        }
        as->state = AS_IDLE;
        dbc_async_schedule(as);
    }
    dbc_async_rearm_timer(a);
    dbc_async_start_throttled(a);
    dbc_async_deliver(a);
    dbc_async_maybe_finish_close(a);
}
