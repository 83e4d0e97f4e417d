/* Waiting without blocking: a session that needs a pooled connection or the
 * write gate parks a waiter; the releasing thread hands the resource over
 * through the ready list and the wake handle; a timer enforces
 * pool_timeout_ms / busy_timeout_ms (see async_int.h). */
#include "async/async_int.h"

/* Parked sessions wait in one list per kind of wait, each in deadline
 * order: a kind has one timeout, so a new deadline is nearly always the
 * latest of its list (inserting from the tail is O(1) in practice; retries
 * vary but are few), and the timer needs only the three heads. */
void dbc_async_rearm_timer(dbc_async *a) {
    uint64_t first = UINT64_MAX;
    for (int k = 0; k < 3; k++)
        if (a->parked[k].head && a->parked[k].head->deadline < first)
            first = a->parked[k].head->deadline;
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
    int k = state - AS_PARKED_POOL;
    as->state = state;
    as->plist = k;
    as->deadline = uv_hrtime() + (uint64_t)timeout_ms * 1000000u;
    if (state == AS_PARKED_GATE) { /* its grant may go to the releaser */
        uv_mutex_lock(&a->lock);
        as->no_steal = false;
        uv_mutex_unlock(&a->lock);
    }
    dbc_async_session *after = a->parked[k].tail;
    while (after && after->deadline > as->deadline)
        after = after->pprev;
    as->pprev = after;
    as->pnext = after ? after->pnext : a->parked[k].head;
    if (as->pnext)
        as->pnext->pprev = as;
    else
        a->parked[k].tail = as;
    if (after)
        after->pnext = as;
    else
        a->parked[k].head = as;
    dbc_async_rearm_timer(a);
}

void dbc_async_unlink_parked(dbc_async_session *as) {
    dbc_async *a = as->a;
    int k = as->plist;
    if (as->pprev)
        as->pprev->pnext = as->pnext;
    else if (a->parked[k].head == as)
        a->parked[k].head = as->pnext;
    else
        return; /* not in a list */
    if (as->pnext)
        as->pnext->pprev = as->pprev;
    else if (a->parked[k].tail == as)
        a->parked[k].tail = as->pprev;
    as->pprev = as->pnext = NULL;
}

/* ready() of the pool and the gate: any thread, no pool/gate lock held. */
static void granted(dbc_async_session *as, void *resource, int kind,
                    bool quiet) {
    dbc_async *a = as->a;
    uv_mutex_lock(&a->lock);
    as->grant = resource;
    as->grant_kind = kind;
    as->rnext = a->ready;
    a->ready = as;
    uv_mutex_unlock(&a->lock);
    if (!quiet) /* quiet: the releasing job's completion wakes the loop */
        uv_async_send(&a->wake);
}

void dbc_async_pool_ready(dbc_waiter *w, void *resource) {
    granted(CONTAINER(w, dbc_async_session, pool_w), resource, AS_PARKED_POOL,
            false);
}

void dbc_async_gate_ready(dbc_waiter *w, void *resource) {
    (void)resource;
    granted(CONTAINER(w, dbc_async_session, gate_w), NULL, AS_PARKED_GATE,
            false);
}

void dbc_async_pool_ready_quiet(dbc_waiter *w, void *resource) {
    granted(CONTAINER(w, dbc_async_session, pool_w), resource, AS_PARKED_POOL,
            true);
}

void dbc_async_gate_ready_quiet(dbc_waiter *w, void *resource) {
    (void)resource;
    granted(CONTAINER(w, dbc_async_session, gate_w), NULL, AS_PARKED_GATE,
            true);
}

/* Takes as out of its wait (the loop thread).  A gate grant may have been
 * taken by a worker already (DBC_TAKEN): the session runs, and the stealing
 * job's after_work settles it.  Otherwise no worker may take it from now
 * on: the loop decides what happens to its grant. */
int dbc_async_unpark(dbc_async_session *as) {
    dbc_async *a = as->a;
    dbconn *db = a->db;
    uv_mutex_lock(&a->lock);
    bool stolen = as->stolen;
    as->no_steal = true;
    uv_mutex_unlock(&a->lock);
    if (stolen) {
        dbc_async_unlink_parked(as); /* its deadline no longer applies */
        as->state = AS_RUNNING;
        dbc_async_rearm_timer(a);
        return DBC_TAKEN;
    }
    int still = as->state == AS_PARKED_RETRY ? 1
                : as->state == AS_PARKED_POOL
                    ? dbc_pool_unpark(db->pool, &as->pool_w)
                    : dbc_gate_unpark(&db->gate, &as->gate_w);
    if (still) {
        dbc_async_unlink_parked(as);
        as->state = AS_IDLE;
        dbc_async_rearm_timer(a);
        return DBC_UNPARKED;
    }
    /* Out of the deadline list now: its deadline no longer applies, and a
     * past deadline left at the head would re-fire the timer at once,
     * again and again, until the grant arrives. */
    dbc_async_unlink_parked(as);
    dbc_async_rearm_timer(a);
    as->state = AS_GRANTED;
    return DBC_GRANTED;
}

void dbc_async_park_retry(dbc_async_session *as) {
    static const int delays[] = {1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100};
    static const int ndelays = (int)(sizeof delays / sizeof *delays);
    int timeout = as->a->db->cfg.busy_timeout_ms;
    uint64_t now = uv_hrtime();
    if (as->busy_tries++ == 0)
        as->busy_since = now;
    int waited = (int)((now - as->busy_since) / 1000000u);
    int delay = delays[as->busy_tries <= ndelays ? as->busy_tries - 1
                                                 : ndelays - 1];
    if (waited + delay > timeout)
        delay = timeout > waited ? timeout - waited : 0;
    dbc_async_park(as, AS_PARKED_RETRY, delay);
}

/* A locked op's next try: again, or DBCONN_EBUSY past busy_timeout_ms. */
static void retry_due(dbc_async_session *p) {
    dbconn *db = p->a->db;
    dbc_async_unlink_parked(p);
    p->state = AS_IDLE;
    p->retry = false;
    if ((uv_hrtime() - p->busy_since) / 1000000u <
        (uint64_t)db->cfg.busy_timeout_ms) {
        dbc_async_schedule(p); /* runs the op again */
        return;
    }
    p->busy_tries = 0;
    dbc_fail(DBCONN_EBUSY,
             "database is locked by another connection: waited %d ms "
             "(busy_timeout_ms)",
             db->cfg.busy_timeout_ms);
    dbc_session_fail(p->s, DBCONN_EBUSY);
    dbc_session_abort(p->s);
    dbc_async_complete_head(p, DBCONN_EBUSY);
    dbc_async_schedule(p);
}

static void expire(dbc_async *a, int k, uint64_t now);

void dbc_async_on_timer(uv_timer_t *t) {
    dbc_async *a = CONTAINER(t, dbc_async, timer);
    uint64_t now = uv_hrtime();
    for (int k = 0; k < 3; k++)
        expire(a, k, now);
    dbc_async_rearm_timer(a);
}

/* Everything of list k whose deadline has passed. */
static void expire(dbc_async *a, int k, uint64_t now) {
    dbc_async_session *p = a->parked[k].head, *next;
    for (; p; p = next) {
        next = p->pnext;
        if (p->deadline > now)
            break; /* in deadline order */
        if (p->state == AS_PARKED_RETRY) {
            retry_due(p);
            continue;
        }
        if (p->state != AS_PARKED_POOL && p->state != AS_PARKED_GATE)
            continue;
        int state = p->state;
        if (dbc_async_unpark(p) != DBC_UNPARKED)
            continue; /* granted meanwhile: on_wake or a job takes it */
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
}


void dbc_async_on_wake(uv_async_t *h) {
    dbc_async *a = CONTAINER(h, dbc_async, wake);
    dbc_async_process_ready(a);
    dbc_async_start_throttled(a);
    dbc_async_deliver(a);
    dbc_async_maybe_finish_close(a);
}

/* Grants handed over by other threads (or quietly by a job) go to work. */
void dbc_async_process_ready(dbc_async *a) {
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
}
