/* Operations: outcomes, a session's queue and the dbconn's done list (see
 * state.h). */
#include "async/ops.h"
#include "util/alloc.h"

void dbc_op_free(dbc_async *a, dbc_op *op) {
    if (!op)
        return;
    if (op->type == DBC_OP_EXEC && op->u.sql)
        dbc_sqltext_put(&a->texts, op->u.sql);
    if (op->status < 0)
        dbc_free(op->out.errmsg);
    else
        dbconn_result_free(op->out.res);
    if (op->type == DBC_OP_CALL && op->u.call) {
        if (op->u.call->call.free)
            op->u.call->call.free(op->u.call->call.arg);
        dbc_free(op->u.call);
    }
    dbc_free(op);
}

void dbc_async_push_done_locked(dbc_async *a, dbc_op *op) {
    op->next = NULL;
    if (op->s && op->s->async)
        op->s->async->ndone++;
    if (a->done_tail)
        a->done_tail->next = op;
    else
        a->done_head = op;
    a->done_tail = op;
}

void dbc_op_set_outcome(dbc_op *op, int status, dbconn_result *res,
                        const char *msg, int native) {
    if (op->status >= 0)
        dbconn_result_free(op->out.res); /* (a settle turning it into a
                                            failure) */
    op->status = status;
    op->out.res = NULL;
    if (status < 0) {
        op->native = native;
        op->out.errmsg =
            dbc_strdup(msg && *msg ? msg : dbconn_strerror(status));
    } else {
        op->out.res = res;
    }
}

dbc_op *dbc_async_pop_head_locked(dbc_async_session *as) {
    dbc_op *op = as->head;
    as->head = op->next;
    if (!as->head)
        as->tail = NULL;
    if (as->running == op)
        as->running = NULL;
    if (as->job_last == op)
        as->job_last = NULL;
    return op;
}

void dbc_async_complete_head(dbc_async_session *as, int status) {
    dbc_async *a = as->a;
    uv_mutex_lock(&a->lock);
    dbc_op *op = dbc_async_pop_head_locked(as);
    uv_mutex_unlock(&a->lock);
    dbc_op_set_outcome(op, status, NULL, as->s ? as->s->errmsg : NULL,
                       as->s ? as->s->native : 0);
    uv_mutex_lock(&a->lock);
    dbc_async_push_done_locked(a, op);
    uv_mutex_unlock(&a->lock);
    dbc_async_kick(a);
}

void dbc_async_cancel_queued(dbc_async_session *as, const char *why) {
    dbc_async *a = as->a;
    bool any = false;
    uv_mutex_lock(&a->lock);
    /* While a pipeline has ops in flight (the loop policy), their
     * outcomes come first (FIFO): the rest is cancelled when it ends --
     * io.c sends nothing more once closing, and the scheduler and
     * finish_free call here again when the session is idle.  A job takes
     * on what is queued as it goes: its queue is cut now. */
    if (as->job_last && as->state == AS_IO) {
        uv_mutex_unlock(&a->lock);
        return;
    }
    /* What a started job took on (in flight) completes; the rest is queued. */
    dbc_op *keep = as->job_last ? as->job_last : as->running;
    dbc_op **pp = keep ? &keep->next : &as->head;
    dbc_op *op = *pp;
    *pp = NULL;
    as->tail = keep;
    while (op) {
        dbc_op *next = op->next;
        op->status = DBCONN_ECANCELED;
        op->out.errmsg = dbc_strdup(why);
        dbc_async_push_done_locked(a, op);
        any = true;
        op = next;
    }
    uv_mutex_unlock(&a->lock);
    if (any)
        dbc_async_kick(a);
}
