/* Jobs: a session's queue run on a worker or inline (see job.h). */
#include "async/job.h"
#include "async/ops.h"

static const char *op_name(int type) {
    switch (type) {
    case DBC_OP_COMMIT:
        return "dbconn_commit_async";
    case DBC_OP_ROLLBACK:
        return "dbconn_rollback_async";
    default:
        return "dbconn_exec_async";
    }
}

/* Gets the session a connection again when a commit earlier in this job
 * gave it back; DBC_WOULD_BLOCK when none is free now. */
static int reconnect(dbc_async_session *as) {
    dbconn_session *s = as->s;
    dbconn *db = s->db;
    dbc_pconn *pc;
    if (dbc_pool_try(db->pool, &pc) != 0)
        return DBC_WOULD_BLOCK;
    s->pc = pc;
    int rc = dbc_pool_prepare(db->pool, pc);
    if (rc) {
        dbc_session_release(s, true); /* and the gate, if it had it */
        dbc_session_abort(s);
        return dbc_session_fail(s, rc);
    }
    return 0;
}

/* One op of the queue on the connection the session holds.  Returns
 * DBC_WOULD_BLOCK / DBC_RETRY when the op must wait (gate, connection, a
 * lock): it stays at the head untouched. */
static int run_one(dbc_async_session *as, dbc_op *op, dbconn_result **res) {
    dbconn_session *s = as->s;
    int rc;
    if (op->type == DBC_OP_ROLLBACK)
        return dbc_session_rollback_tx(s);
    if (op->type == DBC_OP_COMMIT)
        return dbc_session_commit_tx(s, op_name(op->type));
    if (s->tx == DBC_TX_ABORTED)
        return dbc_session_aborted_error(s, op_name(op->type));
    if (!s->pc && (rc = reconnect(as)) != 0)
        return rc;
    if (s->tx == DBC_TX_IDLE) {
        rc = op->type == DBC_OP_CALL
                 ? dbc_session_begin_held(s, op->u.call->call.begin_mode,
                                          NULL)
                 : dbc_session_begin_held(s, 0, op->u.sql);
        if (rc == DBC_WOULD_BLOCK || rc == DBC_RETRY)
            return rc;
        if (rc) {
            dbc_session_fail(s, rc);
            (void)dbc_session_rollback_tx(s); /* gives the connection back */
            dbc_session_abort(s);
            return rc;
        }
    }
    if (op->type == DBC_OP_CALL)
        return op->u.call->call.run(s, op->u.call->call.arg);
    return dbc_session_exec_held(s, op->u.sql, op->u.sql, dbc_op_params(op),
                                 op->nparams, res, op_name(op->type));
}

/* A connection made for the job could not be prepared: the head op fails,
 * the session gives it (and the gate) back and is aborted. */
static void fail_fresh(dbc_async_session *as, int rc) {
    dbc_async *a = as->a;
    dbconn_session *s = as->s;
    /* The gate too: a writer parks for it before its slot is connected,
     * and a chained one is handed it first. */
    dbc_session_release(s, true);
    dbc_session_fail(s, rc);
    dbc_session_abort(s);
    uv_mutex_lock(&a->lock);
    dbc_op *op = dbc_async_pop_head_locked(as);
    uv_mutex_unlock(&a->lock);
    dbc_op_set_outcome(op, rc, NULL, s->errmsg, s->native);
    uv_mutex_lock(&a->lock);
    dbc_async_push_done_locked(a, op);
    uv_mutex_unlock(&a->lock);
}

/* Completed operations between two wake-ups of the loop during a job, and
 * the most a job runs before it ends (the scheduler starts the next one):
 * a long queue's results are delivered -- and freed -- while it runs,
 * instead of all piling up until the job's end. */
enum { DELIVER_EVERY = 32, JOB_MAX_OPS = 1024 };

void dbc_async_run_ops(dbc_async_session *as) {
    dbc_async *a = as->a;
    dbconn_session *s = as->s;
    int ran = 0;
    s->nonblocking = true;
    if (as->pc_fresh) {
        as->pc_fresh = false;
        int rc = dbc_pool_prepare(s->db->pool, s->pc);
        if (rc)
            fail_fresh(as, rc);
    }
    uv_mutex_lock(&a->lock);
    dbc_op *op = as->head;
    as->running = op;
    uv_mutex_unlock(&a->lock);
    while (op) {
        dbconn_result *res = NULL;
        int rc = run_one(as, op, &res);
        if (rc == DBC_WOULD_BLOCK || rc == DBC_RETRY) {
            uv_mutex_lock(&a->lock);
            as->running = NULL;
            as->job_last = NULL; /* it waits again: queued, cancellable */
            uv_mutex_unlock(&a->lock);
            if (rc == DBC_RETRY)
                as->retry = true; /* a lock another connection holds */
            else
                as->need_gate = s->pc != NULL; /* else: needs a connection */
            break;
        }
        as->busy_tries = 0; /* it ran: the next lock conflict starts anew */
        dbc_op_set_outcome(op, rc, res, s->errmsg, s->native);
        bool enough = ++ran == JOB_MAX_OPS;
        uv_mutex_lock(&a->lock); /* done, and the next one: one lock */
        dbc_async_pop_head_locked(as);
        dbc_async_push_done_locked(a, op);
        op = enough ? NULL : as->head;
        as->running = op;
        if (enough)
            as->job_last = NULL; /* the rest waits for the next job */
        uv_mutex_unlock(&a->lock);
        if (ran % DELIVER_EVERY == 0 && !a->inline_policy)
            uv_async_send(&a->wake);
    }
    s->nonblocking = false;
}

/* Chaining.  When a job's commit releases the write gate to a session
 * that parked for it (it holds a connection and waits only for the gate),
 * the loop would need a round trip -- worker -> loop -> worker -- before
 * that session's job starts, while the gate, the one thing every writer
 * waits for, sits idle.  Instead the releasing worker takes the grant from
 * the ready list and runs that session's queue itself, then the next
 * one's, up to CHAIN_MAX sessions: writers follow each other at the speed
 * of the database, not of the hops.  The chained sessions stay in their
 * parked state for the loop, which leaves a stolen session alone
 * (dbc_async_unpark) and settles it in the job's after_work.  Every
 * chained session still ran as one job of its own queue, in order; jobs
 * in flight do not grow (the worker was busy anyway). */
enum { CHAIN_MAX = 64 };

static dbc_async_session *steal_gate_grant(dbc_async *a) {
    uv_mutex_lock(&a->lock);
    dbc_async_session **pp = &a->ready, *as;
    while ((as = *pp) != NULL &&
           (as->grant_kind != AS_PARKED_GATE || as->no_steal || !as->s->pc))
        pp = &as->rnext;
    if (as) {
        *pp = as->rnext;
        as->rnext = NULL;
        as->stolen = true;
        as->job_last = as->tail;
        a->chained++;
    }
    uv_mutex_unlock(&a->lock);
    return as;
}

void dbc_async_work_cb(uv_work_t *req) {
    dbc_async_session *as = CONTAINER(req, dbc_async_session, work);
    dbc_async *a = as->a;
    dbc_async_run_ops(as);
    dbc_async_session **tail = &as->chain;
    for (int n = 0; n < CHAIN_MAX; n++) {
        dbc_async_session *next = steal_gate_grant(a);
        if (!next)
            break;
        *tail = next;
        tail = &next->cnext;
        /* What ran so far is done: its callbacks need not wait for this. */
        uv_async_send(&a->wake);
        next->s->holds_gate = true; /* what it parked for */
        next->need_gate = false;    /* as the loop's grant would leave it */
        dbc_async_run_ops(next);
    }
}
