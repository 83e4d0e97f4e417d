/* The loop's side of the async layer (see schedule.h). */
#include "async/deliver.h"
#include "async/finish.h"
#include "async/io.h"
#include "async/job.h"
#include "async/ops.h"
#include "async/park.h"
#include "async/schedule.h"
#include "util/sqlverb.h"

static const char CLOSED_BEFORE[] =
    "the dbconn was closed before this operation ran";

/* Closes a session whose close had to wait for its running work.  A job
 * that stopped to wait (for the gate, a connection, a lock) left ops
 * queued that were in flight when the session was closed: they will never
 * run now, and their callbacks still must. */
static void finish_free(dbc_async_session *as) {
    dbconn_session *s = as->s;
    dbc_async_cancel_queued(as, "the session was closed before this "
                                "operation ran");
    dbc_async_free_state(as);
    dbc_session_free(s);
}

/* What the head op needs no thread-pool hop for completes here (callback
 * next turn), under the same transaction rules as in a job: work that
 * needs no connection, and the end of a transaction that only read, which
 * cannot wait (dbc_session_cheap_end) -- so an autocommit-style read, exec
 * then commit, costs one hop.  True when done. */
static bool complete_on_loop(dbc_async_session *as, const dbc_op *op) {
    dbconn_session *s = as->s;
    bool end = op->type == DBC_OP_COMMIT || op->type == DBC_OP_ROLLBACK;
    if (s->pc && !(end && dbc_session_cheap_end(s)))
        return false;
    if (op->type == DBC_OP_COMMIT)
        dbc_async_complete_head(as,
                                dbc_session_commit_tx(s, "dbconn_commit_async"));
    else if (op->type == DBC_OP_ROLLBACK)
        dbc_async_complete_head(as, dbc_session_rollback_tx(s));
    else if (s->tx == DBC_TX_ABORTED)
        dbc_async_complete_head(
            as, dbc_session_aborted_error(s, "dbconn_exec_async"));
    else
        return false;
    return true;
}

/* Does the head op write?  Then the gate is taken (or parked for) here,
 * rather than in a job that would only find it taken and come back -- a
 * wasted hop.  Only a hint: the job checks. */
static bool head_needs_gate(const dbc_async_session *as, const dbc_op *op) {
    const dbconn_session *s = as->s;
    if (!s->db->drv->serialize_writers || s->holds_gate ||
        s->tx == DBC_TX_ABORTED)
        return false;
    if (op->type == DBC_OP_CALL)
        return op->u.call->call.begin_mode != DBCONN_BEGIN_DEFERRED;
    return op->type == DBC_OP_EXEC && dbc_verb_writes(dbc_sql_verb(op->u.sql));
}

/* 0 when as holds a connection (or none is needed); 1 when it parked for
 * one; the head op failed (completed) otherwise (-1). */
static int get_connection(dbc_async_session *as) {
    dbconn_session *s = as->s;
    dbconn *db = s->db;
    if (s->pc)
        return 0;
    dbc_pconn *pc;
    int rc = dbc_pool_acquire_or_park(db->pool, &pc, &as->pool_w);
    if (rc == 1) {
        dbc_async_park(as, AS_PARKED_POOL, db->cfg.pool_timeout_ms);
        return 1;
    }
    if (rc < 0) {
        dbc_session_fail(s, rc);
        dbc_session_abort(s);
        dbc_async_complete_head(as, rc);
        return -1;
    }
    s->pc = pc;
    as->pc_fresh = true;
    return 0;
}

static void after_work(uv_work_t *req, int status);
static void after_io(dbc_async_session *as, bool idle);
static void turn_done(dbc_async *a);

static void start_job(dbc_async_session *as) {
    dbc_async *a = as->a;
    dbc_async_io_forget(as); /* the job may use and give back the
                                  connection */
    if (a->inline_policy) {
        uv_mutex_lock(&a->lock);
        dbc_async_count_job_locked(a);
        uv_mutex_unlock(&a->lock);
        dbc_async_run_ops(as);
        dbc_async_kick(a); /* callbacks in a later turn */
        return;
    }
    uv_mutex_lock(&a->lock);
    dbc_async_count_job_locked(a);
    as->job_last = as->tail;
    uv_mutex_unlock(&a->lock);
    as->state = AS_RUNNING;
    a->inflight++;
    if (uv_queue_work(a->loop, &as->work, dbc_async_work_cb, after_work) !=
        0) {
        /* Only fails for a NULL callback: cannot happen; stay safe. */
        a->inflight--;
        as->state = AS_IDLE;
        dbc_async_complete_head(as, dbc_fail(DBCONN_EINVAL,
                                             "uv_queue_work failed"));
    }
}

static void throttle(dbc_async_session *as) {
    dbc_async *a = as->a;
    as->state = AS_THROTTLED;
    if (a->qtail)
        a->qtail->qnext = as;
    else
        a->qhead = as;
    a->qtail = as;
}

static void schedule_ops(dbc_async_session *as);

void dbc_async_schedule(dbc_async_session *as) {
    if (as->state == AS_IO && !dbc_async_io_more(as))
        return; /* more of its pipeline to come */
    schedule_ops(as);
    /* Idle (no job of its own or another's runs it, so s->pc is the loop
     * thread's to read): its connection may have gone back to the pool. */
    if (as->state == AS_IDLE && !as->s->pc)
        dbc_async_io_forget(as);
}

static void schedule_ops(dbc_async_session *as) {
    dbc_async *a = as->a;
    dbconn_session *s = as->s;
    while (as->state == AS_IDLE && as->head) {
        dbconn *db = s->db;
        dbc_op *op = as->head;
        if (as->retry && !a->closing) {
            dbc_async_park_retry(as);
            return;
        }
        if (a->closing) {
            dbc_async_cancel_queued(as, CLOSED_BEFORE);
            return;
        }
        if (complete_on_loop(as, op))
            continue;
        int got = get_connection(as);
        if (got > 0)
            return;
        if (got < 0)
            continue;
        if (head_needs_gate(as, op))
            as->need_gate = true;
        if (as->need_gate && !s->holds_gate && op->type != DBC_OP_ROLLBACK) {
            if (dbc_gate_acquire_or_park(&db->gate, s, &as->gate_w) == 1) {
                dbc_async_park(as, AS_PARKED_GATE, db->cfg.busy_timeout_ms);
                return;
            }
            s->holds_gate = true;
        }
        as->need_gate = false;
        if (a->loop_policy && dbc_async_io_start(as))
            continue; /* AS_IO, or what it ran completed */
        if (!a->inline_policy && a->inflight >= a->max_inflight) {
            throttle(as);
            return;
        }
        start_job(as);
        if (!a->inline_policy)
            return;
        /* Inline, the batch ran here.  What it stopped for (a lock, the
         * gate, a connection) is the loop's above; a batch that ended at
         * its size goes on after the callbacks of what it ran. */
        if (as->head && !as->retry && !as->need_gate && as->s->pc) {
            dbc_async_start_later(as);
            return;
        }
    }
}

static void start_throttled(dbc_async *a) {
    while (a->qhead && a->inflight < a->max_inflight) {
        dbc_async_session *as = a->qhead;
        a->qhead = as->qnext;
        if (!a->qhead)
            a->qtail = NULL;
        as->qnext = NULL;
        as->state = AS_IDLE;
        dbc_async_schedule(as);
    }
}

/* Grants handed over by other threads (or quietly by a job) go to work. */
static void process_ready(dbc_async *a) {
    dbc_async_session *list = dbc_async_take_ready(a);
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
                finish_free(as);
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

/* The loop thread takes back the sessions a job chained. */
static void settle_chain(dbc_async_session *c) {
    while (c) {
        dbc_async_session *next = c->cnext;
        dbc_async *a = c->a;
        c->cnext = NULL;
        uv_mutex_lock(&a->lock);
        c->stolen = false;
        uv_mutex_unlock(&a->lock);
        dbc_async_unlink_parked(c);
        c->state = AS_IDLE;
        if (c->free_pending)
            finish_free(c);
        else
            dbc_async_schedule(c);
        c = next;
    }
}

static void start_submitted(dbc_async *a);

/* Rounds of callbacks and submissions one loop callback runs before it
 * leaves the rest to the next turn (so a program that keeps submitting
 * work the loop completes at once cannot starve the loop's I/O). */
enum { TURN_ROUNDS = 64 };

/* After a loop callback: jobs that can start, callbacks, close steps.
 * What the callbacks submit starts here too, and what completes on the
 * loop (a read's commit) is delivered here -- an awaiting program's next
 * step does not wait for a later loop turn.  A round is all the
 * callbacks ready at its start, so what one submits back to back still
 * starts together, in one job. */
static void turn_done(dbc_async *a) {
    for (int round = 0; round < TURN_ROUNDS; round++) {
        start_throttled(a);
        dbc_async_deliver(a);
        if (!a->start_list || a->closing)
            break;
        start_submitted(a);
    }
    if (a->kept) /* before the idle test: a release may hand over */
        dbc_async_io_release_kept(a);
    dbc_async_maybe_finish_close(a);
    uv_mutex_lock(&a->lock);
    /* a->ready: an inline job's check-in handed its connection (or the
     * gate) over quietly to a parked session; the idle phase starts it. */
    bool idle = !a->start_list && !a->done_head && !a->ready;
    uv_mutex_unlock(&a->lock);
    if (idle) /* nothing for the idle phase to do: no extra loop turn */
        uv_idle_stop(&a->starter);
    else /* work left for the idle phase (the rounds ran out, a close,
            a hand-over): on_start stopped the phase before it called us,
            so leaving it alone would not keep it running */
        dbc_async_kick(a);
}

/* The loop policy took outcomes of as (io.c); `idle`: its batch is over. */
static void after_io(dbc_async_session *as, bool idle) {
    dbc_async *a = as->a;
    if (idle) {
        if (as->free_pending)
            finish_free(as);
        else
            dbc_async_schedule(as);
    }
    turn_done(a);
}

static void after_work(uv_work_t *req, int status) {
    (void)status; /* jobs are never uv_cancel()ed */
    dbc_async_session *as = CONTAINER(req, dbc_async_session, work);
    dbc_async *a = as->a;
    dbc_async_session *chain = as->chain;
    as->chain = NULL;
    a->inflight--;
    as->state = AS_IDLE;
    if (as->free_pending)
        finish_free(as);
    else
        dbc_async_schedule(as);
    settle_chain(chain);
    process_ready(a); /* what the job handed over quietly; and the timer,
                         for the settled sessions */
    turn_done(a);
}

/* Submissions start their session in the idle phase of the loop turn, so
 * everything a callback (or main) submits back to back is in the queue
 * when the job starts: one hop, deterministically. */
static void start_submitted(dbc_async *a) {
    dbc_async_session *list = a->start_list;
    a->start_list = a->start_tail = NULL;
    while (list) {
        dbc_async_session *as = list;
        list = as->snext;
        as->snext = NULL;
        as->to_start = false;
        dbc_async_schedule(as);
    }
}

static void on_start(uv_idle_t *h) {
    dbc_async *a = CONTAINER(h, dbc_async, starter);
    uv_idle_stop(h);
    process_ready(a); /* inline jobs hand over quietly */
    start_submitted(a);
    turn_done(a);
}

void dbc_async_start_later(dbc_async_session *as) {
    dbc_async *a = as->a;
    if (as->to_start || (as->state != AS_IDLE && as->state != AS_IO))
        return; /* a running job or a parked wait picks the op up */
    as->to_start = true;
    as->snext = NULL; /* FIFO: sessions start in the order they submitted */
    if (a->start_tail)
        a->start_tail->snext = as;
    else
        a->start_list = as;
    a->start_tail = as;
    dbc_async_kick(a);
}

/* ---- timeouts and retries ------------------------------------------------ */

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

/* A wait for a connection or the gate that ran out. */
static void wait_expired(dbc_async_session *p) {
    dbconn *db = p->a->db;
    int state = p->state;
    if (dbc_async_unpark(p) != DBC_UNPARKED)
        return; /* granted meanwhile: the wake or a job takes it */
    char who[800];
    if (state == AS_PARKED_POOL)
        dbc_pool_describe_holders(db->pool, who, sizeof who);
    else
        dbc_engine_describe_gate(db, who, sizeof who);
    if (state == AS_PARKED_POOL)
        dbc_fail(DBCONN_ETIMEOUT,
                 "timed out after %d ms (pool_timeout_ms) waiting for a "
                 "pooled connection%s%s",
                 db->cfg.pool_timeout_ms, who[0] ? ", held by: " : "", who);
    else
        dbc_fail(DBCONN_EBUSY,
                 "waited %d ms (busy_timeout_ms) for another session of "
                 "this engine to finish writing%s%s",
                 db->cfg.busy_timeout_ms, who[0] ? "; held by " : "", who);
    int code = state == AS_PARKED_POOL ? DBCONN_ETIMEOUT : DBCONN_EBUSY;
    p->need_gate = false; /* what needed it failed; a rollback won't */
    dbc_session_fail(p->s, code);
    dbc_session_abort(p->s);
    dbc_async_complete_head(p, code);
    dbc_async_schedule(p);
}

/* Everything of parked list k whose deadline has passed (in deadline
 * order: the walk stops at the first one still due later).  What runs
 * for one session moves only that session in the lists. */
static void expire(dbc_async *a, int k, uint64_t now) {
    dbc_list *n, *next;
    DBC_LIST_FOREACH_SAFE(n, next, &a->parked[k]) {
        dbc_async_session *p = DBC_LIST_ENTRY(n, dbc_async_session, parked);
        if (p->deadline > now)
            break;
        if (p->state == AS_PARKED_RETRY)
            retry_due(p);
        else if (p->state == AS_PARKED_POOL || p->state == AS_PARKED_GATE)
            wait_expired(p);
    }
}

static void on_timer(uv_timer_t *t) {
    dbc_async *a = CONTAINER(t, dbc_async, timer);
    uint64_t now = uv_hrtime();
    for (int k = 0; k < 3; k++)
        expire(a, k, now);
    dbc_async_rearm_timer(a);
}

static void on_wake(uv_async_t *h) {
    dbc_async *a = CONTAINER(h, dbc_async, wake);
    process_ready(a);
    turn_done(a);
}

int dbc_async_get(dbconn *db, dbc_async **out) {
    if (db->async) {
        *out = db->async;
        if (!uv_thread_equal(&db->async->thread,
                             &(uv_thread_t){uv_thread_self()}))
            return dbc_fail(DBCONN_EINVAL,
                            "async calls must be made on the thread that "
                            "runs the dbconn's loop");
        return 0;
    }
    static const dbc_async_loop_cbs cbs = {
        .on_wake = on_wake, .on_timer = on_timer, .on_start = on_start,
        .after_io = after_io};
    int rc = dbc_async_state_new(db, &cbs, out);
    if (rc == 0)
        db->async = *out;
    return rc;
}
