/* Jobs: what a session can run without waiting runs in one job, on a
 * thread-pool worker or inline; jobs start in the idle phase of the loop
 * turn that submitted them, at most UV_THREADPOOL_SIZE at once (see
 * async_int.h). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "async/async_int.h"

/* Does the SQL start with a keyword of a statement that writes?  (Leading
 * white space and comments skipped; WITH ... is left to the job.) */
static bool looks_like_write(const char *sql) {
    static const char *const verbs[] = {"INSERT", "UPDATE", "DELETE",
                                        "REPLACE", "CREATE", "DROP", "ALTER"};
    const char *p = sql;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
        } else if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            if (!e)
                return false;
            p = e + 2;
        } else {
            break;
        }
    }
    for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++) {
        size_t n = strlen(verbs[i]);
        if (strncasecmp(p, verbs[i], n) == 0 &&
            !((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z') ||
              (p[n] >= '0' && p[n] <= '9') || p[n] == '_'))
            return true;
    }
    return false;
}

/* Closes a session whose close had to wait for its running work. */
void dbc_async_finish_free(dbc_async_session *as) {
    dbconn_session *s = as->s;
    /* A job that stopped to wait (for the gate, a connection, a lock) left
     * ops queued that were in flight when the session was closed: they
     * will never run now, and their callbacks still must. */
    dbc_async_cancel_queued(as, "the session was closed before this "
                                "operation ran");
    dbc_async_free_state(as);
    dbc_session_free(s);
}

/* One op of the queue on the connection the session holds.  Returns
 * DBC_WOULD_BLOCK when the op must wait (gate, connection): it stays at the
 * head untouched. */
static int run_one(dbc_async_session *as, dbc_op *op, dbconn_result **res) {
    dbconn_session *s = as->s;
    dbconn *db = s->db;
    int rc;
    if (s->tx == DBC_TX_ABORTED && op->type != DBC_OP_ROLLBACK)
        return dbc_session_aborted_error(s, op->type == DBC_OP_COMMIT
                                                ? "dbconn_commit_async"
                                                : "dbconn_exec_async");
    if (op->type == DBC_OP_ROLLBACK) {
        if (!s->pc) {
            s->tx = DBC_TX_IDLE;
            return 0;
        }
        return dbc_session_rollback_held(s);
    }
    if (op->type == DBC_OP_COMMIT)
        return s->tx == DBC_TX_ACTIVE ? dbc_session_commit_held(s) : 0;
    if (!s->pc) { /* a commit earlier in this job gave it back */
        dbc_pconn *pc;
        if (dbc_pool_try(db->pool, &pc) != 0)
            return DBC_WOULD_BLOCK;
        s->pc = pc;
        if ((rc = dbc_pool_prepare(db->pool, pc)) != 0) {
            dbc_session_release(s, true); /* and the gate, if it had it */
            dbc_session_abort(s);
            return dbc_session_fail(s, rc);
        }
    }
    if (s->tx == DBC_TX_IDLE) {
        rc = dbc_session_begin_held(s, op->type == DBC_OP_INITDB
                                            ? DBCONN_BEGIN_IMMEDIATE
                                            : 0);
        if (rc == DBC_WOULD_BLOCK || rc == DBC_RETRY)
            return rc;
        if (rc) {
            dbc_session_fail(s, rc);
            (void)dbc_session_rollback_held(s); /* gives the connection back */
            dbc_session_abort(s);
            return rc;
        }
    }
    if (op->type == DBC_OP_EXEC)
        return dbc_session_exec_held(s, op->sql_key, op->sql, op->params,
                                     op->nparams, res);
    /* DBC_OP_INITDB: every statement or none */
    for (size_t i = 0; i < op->ddl.n; i++) {
        rc = dbc_session_exec_held(s, NULL, op->ddl.stmts[i].sql, NULL, 0,
                                   NULL);
        if (rc == 0)
            continue;
        char msg[DBC_ERRMSG_MAX];
        int native = s->native;
        (void)snprintf(msg, sizeof msg, "%s", s->errmsg);
        dbc_session_rollback_held(s);
        dbc_initdb_stmt_failed(&op->ddl.stmts[i], rc, native, msg);
        return dbc_session_fail(s, rc);
    }
    return dbc_session_commit_held(s);
}

/* The job: drains the session's queue while it can go on without waiting.
 * Runs on a worker (threadpool) or on the loop thread (inline). */
static void run_ops(dbc_async_session *as) {
    dbc_async *a = as->a;
    dbconn_session *s = as->s;
    dbconn *db = s->db;
    s->nonblocking = true;
    if (as->pc_fresh) {
        as->pc_fresh = false;
        int rc = dbc_pool_prepare(db->pool, s->pc);
        if (rc) {
            /* The gate too: a writer parks for it before its slot is
             * connected, and a chained one is handed it first. */
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
        uv_mutex_lock(&a->lock); /* done, and the next one: one lock */
        dbc_async_pop_head_locked(as);
        dbc_async_push_done_locked(a, op);
        op = as->head;
        as->running = op;
        uv_mutex_unlock(&a->lock);
    }
    s->nonblocking = false;
}

/* Chaining.  When a job's commit releases the write gate to a session
 * that parked for it (it holds a connection and waits only for the gate),
 * the loop would need a round trip -- worker -> loop -> worker, tens of
 * microseconds -- before that session's job starts, while the gate, the
 * one thing every writer waits for, sits idle.  Instead the releasing
 * worker takes the grant from the ready list and runs that session's queue
 * itself, then the next one's, up to CHAIN_MAX sessions: writers follow
 * each other at the speed of the database, not of the hops.  The chained
 * sessions stay in their parked state for the loop, which leaves a stolen
 * session alone (dbc_async_unpark) and settles it in the job's after_work.
 * Every chained session still ran as one job of its own queue, in order;
 * jobs in flight do not grow (the worker was busy anyway). */
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

static void work_cb(uv_work_t *req) {
    dbc_async_session *as = CONTAINER(req, dbc_async_session, work);
    dbc_async *a = as->a;
    run_ops(as);
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
        next->need_gate = false;    /* as process_ready leaves it */
        run_ops(next);
    }
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
            dbc_async_finish_free(c);
        else
            dbc_async_schedule(c);
        c = next;
    }
}

void dbc_async_start_throttled(dbc_async *a) {
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

static void after_work(uv_work_t *req, int status) {
    (void)status; /* jobs are never uv_cancel()ed */
    dbc_async_session *as = CONTAINER(req, dbc_async_session, work);
    dbc_async *a = as->a;
    dbc_async_session *chain = as->chain;
    as->chain = NULL;
    a->inflight--;
    as->state = AS_IDLE;
    if (as->free_pending)
        dbc_async_finish_free(as);
    else
        dbc_async_schedule(as);
    settle_chain(chain);
    dbc_async_process_ready(a); /* what the job handed over quietly; and
                                   the timer, for the settled sessions */
    dbc_async_start_throttled(a);
    dbc_async_deliver(a);
    dbc_async_maybe_finish_close(a);
}

/* Counts a job about to start (a->lock held). */
static void count_job_locked(dbc_async *a) {
    a->jobs++;
    if ((uint64_t)a->inflight + 1 > a->peak)
        a->peak = (uint64_t)a->inflight + 1;
}

/* Moves as on as far as it can without waiting (the loop thread). */
void dbc_async_schedule(dbc_async_session *as) {
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
            dbc_async_cancel_queued(
                as, "the dbconn was closed before this operation ran");
            return;
        }
        /* What needs no connection completes here (callback next turn). */
        if (s->tx == DBC_TX_ABORTED && op->type != DBC_OP_ROLLBACK && !s->pc) {
            dbc_async_complete_head(
                as, dbc_session_aborted_error(s, op->type == DBC_OP_COMMIT
                                                     ? "dbconn_commit_async"
                                                     : "dbconn_exec_async"));
            continue;
        }
        if (!s->pc && (op->type == DBC_OP_COMMIT ||
                       op->type == DBC_OP_ROLLBACK)) {
            s->tx = DBC_TX_IDLE;
            dbc_async_complete_head(as, 0);
            continue;
        }
        if (!s->pc) {
            dbc_pconn *pc;
            int rc = dbc_pool_acquire_or_park(db->pool, &pc, &as->pool_w);
            if (rc == 1) {
                dbc_async_park(as, AS_PARKED_POOL, db->cfg.pool_timeout_ms);
                return;
            }
            if (rc < 0) {
                dbc_session_fail(s, rc);
                dbc_session_abort(s);
                dbc_async_complete_head(as, rc);
                continue;
            }
            s->pc = pc;
            as->pc_fresh = true;
            as->need_gate = op->type == DBC_OP_INITDB &&
                            db->drv->serialize_writers;
        }
        /* A statement that will write needs the gate: take it (or park for
         * it) here, rather than start a job that would only find it taken
         * and come back -- a wasted hop.  Only a hint: the job checks. */
        if (!s->holds_gate && db->drv->serialize_writers &&
            op->type == DBC_OP_EXEC && s->tx != DBC_TX_ABORTED &&
            looks_like_write(op->sql))
            as->need_gate = true;
        if (as->need_gate && !s->holds_gate && op->type != DBC_OP_ROLLBACK) {
            int rc = dbc_gate_acquire_or_park(&db->gate, s, &as->gate_w);
            if (rc == 1) {
                dbc_async_park(as, AS_PARKED_GATE, db->cfg.busy_timeout_ms);
                return;
            }
            s->holds_gate = true;
        }
        as->need_gate = false;
        if (a->inline_policy) {
            uv_mutex_lock(&a->lock);
            count_job_locked(a);
            uv_mutex_unlock(&a->lock);
            run_ops(as);
            dbc_async_kick(a); /* callbacks in a later turn */
            continue;
        }
        if (a->inflight >= a->max_inflight) {
            as->state = AS_THROTTLED;
            if (a->qtail)
                a->qtail->qnext = as;
            else
                a->qhead = as;
            a->qtail = as;
            return;
        }
        uv_mutex_lock(&a->lock);
        count_job_locked(a);
        as->job_last = as->tail;
        uv_mutex_unlock(&a->lock);
        as->state = AS_RUNNING;
        a->inflight++;
        if (uv_queue_work(a->loop, &as->work, work_cb, after_work) != 0) {
            /* Only fails for a NULL callback: cannot happen; stay safe. */
            a->inflight--;
            as->state = AS_IDLE;
            dbc_async_complete_head(as, dbc_fail(DBCONN_EINVAL, "uv_queue_work failed"));
        }
        return;
    }
}

/* Submissions start their session in the idle phase of the loop turn, so
 * everything a callback (or main) submits back to back is in the queue
 * when the job starts: one hop, deterministically. */
static void on_start(uv_idle_t *h) {
    dbc_async *a = CONTAINER(h, dbc_async, starter);
    uv_idle_stop(h);
    dbc_async_process_ready(a); /* inline jobs hand over quietly */
    dbc_async_session *list = a->start_list;
    a->start_list = a->start_tail = NULL;
    while (list) {
        dbc_async_session *as = list;
        list = as->snext;
        as->snext = NULL;
        as->to_start = false;
        dbc_async_schedule(as);
    }
    dbc_async_start_throttled(a);
    dbc_async_deliver(a);
    dbc_async_maybe_finish_close(a);
}

/* On the loop thread, the idle handle brings the next turn without a
 * syscall (uv_async_send writes an eventfd); other threads use the wake. */
void dbc_async_kick(dbc_async *a) { uv_idle_start(&a->starter, on_start); }

void dbc_async_start_later(dbc_async_session *as) {
    dbc_async *a = as->a;
    if (as->to_start || as->state != AS_IDLE)
        return; /* a running job or a parked wait picks the op up */
    as->to_start = true;
    as->snext = NULL; /* FIFO: sessions start in the order they submitted */
    if (a->start_tail)
        a->start_tail->snext = as;
    else
        a->start_list = as;
    a->start_tail = as;
    uv_idle_start(&a->starter, on_start);
}

/* Grants arriving from other threads, then callbacks. */
