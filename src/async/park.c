/* Waiting without blocking (see park.h). */
#include "async/park.h"

/* Parked sessions wait in one list per kind of wait, each in deadline
 * order: a kind has one timeout, so a new deadline is nearly always the
 * latest of its list (inserting from the tail is O(1) in practice; retries
 * vary but are few), and the timer needs only the three heads. */
static dbc_async_session *parked_of(dbc_list *n) {
    return n ? DBC_LIST_ENTRY(n, dbc_async_session, parked) : NULL;
}

void dbc_async_rearm_timer(dbc_async *a) {
    uint64_t first = UINT64_MAX;
    for (int k = 0; k < 3; k++) {
        dbc_async_session *h = parked_of(dbc_list_first(&a->parked[k]));
        if (h && h->deadline < first)
            first = h->deadline;
    }
    if (first == UINT64_MAX) {
        uv_timer_stop(&a->timer);
        return;
    }
    uint64_t now = uv_hrtime();
    uint64_t ms = first > now ? (first - now + 999999) / 1000000 : 0;
    uv_timer_start(&a->timer, a->cbs.on_timer, ms, 0);
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
    dbc_list *at = &a->parked[k];
    for (dbc_list *n = dbc_list_last(&a->parked[k]); n;
         n = dbc_list_prev(&a->parked[k], n)) {
        if (parked_of(n)->deadline <= as->deadline) {
            at = n;
            break;
        }
    }
    dbc_list_insert_after(at, &as->parked);
    dbc_async_rearm_timer(a);
}

void dbc_async_unlink_parked(dbc_async_session *as) {
    dbc_list_remove(&as->parked);
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

static void pool_ready(dbc_waiter *w, void *resource) {
    granted(CONTAINER(w, dbc_async_session, pool_w), resource, AS_PARKED_POOL,
            false);
}

static void gate_ready(dbc_waiter *w, void *resource) {
    (void)resource;
    granted(CONTAINER(w, dbc_async_session, gate_w), NULL, AS_PARKED_GATE,
            false);
}

static void pool_ready_quiet(dbc_waiter *w, void *resource) {
    granted(CONTAINER(w, dbc_async_session, pool_w), resource, AS_PARKED_POOL,
            true);
}

static void gate_ready_quiet(dbc_waiter *w, void *resource) {
    (void)resource;
    granted(CONTAINER(w, dbc_async_session, gate_w), NULL, AS_PARKED_GATE,
            true);
}

void dbc_async_park_init(dbc_async_session *as) {
    as->pool_w.ready = pool_ready;
    as->pool_w.ready_quiet = pool_ready_quiet;
    as->gate_w.ready = gate_ready;
    as->gate_w.ready_quiet = gate_ready_quiet;
}

dbc_async_session *dbc_async_take_ready(dbc_async *a) {
    uv_mutex_lock(&a->lock);
    dbc_async_session *list = a->ready;
    a->ready = NULL;
    uv_mutex_unlock(&a->lock);
    return list;
}

/* A gate grant may have been taken by a worker already (DBC_TAKEN): the
 * session runs, and the stealing job's after_work settles it.  Otherwise
 * no worker may take it from now on: the loop decides what happens to its
 * grant. */
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
