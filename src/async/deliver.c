/* Delivery of callbacks (see state.h).  Never from inside a submitting
 * call: the done list is only walked from the loop's own callbacks. */
#include "async/deliver.h"
#include "async/ops.h"
#include "scope/task.h"

/* What the callback of a failed op reads: dbconn_errmsg() and, while the
 * session lives, dbconn_session_errmsg() (later ops of the same job may
 * have written it since). */
static void restore_message(dbc_async *a, dbc_op *op) {
    dbc_fail_native(op->status, op->native, "%s", op->out.errmsg);
    if (!op->s)
        return;
    /* Not while a job writes the session; under the lock, so a worker that
     * chains the session later writes after us. */
    uv_mutex_lock(&a->lock);
    dbc_async_session *as = op->s->async;
    if (!as || (as->state != AS_RUNNING && !as->stolen))
        dbc_session_fail(op->s, op->status);
    uv_mutex_unlock(&a->lock);
}

static dbc_op *pop_done(dbc_async *a) {
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
    return op;
}

void dbc_async_deliver(dbc_async *a) {
    a->delivering++;
    dbc_op *op;
    while ((op = pop_done(a)) != NULL) {
        dbc_op_call *call = op->type == DBC_OP_CALL ? op->u.call : NULL;
        if (call && op->status == 0 && call->call.settle) {
            int rc = call->call.settle(call->call.arg);
            if (rc)
                dbc_op_set_outcome(op, rc, NULL, dbc_last_msg(), 0);
        }
        if (op->status < 0 && op->out.errmsg)
            restore_message(a, op);
        void *prev = dbconn_task_enter(op->task);
        if (op->type == DBC_OP_EXEC) {
            dbconn_result *res = op->status >= 0 ? op->out.res : NULL;
            if (op->status >= 0)
                op->out.res = NULL; /* the callback owns it now */
            if (op->cb.exec)
                op->cb.exec(op->status, res, op->data);
            else
                dbconn_result_free(res);
        } else if (op->cb.done) {
            op->cb.done(op->status, op->data);
        }
        dbconn_task_leave(prev);
        if (call && call->own)
            dbc_session_free(call->own);
        dbc_op_free(a, op);
        a->pending--;
    }
    a->delivering--;
    dbc_async_update_ref(a);
}
