/* The async engine's state machine.
 *
 * Every session with async work has a dbc_async_session: a FIFO of submitted
 * operations and a state.  On the loop thread, schedule() gets the session a
 * pooled connection and, when its next statement writes, the write gate --
 * parking it when either must wait -- and then runs its queue in one job: on
 * a thread-pool worker (threadpool policy) or right there (inline policy).
 * The job drains the queue while it holds the connection, so operations
 * submitted back to back cost one hop.  Completed operations go to the
 * dbconn's done list and their callbacks run on the loop thread, in the task
 * that submitted them, never from inside a submitting call.
 *
 * Threads: the op queues, the done list and the ready list are guarded by
 * a->lock (workers and releasing threads touch them); everything else is the
 * loop thread's.  States move only on the loop thread, except that a
 * parked session's grant arrives from whichever thread released the
 * resource (ready callbacks) and is picked up by on_wake(). */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "async.h"
#include "base.h"
#include "result.h"

enum { AS_IDLE, AS_PARKED_POOL, AS_PARKED_GATE, AS_GRANTED, AS_THROTTLED,
       AS_RUNNING };

typedef struct dbc_async dbc_async;
typedef struct dbc_async_session dbc_async_session;

struct dbc_async_session {
    dbc_async *a;
    dbconn_session *s;
    dbc_op *head, *tail;     /* submitted, not run yet (a->lock) */
    dbc_op *running;         /* the op a job is executing (a->lock) */
    dbc_op *job_last;        /* last op queued when the job started: up to
                                here the work is in flight (a->lock) */
    int state;
    dbc_waiter pool_w, gate_w;
    void *grant;             /* what ready() handed over (a->lock) */
    int grant_kind;          /* AS_PARKED_POOL / AS_PARKED_GATE */
    bool need_gate;          /* the next op must wait for the write gate */
    bool pc_fresh;           /* s->pc not prepared yet (connect/recycle/ping) */
    bool cancelled;          /* unparked too late: release the grant */
    bool free_pending;       /* the session was closed while busy */
    uint64_t deadline;       /* uv_hrtime() limit while parked */
    dbc_async_session *rnext;          /* ready list (a->lock) */
    dbc_async_session *qnext;          /* throttled queue */
    dbc_async_session *pprev, *pnext;  /* parked list */
    dbc_async_session *aprev, *anext;  /* every session with async state */
    dbc_async_session *snext;          /* start list */
    bool to_start;
    uv_work_t work;
};

struct dbc_async {
    dbconn *db;
    uv_loop_t *loop;
    uv_thread_t thread;      /* the loop's thread: submissions come from it */
    uv_async_t wake;
    uv_timer_t timer;
    uv_idle_t starter;       /* starts the jobs of this loop turn's submits */
    dbc_async_session *start_list;
    int handles_open;
    uv_mutex_t lock;
    dbc_op *done_head, *done_tail;   /* a->lock */
    dbc_async_session *ready;        /* a->lock */
    dbc_async_session *qhead, *qtail; /* throttled */
    dbc_async_session *parked;
    dbc_async_session *all;
    size_t pending;          /* accepted ops whose callback has not run */
    int inflight, max_inflight;
    uint64_t jobs, peak;     /* stats (a->lock) */
    int grants_expected;     /* cancelled parks whose grant is on its way */
    int delivering;
    bool inline_policy;
    bool closing, torn_down;
    int close_err;
    dbconn_done_cb close_cb;
    void *close_data;
};

static void schedule(dbc_async_session *as);
static void start_throttled(dbc_async *a);
static void maybe_finish_close(dbc_async *a);
static void on_timer(uv_timer_t *t);

#define CONTAINER(ptr, type, field)                                             \
    ((type *)(void *)((char *)(ptr)-offsetof(type, field)))

/* ---- ops and the done list --------------------------------------------- */

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
static void update_ref(dbc_async *a) {
    if (a->pending || a->closing)
        uv_ref((uv_handle_t *)&a->wake);
    else
        uv_unref((uv_handle_t *)&a->wake);
}

/* Moves a finished op to the done list (lock held by the caller). */
static void push_done_locked(dbc_async *a, dbc_op *op) {
    op->next = NULL;
    if (a->done_tail)
        a->done_tail->next = op;
    else
        a->done_head = op;
    a->done_tail = op;
}

/* Records op's outcome; on failure keeps the message the callback will
 * read (through dbconn_errmsg and dbconn_session_errmsg). */
static void set_outcome(dbc_op *op, int status, dbconn_result *res,
                        const char *msg, int native) {
    op->status = status;
    op->res = res;
    if (status < 0) {
        op->native = native;
        op->errmsg = dbc_strdup(msg && *msg ? msg : dbconn_strerror(status));
    }
}

/* Takes the head op of as off its queue as finished (lock held). */
static dbc_op *pop_head_locked(dbc_async_session *as) {
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
 * turn (on_wake). */
static void complete_head(dbc_async_session *as, int status) {
    dbc_async *a = as->a;
    uv_mutex_lock(&a->lock);
    dbc_op *op = pop_head_locked(as);
    uv_mutex_unlock(&a->lock);
    set_outcome(op, status, NULL, as->s ? as->s->errmsg : NULL,
                as->s ? as->s->native : 0);
    uv_mutex_lock(&a->lock);
    push_done_locked(a, op);
    uv_mutex_unlock(&a->lock);
    uv_async_send(&a->wake);
}

/* Queued (not running) ops of as get DBCONN_ECANCELED. */
static void cancel_queued(dbc_async_session *as, const char *why) {
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
        push_done_locked(a, op);
        any = true;
        op = next;
    }
    uv_mutex_unlock(&a->lock);
    if (any)
        uv_async_send(&a->wake);
}

/* Runs the callbacks of finished ops, each in its submitter's task. */
static void deliver(dbc_async *a) {
    a->delivering++;
    for (;;) {
        uv_mutex_lock(&a->lock);
        dbc_op *op = a->done_head;
        if (op) {
            a->done_head = op->next;
            if (!a->done_head)
                a->done_tail = NULL;
        }
        uv_mutex_unlock(&a->lock);
        if (!op)
            break;
        if (op->type == DBC_OP_INITDB && op->status == 0 && op->db) {
            int rc = dbc_base_bind(op->base, op->db);
            if (rc)
                set_outcome(op, rc, NULL, dbc_last_msg(), 0);
        }
        if (op->status < 0 && op->errmsg) {
            /* What the callback reads: dbconn_errmsg() and, while the
             * session lives, dbconn_session_errmsg() (later ops of the same
             * job may have written it since). */
            dbc_fail_native(op->status, op->native, "%s", op->errmsg);
            if (op->s && !(op->s->async && op->s->async->state == AS_RUNNING))
                dbc_session_fail(op->s, op->status); /* not while a job of
                                                        its own writes it */
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
    update_ref(a);
}

/* ---- parking ------------------------------------------------------------ */

static void rearm_timer(dbc_async *a) {
    uint64_t first = UINT64_MAX;
    for (dbc_async_session *p = a->parked; p; p = p->pnext)
        if (p->deadline < first)
            first = p->deadline;
    if (first == UINT64_MAX) {
        uv_timer_stop(&a->timer);
        return;
    }
    uint64_t now = uv_hrtime();
    uint64_t ms = first > now ? (first - now + 999999) / 1000000 : 0;
    uv_timer_start(&a->timer, on_timer, ms, 0);
}

static void park(dbc_async_session *as, int state, int timeout_ms) {
    dbc_async *a = as->a;
    as->state = state;
    as->deadline = uv_hrtime() + (uint64_t)timeout_ms * 1000000u;
    as->pprev = NULL;
    as->pnext = a->parked;
    if (a->parked)
        a->parked->pprev = as;
    a->parked = as;
    rearm_timer(a);
}

static void unlink_parked(dbc_async_session *as) {
    dbc_async *a = as->a;
    if (as->pprev)
        as->pprev->pnext = as->pnext;
    else if (a->parked == as)
        a->parked = as->pnext;
    if (as->pnext)
        as->pnext->pprev = as->pprev;
    as->pprev = as->pnext = NULL;
}

/* ready() of the pool and the gate: any thread, no pool/gate lock held. */
static void granted(dbc_async_session *as, void *resource, int kind) {
    dbc_async *a = as->a;
    uv_mutex_lock(&a->lock);
    as->grant = resource;
    as->grant_kind = kind;
    as->rnext = a->ready;
    a->ready = as;
    uv_mutex_unlock(&a->lock);
    uv_async_send(&a->wake);
}

static void pool_ready(dbc_waiter *w, void *resource) {
    granted(CONTAINER(w, dbc_async_session, pool_w), resource, AS_PARKED_POOL);
}

static void gate_ready(dbc_waiter *w, void *resource) {
    (void)resource;
    granted(CONTAINER(w, dbc_async_session, gate_w), NULL, AS_PARKED_GATE);
}

/* Takes as out of its wait; returns false when the grant is already on its
 * way (it will arrive through the ready list and must be given back). */
static bool unpark(dbc_async_session *as) {
    dbconn *db = as->a->db;
    int still = as->state == AS_PARKED_POOL
                    ? dbc_pool_unpark(db->pool, &as->pool_w)
                    : dbc_gate_unpark(&db->gate, &as->gate_w);
    if (still) {
        unlink_parked(as);
        as->state = AS_IDLE;
        rearm_timer(as->a);
        return true;
    }
    as->state = AS_GRANTED;
    return false;
}

static void on_timer(uv_timer_t *t) {
    dbc_async *a = CONTAINER(t, dbc_async, timer);
    uint64_t now = uv_hrtime();
    dbc_async_session *p = a->parked, *next;
    for (; p; p = next) {
        next = p->pnext;
        if (p->deadline > now || (p->state != AS_PARKED_POOL &&
                                  p->state != AS_PARKED_GATE))
            continue;
        int state = p->state;
        if (!unpark(p))
            continue; /* granted meanwhile: on_wake takes it */
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
        complete_head(p, code);
        schedule(p);
    }
    rearm_timer(a);
}

/* ---- running ------------------------------------------------------------ */

static void free_state(dbc_async_session *as);

/* Closes a session whose close had to wait for its running work. */
static void finish_free(dbc_async_session *as) {
    dbconn_session *s = as->s;
    free_state(as);
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
            dbc_pool_checkin(db->pool, pc, true);
            s->pc = NULL;
            dbc_session_abort(s);
            return dbc_session_fail(s, rc);
        }
    }
    if (s->tx == DBC_TX_IDLE) {
        rc = dbc_session_begin_held(s, op->type == DBC_OP_INITDB
                                            ? DBCONN_BEGIN_IMMEDIATE
                                            : 0);
        if (rc == DBC_WOULD_BLOCK)
            return rc;
        if (rc) {
            dbc_session_fail(s, rc);
            (void)dbc_session_rollback_held(s); /* gives the connection back */
            dbc_session_abort(s);
            return rc;
        }
    }
    if (op->type == DBC_OP_EXEC)
        return dbc_session_exec_held(s, op->sql, op->params, op->nparams, res);
    /* DBC_OP_INITDB: every statement or none */
    for (size_t i = 0; i < op->ddl.n; i++) {
        rc = dbc_session_exec_held(s, op->ddl.stmts[i].sql, NULL, 0, NULL);
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
            dbc_pool_checkin(db->pool, s->pc, true);
            s->pc = NULL;
            dbc_session_fail(s, rc);
            dbc_session_abort(s);
            uv_mutex_lock(&a->lock);
            dbc_op *op = pop_head_locked(as);
            uv_mutex_unlock(&a->lock);
            set_outcome(op, rc, NULL, s->errmsg, s->native);
            uv_mutex_lock(&a->lock);
            push_done_locked(a, op);
            uv_mutex_unlock(&a->lock);
        }
    }
    for (;;) {
        uv_mutex_lock(&a->lock);
        dbc_op *op = as->head;
        as->running = op;
        uv_mutex_unlock(&a->lock);
        if (!op)
            break;
        dbconn_result *res = NULL;
        int rc = run_one(as, op, &res);
        if (rc == DBC_WOULD_BLOCK) {
            uv_mutex_lock(&a->lock);
            as->running = NULL;
            as->job_last = NULL; /* it waits again: queued, cancellable */
            uv_mutex_unlock(&a->lock);
            as->need_gate = s->pc != NULL; /* else: needs a connection */
            break;
        }
        set_outcome(op, rc, res, s->errmsg, s->native);
        uv_mutex_lock(&a->lock);
        pop_head_locked(as);
        push_done_locked(a, op);
        uv_mutex_unlock(&a->lock);
    }
    s->nonblocking = false;
}

static void work_cb(uv_work_t *req) {
    run_ops(CONTAINER(req, dbc_async_session, work));
}

static void start_throttled(dbc_async *a) {
    while (a->qhead && a->inflight < a->max_inflight) {
        dbc_async_session *as = a->qhead;
        a->qhead = as->qnext;
        if (!a->qhead)
            a->qtail = NULL;
        as->qnext = NULL;
        as->state = AS_IDLE;
        schedule(as);
    }
}

static void after_work(uv_work_t *req, int status) {
    (void)status; /* jobs are never uv_cancel()ed */
    dbc_async_session *as = CONTAINER(req, dbc_async_session, work);
    dbc_async *a = as->a;
    a->inflight--;
    as->state = AS_IDLE;
    if (as->free_pending)
        finish_free(as);
    else
        schedule(as);
    start_throttled(a);
    deliver(a);
    maybe_finish_close(a);
}

static void count_job(dbc_async *a) {
    uv_mutex_lock(&a->lock);
    a->jobs++;
    if ((uint64_t)a->inflight + 1 > a->peak)
        a->peak = (uint64_t)a->inflight + 1;
    uv_mutex_unlock(&a->lock);
}

/* Moves as on as far as it can without waiting (the loop thread). */
static void schedule(dbc_async_session *as) {
    dbc_async *a = as->a;
    dbconn_session *s = as->s;
    while (as->state == AS_IDLE && as->head) {
        dbconn *db = s->db;
        dbc_op *op = as->head;
        if (a->closing) {
            cancel_queued(as, "the dbconn was closed before this operation "
                              "ran");
            return;
        }
        /* What needs no connection completes here (callback next turn). */
        if (s->tx == DBC_TX_ABORTED && op->type != DBC_OP_ROLLBACK && !s->pc) {
            complete_head(as, dbc_session_aborted_error(
                                  s, op->type == DBC_OP_COMMIT
                                         ? "dbconn_commit_async"
                                         : "dbconn_exec_async"));
            continue;
        }
        if (!s->pc && (op->type == DBC_OP_COMMIT ||
                       op->type == DBC_OP_ROLLBACK)) {
            s->tx = DBC_TX_IDLE;
            complete_head(as, 0);
            continue;
        }
        if (!s->pc) {
            dbc_pconn *pc;
            int rc = dbc_pool_acquire_or_park(db->pool, &pc, &as->pool_w);
            if (rc == 1) {
                park(as, AS_PARKED_POOL, db->cfg.pool_timeout_ms);
                return;
            }
            if (rc < 0) {
                dbc_session_fail(s, rc);
                dbc_session_abort(s);
                complete_head(as, rc);
                continue;
            }
            s->pc = pc;
            as->pc_fresh = true;
            as->need_gate = op->type == DBC_OP_INITDB &&
                            db->drv->serialize_writers;
        }
        if (as->need_gate && !s->holds_gate && op->type != DBC_OP_ROLLBACK) {
            int rc = dbc_gate_acquire_or_park(&db->gate, s, &as->gate_w);
            if (rc == 1) {
                park(as, AS_PARKED_GATE, db->cfg.busy_timeout_ms);
                return;
            }
            s->holds_gate = true;
        }
        as->need_gate = false;
        if (a->inline_policy) {
            count_job(a);
            run_ops(as);
            uv_async_send(&a->wake); /* callbacks in a later turn */
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
        count_job(a);
        uv_mutex_lock(&a->lock);
        as->job_last = as->tail;
        uv_mutex_unlock(&a->lock);
        as->state = AS_RUNNING;
        a->inflight++;
        if (uv_queue_work(a->loop, &as->work, work_cb, after_work) != 0) {
            /* Only fails for a NULL callback: cannot happen; stay safe. */
            a->inflight--;
            as->state = AS_IDLE;
            complete_head(as, dbc_fail(DBCONN_EINVAL, "uv_queue_work failed"));
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
    dbc_async_session *list = a->start_list;
    a->start_list = NULL;
    while (list) {
        dbc_async_session *as = list;
        list = as->snext;
        as->snext = NULL;
        as->to_start = false;
        schedule(as);
    }
    start_throttled(a);
    deliver(a);
    maybe_finish_close(a);
}

static void start_later(dbc_async_session *as) {
    dbc_async *a = as->a;
    if (as->to_start || as->state != AS_IDLE)
        return; /* a running job or a parked wait picks the op up */
    as->to_start = true;
    as->snext = a->start_list;
    a->start_list = as;
    uv_idle_start(&a->starter, on_start);
}

/* Grants arriving from other threads, then callbacks. */
static void on_wake(uv_async_t *h) {
    dbc_async *a = CONTAINER(h, dbc_async, wake);
    uv_mutex_lock(&a->lock);
    dbc_async_session *list = a->ready;
    a->ready = NULL;
    uv_mutex_unlock(&a->lock);
    while (list) {
        dbc_async_session *as = list;
        list = as->rnext;
        as->rnext = NULL;
        unlink_parked(as);
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
        schedule(as);
    }
    rearm_timer(a);
    start_throttled(a);
    deliver(a);
    maybe_finish_close(a);
}

/* ---- lifetime ----------------------------------------------------------- */

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
    if (uv_async_init(a->loop, &a->wake, on_wake)) {
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
    as->pool_w.ready = pool_ready;
    as->gate_w.ready = gate_ready;
    as->anext = a->all;
    if (a->all)
        a->all->aprev = as;
    a->all = as;
    s->async = as;
    return as;
}

static void free_state(dbc_async_session *as) {
    dbc_async *a = as->a;
    uv_mutex_lock(&a->lock); /* its finished ops no longer point at it */
    for (dbc_op *op = a->done_head; op; op = op->next)
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
        dbc_async_session **pp = &a->start_list;
        while (*pp != as)
            pp = &(*pp)->snext;
        *pp = as->snext;
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
    update_ref(a);
    start_later(as);
    return 0;
}

bool dbc_async_session_busy(const dbconn_session *s) {
    const dbc_async_session *as = s->async;
    /* An idle session has no job that could be changing its queue. */
    return as && (as->state != AS_IDLE || as->head);
}

void dbc_async_session_drop(dbconn_session *s) {
    if (s->async && s->async->state == AS_IDLE && !s->async->head)
        free_state(s->async);
}

int dbc_async_session_close(dbconn_session *s) {
    dbc_async_session *as = s->async;
    if (!as)
        return 0;
    if (as->free_pending)
        return 1;
    cancel_queued(as, "the session was closed before this operation ran");
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
        if (!unpark(as)) {
            as->cancelled = true;
            as->a->grants_expected++;
            as->free_pending = true;
            return 1;
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
    free_state(as);
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


static void maybe_finish_close(dbc_async *a) {
    if (!a->closing || a->torn_down || a->delivering || a->inflight ||
        a->grants_expected || a->qhead)
        return;
    deliver(a); /* the cancelled ops, before the memory goes */
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
        cancel_queued(as, "the dbconn was closed before this operation ran");
        if (as->state == AS_PARKED_POOL || as->state == AS_PARKED_GATE) {
            if (!unpark(as)) {
                as->cancelled = true;
                a->grants_expected++;
            }
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
        maybe_finish_close(a);
        return a->close_err;
    }
    update_ref(a);
    uv_async_send(&a->wake); /* the rest happens in later loop turns */
    return first;
}
