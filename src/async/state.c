/* The async layer's state and its small lifetimes (see state.h). */
#include <stdlib.h>

#include "async/state.h"
#include "util/alloc.h"

/* libuv's thread-pool size, as libuv itself reads it (default 4). */
static int pool_threads(void) {
    const char *v = getenv("UV_THREADPOOL_SIZE");
    long n = v ? strtol(v, NULL, 10) : 4;
    return n < 1 ? 4 : n > 1024 ? 1024 : (int)n;
}

/* The pool's periodic upkeep while the loop runs (dbc_pool_upkeep). */
static void on_upkeep(uv_timer_t *t) {
    dbc_async *a = CONTAINER(t, dbc_async, upkeep);
    if (a->db && !a->closing)
        dbc_pool_upkeep(a->db->pool);
}

int dbc_async_state_new(dbconn *db, const dbc_async_loop_cbs *cbs,
                        dbc_async **out) {
    dbc_async *a = dbc_calloc(1, sizeof *a);
    if (!a)
        return dbc_nomem();
    a->db = db;
    a->cbs = *cbs;
    a->loop = db->cfg.loop ? db->cfg.loop : uv_default_loop();
    a->thread = uv_thread_self();
    a->max_inflight = pool_threads();
    a->inline_policy = db->cfg.execution_policy == DBCONN_EXEC_INLINE;
    a->loop_policy = db->drv->io &&
                     (db->cfg.execution_policy == DBCONN_EXEC_LOOP ||
                      db->cfg.execution_policy == DBCONN_EXEC_DEFAULT);
    dbc_sqltexts_init(&a->texts);
    for (int k = 0; k < 3; k++)
        dbc_list_init(&a->parked[k]);
    dbc_list_init(&a->all);
    if (!a->loop || uv_mutex_init(&a->lock)) {
        dbc_free(a);
        return dbc_fail(DBCONN_ENOMEM, "cannot set up the libuv loop");
    }
    if (uv_async_init(a->loop, &a->wake, cbs->on_wake)) {
        uv_mutex_destroy(&a->lock);
        dbc_free(a);
        return dbc_fail(DBCONN_ENOMEM, "uv_async_init failed");
    }
    uv_timer_init(a->loop, &a->timer);
    uv_idle_init(a->loop, &a->starter);
    uv_timer_init(a->loop, &a->upkeep);
    a->handles_open = 4;
    uv_unref((uv_handle_t *)&a->wake);
    uint64_t every = dbc_pool_upkeep_interval_ms(db->pool);
    if (every) {
        uv_timer_start(&a->upkeep, on_upkeep, every, every);
        uv_unref((uv_handle_t *)&a->upkeep); /* never keeps the loop alive */
    }
    *out = a;
    return 0;
}

dbc_async_session *dbc_async_state_of(dbconn_session *s, dbc_async *a,
                                      const dbc_session_hooks *hooks) {
    if (s->async)
        return s->async;
    dbc_async_session *as = dbc_calloc(1, sizeof *as);
    if (!as)
        return NULL;
    as->a = a;
    as->s = s;
    dbc_list_push_front(&a->all, &as->all);
    s->async = as;
    s->hooks = hooks;
    return as;
}

static void poll_closed(uv_handle_t *h) { dbc_free(h); }

void dbc_async_close_poll(dbc_async_session *as) {
    if (as->poll) /* freed once closed */
        uv_close((uv_handle_t *)as->poll, poll_closed);
    as->poll = NULL;
}

void dbc_async_free_state(dbc_async_session *as) {
    dbc_async *a = as->a;
    dbc_async_close_poll(as); /* (stopped: the session is idle) */
    uv_mutex_lock(&a->lock); /* its finished ops no longer point at it */
    for (dbc_op *op = as->ndone ? a->done_head : NULL; op; op = op->next)
        if (op->s == as->s)
            op->s = NULL;
    uv_mutex_unlock(&a->lock);
    dbc_list_remove(&as->all);
    if (as->release_due) {
        dbc_async_session **pp = &a->kept;
        while (*pp != as)
            pp = &(*pp)->kept_next;
        *pp = as->kept_next;
    }
    if (as->to_start) {
        dbc_async_session **pp = &a->start_list, *prev = NULL;
        while (*pp != as)
            prev = *pp, pp = &(*pp)->snext;
        *pp = as->snext;
        if (a->start_tail == as)
            a->start_tail = prev;
    }
    as->s->async = NULL;
    as->s->hooks = NULL;
    dbc_free(as);
}

void dbc_async_update_ref(dbc_async *a) {
    if (a->pending || a->closing)
        uv_ref((uv_handle_t *)&a->wake);
    else
        uv_unref((uv_handle_t *)&a->wake);
}

/* On the loop thread, the idle handle brings the next turn without a
 * syscall (uv_async_send writes an eventfd); other threads use the wake. */
void dbc_async_kick(dbc_async *a) { uv_idle_start(&a->starter, a->cbs.on_start); }

void dbc_async_count_job_locked(dbc_async *a) {
    a->jobs++;
    if ((uint64_t)a->inflight + 1 > a->peak)
        a->peak = (uint64_t)a->inflight + 1;
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
