/* The async layer's lifetimes: the dbconn's async state, each session's
 * state, submission, session close and dbconn close (see async_int.h). */
#include <stdlib.h>

#include "util/alloc.h"
#include "async/async_int.h"

/* libuv's thread-pool size, as libuv itself reads it (default 4). */
static int pool_threads(void) {
    const char *v = getenv("UV_THREADPOOL_SIZE");
    long n = v ? strtol(v, NULL, 10) : 4;
    return n < 1 ? 4 : n > 1024 ? 1024 : (int)n;
}

void dbc_async_stats(dbconn *db, dbconn_stats *st) {
    dbc_async *a = db->async;
    if (!a)
        return;
    uv_mutex_lock(&a->lock);
    st->async_jobs = a->jobs;
    st->async_peak = a->peak;
    st->async_chained = a->chained;
    uv_mutex_unlock(&a->lock);
}

int dbc_async_get(dbconn *db, dbc_async **out) {
    if (db->async) {
        *out = db->async;
        if (!uv_thread_equal(&db->async->thread, &(uv_thread_t){uv_thread_self()}))
            return dbc_fail(DBCONN_EINVAL,
                            "async calls must be made on the thread that "
                            "runs the dbconn's loop");
        return 0;
    }
    dbc_async *a = dbc_calloc(1, sizeof *a);
    if (!a)
        return dbc_nomem();
    a->db = db;
    a->loop = db->cfg.loop ? db->cfg.loop : uv_default_loop();
    a->thread = uv_thread_self();
    a->max_inflight = pool_threads();
    a->inline_policy = db->cfg.execution_policy == DBCONN_EXEC_INLINE;
    if (!a->loop || uv_mutex_init(&a->lock)) {
        dbc_free(a);
        return dbc_fail(DBCONN_ENOMEM, "cannot set up the libuv loop");
    }
    if (uv_async_init(a->loop, &a->wake, dbc_async_on_wake)) {
        uv_mutex_destroy(&a->lock);
        dbc_free(a);
        return dbc_fail(DBCONN_ENOMEM, "uv_async_init failed");
    }
    uv_timer_init(a->loop, &a->timer);
    uv_idle_init(a->loop, &a->starter);
    a->handles_open = 3;
    uv_unref((uv_handle_t *)&a->wake);
    db->async = a;
    *out = a;
    return 0;
}

static dbc_async_session *state_of(dbconn_session *s, dbc_async *a) {
    if (s->async)
        return s->async;
    dbc_async_session *as = dbc_calloc(1, sizeof *as);
    if (!as)
        return NULL;
    as->a = a;
    as->s = s;
    as->pool_w.ready = dbc_async_pool_ready;
    as->pool_w.ready_quiet = dbc_async_pool_ready_quiet;
    as->gate_w.ready = dbc_async_gate_ready;
    as->gate_w.ready_quiet = dbc_async_gate_ready_quiet;
    as->anext = a->all;
    if (a->all)
        a->all->aprev = as;
    a->all = as;
    s->async = as;
    return as;
}

void dbc_async_free_state(dbc_async_session *as) {
    dbc_async *a = as->a;
    uv_mutex_lock(&a->lock); /* its finished ops no longer point at it */
    for (dbc_op *op = as->ndone ? a->done_head : NULL; op; op = op->next)
        if (op->s == as->s)
            op->s = NULL;
    uv_mutex_unlock(&a->lock);
    if (as->aprev)
        as->aprev->anext = as->anext;
    else if (a->all == as)
        a->all = as->anext;
    if (as->anext)
        as->anext->aprev = as->aprev;
    if (as->to_start) {
        dbc_async_session **pp = &a->start_list, *prev = NULL;
        while (*pp != as)
            prev = *pp, pp = &(*pp)->snext;
        *pp = as->snext;
        if (a->start_tail == as)
            a->start_tail = prev;
    }
    as->s->async = NULL;
    dbc_free(as);
}

int dbc_async_submit(dbconn_session *s, dbc_op *op) {
    dbc_async *a = NULL;
    int rc = dbc_async_get(s->db, &a);
    if (rc)
        return rc;
    dbc_async_session *as = state_of(s, a);
    if (!as)
        return dbc_nomem();
    if (as->free_pending)
        return dbc_fail(DBCONN_ECLOSED, "the session is being closed");
    op->task = dbconn_current_task();
    op->s = s;
    op->next = NULL;
    uv_mutex_lock(&a->lock);
    if (as->tail)
        as->tail->next = op;
    else
        as->head = op;
    as->tail = op;
    uv_mutex_unlock(&a->lock);
    a->pending++;
    dbc_async_update_ref(a);
    dbc_async_start_later(as);
    return 0;
}

bool dbc_async_session_busy(const dbconn_session *s) {
    const dbc_async_session *as = s->async;
    /* An idle session has no job that could be changing its queue. */
    return as && (as->state != AS_IDLE || as->head);
}

void dbc_async_session_drop(dbconn_session *s) {
    if (s->async && s->async->state == AS_IDLE && !s->async->head)
        dbc_async_free_state(s->async);
}

int dbc_async_session_close(dbconn_session *s) {
    dbc_async_session *as = s->async;
    if (!as)
        return 0;
    if (as->free_pending)
        return 1;
    dbc_async_cancel_queued(as, "the session was closed before this operation ran");
    switch (as->state) {
    case AS_THROTTLED: {
        dbc_async *a = as->a;
        dbc_async_session **pp = &a->qhead, *prev = NULL;
        while (*pp && *pp != as)
            prev = *pp, pp = &(*pp)->qnext;
        if (*pp)
            *pp = as->qnext;
        if (a->qtail == as)
            a->qtail = prev;
        as->state = AS_IDLE;
        break;
    }
    case AS_PARKED_POOL:
    case AS_PARKED_GATE:
    case AS_PARKED_RETRY:
        switch (dbc_async_unpark(as)) {
        case DBC_GRANTED:
            as->cancelled = true;
            as->a->grants_expected++;
            as->free_pending = true;
            return 1;
        case DBC_TAKEN: /* running in another session's job */
            as->free_pending = true;
            return 1;
        default:
            break;
        }
        break;
    case AS_GRANTED:
        as->cancelled = true;
        as->a->grants_expected++;
        as->free_pending = true;
        return 1;
    case AS_RUNNING:
        as->free_pending = true;
        return 1;
    default:
        break;
    }
    dbc_async_free_state(as);
    return 0;
}

static void handle_closed(uv_handle_t *h) {
    dbc_async *a = h->data;
    if (--a->handles_open > 0)
        return;
    dbconn_done_cb cb = a->close_cb;
    void *data = a->close_data;
    int err = a->close_err;
    uv_mutex_destroy(&a->lock);
    dbc_free(a);
    if (cb)
        cb(err, data);
}


void dbc_async_maybe_finish_close(dbc_async *a) {
    if (!a->closing || a->torn_down || a->delivering || a->inflight ||
        a->grants_expected || a->qhead)
        return;
    dbc_async_deliver(a); /* the cancelled ops, before the memory goes */
    if (a->delivering || a->inflight)
        return;
    a->torn_down = true;
    dbconn *db = a->db;
    db->async = NULL; /* sessions' states go with the teardown below */
    a->close_err = dbc_engine_teardown(db, a->close_err);
    a->db = NULL;
    a->wake.data = a;
    a->timer.data = a;
    a->starter.data = a;
    uv_close((uv_handle_t *)&a->wake, handle_closed);
    uv_close((uv_handle_t *)&a->timer, handle_closed);
    uv_close((uv_handle_t *)&a->starter, handle_closed);
}

int dbc_async_close(dbconn *db, int first, dbconn_done_cb cb, void *data) {
    dbc_async *a = db->async;
    a->closing = true;
    a->close_err = first;
    a->close_cb = cb;
    a->close_data = data;
    for (dbc_async_session *as = a->all; as; as = as->anext) {
        dbc_async_cancel_queued(as, "the dbconn was closed before this operation ran");
        if (as->state == AS_PARKED_POOL || as->state == AS_PARKED_GATE ||
            as->state == AS_PARKED_RETRY) {
            if (dbc_async_unpark(as) == DBC_GRANTED) {
                as->cancelled = true;
                a->grants_expected++;
            } /* DBC_TAKEN: in flight in another session's job */
        } else if (as->state == AS_GRANTED && !as->cancelled) {
            as->cancelled = true;
            a->grants_expected++;
        }
    }
    while (a->qhead) { /* throttled: nothing of theirs will run now */
        dbc_async_session *as = a->qhead;
        a->qhead = as->qnext;
        as->qnext = NULL;
        as->state = AS_IDLE;
    }
    a->qtail = NULL;
    if (!a->pending && !a->inflight && !a->grants_expected && !a->delivering &&
        !cb) {
        /* Nothing to call back: tear down now and report the result; only
         * the handles' memory waits for the loop. */
        dbc_async_maybe_finish_close(a);
        return a->close_err;
    }
    dbc_async_update_ref(a);
    dbc_async_kick(a); /* the rest happens in later loop turns */
    return first;
}
