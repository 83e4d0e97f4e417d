/* The async layer's operations: outcomes, the done list, and the delivery
 * of callbacks on the loop thread in the submitting task (see async_int.h). */
#include "util/alloc.h"
#include "async/async_int.h"
#include "model/base.h"

void dbc_op_free(dbc_op *op) {
    if (!op)
        return;
    dbconn_result_free(op->res);
    dbc_ddl_free(&op->ddl);
    dbc_free(op->errmsg);
    dbc_free(op);
}

/* Keeps the loop alive exactly while some accepted op awaits its callback
 * (like a uv_work_t would), or while close is in progress. */
void dbc_async_update_ref(dbc_async *a) {
    if (a->pending || a->closing)
        uv_ref((uv_handle_t *)&a->wake);
    else
        uv_unref((uv_handle_t *)&a->wake);
}

/* Moves a finished op to the done list (lock held by the caller). */
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

/* Records op's outcome; on failure keeps the message the callback will
 * read (through dbconn_errmsg and dbconn_session_errmsg). */
void dbc_op_set_outcome(dbc_op *op, int status, dbconn_result *res,
                        const char *msg, int native) {
    op->status = status;
    op->res = res;
    if (status < 0) {
        op->native = native;
        op->errmsg = dbc_strdup(msg && *msg ? msg : dbconn_strerror(status));
    }
}

/* Takes the head op of as off its queue as finished (lock held). */
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

/* Finishes the head op on the loop thread; its callback runs in a later
 * turn (dbc_async_on_wake). */
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

/* Queued (not running) ops of as get DBCONN_ECANCELED. */
void dbc_async_cancel_queued(dbc_async_session *as, const char *why) {
    dbc_async *a = as->a;
    bool any = false;
    uv_mutex_lock(&a->lock);
    /* What a started job took on (in flight) completes; the rest is queued. */
    dbc_op *keep = as->job_last ? as->job_last : as->running;
    dbc_op **pp = keep ? &keep->next : &as->head;
    dbc_op *op = *pp;
    *pp = NULL;
    as->tail = keep;
    while (op) {
        dbc_op *next = op->next;
        op->status = DBCONN_ECANCELED;
        op->errmsg = dbc_strdup(why);
        dbc_async_push_done_locked(a, op);
        any = true;
        op = next;
    }
    uv_mutex_unlock(&a->lock);
    if (any)
        dbc_async_kick(a);
}

/* Runs the callbacks of finished ops, each in its submitter's task. */
void dbc_async_deliver(dbc_async *a) {
    a->delivering++;
    for (;;) {
        uv_mutex_lock(&a->lock);
        dbc_op *op = a->done_head;
        if (op) {
            a->done_head = op->next;
            if (!a->done_head)
                a->done_tail = NULL;
            if (op->s && op->s->async)
                op->s->async->ndone--;
        }
        uv_mutex_unlock(&a->lock);
        if (!op)
            break;
        if (op->type == DBC_OP_INITDB && op->status == 0 && op->db) {
            int rc = dbc_base_bind(op->base, op->db);
            if (rc)
                dbc_op_set_outcome(op, rc, NULL, dbc_last_msg(), 0);
        }
        if (op->status < 0 && op->errmsg) {
            /* What the callback reads: dbconn_errmsg() and, while the
             * session lives, dbconn_session_errmsg() (later ops of the same
             * job may have written it since). */
            dbc_fail_native(op->status, op->native, "%s", op->errmsg);
            if (op->s) {
                /* Not while a job writes the session; under the lock, so a
                 * worker that chains the session later writes after us. */
                uv_mutex_lock(&a->lock);
                dbc_async_session *as = op->s->async;
                if (!as || (as->state != AS_RUNNING && !as->stolen))
                    dbc_session_fail(op->s, op->status);
                uv_mutex_unlock(&a->lock);
            }
        }
        void *prev = dbconn_task_enter(op->task);
        if (op->type == DBC_OP_EXEC) {
            dbconn_result *res = op->res;
            op->res = NULL; /* the callback owns it now */
            if (op->exec_cb)
                op->exec_cb(op->status, res, op->data);
            else
                dbconn_result_free(res);
        } else if (op->done_cb) {
            op->done_cb(op->status, op->data);
        }
        dbconn_task_leave(prev);
        if (op->own)
            dbc_session_free(op->own);
        dbc_op_free(op);
        a->pending--;
    }
    a->delivering--;
    dbc_async_update_ref(a);
}
