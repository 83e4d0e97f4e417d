/* The loop policy (see io.h).
 *
 * A batch: the session's connection enters the driver's io mode, the
 * queued ops are sent in order -- as many as the pipeline allows -- and
 * a sync point ends each sending; the socket's watcher brings their
 * outcomes, taken in the same order (the rows read then, on the loop),
 * and every turn that took some sends what was queued meanwhile.  When
 * nothing sent is left the connection leaves the mode and goes back by
 * the rules of a dbconn_exec (dbc_session_io_settle), and the scheduler
 * takes the session on.
 *
 * What may not share a pipeline with what follows it ends the sending
 * until the batch is over: COMMIT and ROLLBACK (the next op begins a new
 * transaction), transaction control written as SQL, and every exec under
 * isolation_level AUTOCOMMIT -- there each statement must be its own
 * transaction, and a failure must stop the ones after it, which a
 * pipeline could not promise both of.  An op that fails before it can be
 * sent gets its outcome at once and completes after the ops sent before
 * it. */
#include "async/io.h"
#include "async/ops.h"
#include "async/sqltext.h"
#include "util/alloc.h"
#include "util/sqlverb.h"

/* Ops sent whose outcome has not been taken: enough to keep a pipeline
 * full, few enough to bound what waits in the socket buffers. */
enum { IO_DEPTH = 256 };

static const char EXEC_NAME[] = "dbconn_exec_async";

static const dbc_driver_io *io_of(const dbc_async_session *as) {
    return as->s->db->drv->io;
}

/* The head op is done with this outcome (the done list). */
static void finish_head(dbc_async_session *as, int status,
                        dbconn_result *res) {
    dbc_async *a = as->a;
    dbconn_session *s = as->s;
    uv_mutex_lock(&a->lock);
    dbc_op *op = dbc_async_pop_head_locked(as);
    uv_mutex_unlock(&a->lock);
    if (!op->io_done)
        dbc_op_set_outcome(op, status, res, s->errmsg, s->native);
    uv_mutex_lock(&a->lock);
    dbc_async_push_done_locked(a, op);
    uv_mutex_unlock(&a->lock);
}

enum { SENT, DONE_NOW, HELD, WAIT };

/* An outcome known before sending: now when op is the head, else kept
 * for its turn. */
static int settle_now(dbc_async_session *as, dbc_op *op, int rc) {
    if (as->nsent == 0) {
        finish_head(as, rc, NULL);
        return DONE_NOW;
    }
    dbc_op_set_outcome(op, rc, NULL, as->s->errmsg, as->s->native);
    op->io_done = true;
    return HELD;
}

static int send_one(dbc_async_session *as, dbc_op *op) {
    dbconn_session *s = as->s;
    int rc;
    if (op->type == DBC_OP_CALL)
        return WAIT; /* a job's, once nothing is in flight */
    if (op->type == DBC_OP_COMMIT || op->type == DBC_OP_ROLLBACK) {
        bool commit = op->type == DBC_OP_COMMIT, sent;
        rc = dbc_session_io_send_end(s, commit, &sent,
                                     commit ? "dbconn_commit_async"
                                            : "dbconn_rollback_async");
        if (!sent)
            return settle_now(as, op, rc);
        as->io_boundary = true;
        return SENT;
    }
    bool alone = s->db->cfg.autocommit ||
                 dbc_sqltext_verb(op->u.sql) == DBC_VERB_TXN;
    if (alone && as->nsent)
        return WAIT;
    rc = dbc_session_io_send(s, op->u.sql, dbc_op_params(op), op->nparams,
                             EXEC_NAME);
    if (rc)
        return settle_now(as, op, rc);
    as->io_boundary = alone;
    return SENT;
}

/* The socket's events: readable while anything is in flight, writable
 * while the driver has bytes it could not write yet. */
static void on_poll(uv_poll_t *h, int status, int events);

static void arm(dbc_async_session *as) {
    const dbc_driver_io *io = io_of(as);
    int w = io->flush(as->s->pc->conn); /* (a failure: the outcomes say) */
    int events = UV_READABLE | (w == 1 ? UV_WRITABLE : 0);
    if (events != as->poll_events && uv_poll_start(as->poll, events,
                                                   on_poll) == 0)
        as->poll_events = events;
}

static void send_more(dbc_async_session *as) {
    dbc_async *a = as->a;
    bool any = false;
    while (!as->io_boundary && as->nsent < IO_DEPTH && !a->closing &&
           !as->free_pending) {
        uv_mutex_lock(&a->lock);
        dbc_op *op = as->job_last ? as->job_last->next : as->head;
        uv_mutex_unlock(&a->lock);
        if (!op)
            break;
        int r = send_one(as, op);
        if (r == WAIT)
            break;
        if (r == DONE_NOW)
            continue;
        uv_mutex_lock(&a->lock); /* in flight: close lets it complete */
        as->job_last = op;
        uv_mutex_unlock(&a->lock);
        as->nsent++;
        any |= r == SENT;
    }
    if (any)
        (void)io_of(as)->sync(as->s->pc->conn); /* (failures: as above) */
    if (as->nsent)
        arm(as);
}

/* Takes every outcome that is there, in order; `read`: the socket said
 * readable. */
static void take_outcomes(dbc_async_session *as, bool read) {
    dbconn_session *s = as->s;
    const dbc_driver_io *io = io_of(as);
    dbc_conn *conn = s->pc->conn;
    int ready = io->poll(conn, read);
    while (as->nsent) {
        dbc_op *op = as->head;
        if (op->io_done) {
            finish_head(as, op->status, NULL);
            as->nsent--;
            continue;
        }
        if (ready != 1)
            break;
        if (op->type == DBC_OP_EXEC) {
            dbconn_result *res = NULL;
            int rc = dbc_session_io_recv(s, op->u.sql, &res, EXEC_NAME);
            finish_head(as, rc, res);
        } else {
            finish_head(as,
                        dbc_session_io_recv_end(s, op->type == DBC_OP_COMMIT),
                        NULL);
        }
        as->nsent--;
        ready = io->poll(conn, false);
    }
}

/* Nothing sent is left: the connection leaves the mode and goes back by
 * the transaction's rules.  True when the batch is over. */
static bool batch_done(dbc_async_session *as) {
    dbconn_session *s = as->s;
    const dbc_driver_io *io = io_of(as);
    if (as->nsent || !io->idle(s->pc->conn))
        return false;
    io->leave(s->pc->conn);
    as->io_boundary = false;
    as->state = AS_IDLE;
    as->a->io_inflight--;
    if (dbc_session_io_settle(s, true) && !as->release_due) {
        as->release_due = true;
        as->kept_next = as->a->kept;
        as->a->kept = as;
    }
    if (s->pc) /* still its: the next batch finds the watcher armed */
        uv_unref((uv_handle_t *)as->poll);
    else
        dbc_async_io_forget(as);
    return true;
}

void dbc_async_io_release_kept(dbc_async *a) {
    dbc_async_session **pp = &a->kept;
    while (*pp) {
        dbc_async_session *as = *pp;
        if (as->state != AS_IDLE || as->head) { /* its work goes on */
            pp = &as->kept_next;
            continue;
        }
        *pp = as->kept_next;
        as->release_due = false;
        dbc_session_io_release(as->s); /* (the released hook forgets) */
    }
}

void dbc_async_io_quiet(dbc_async_session *as) {
    if (!as->poll || !as->poll_events)
        return;
    uv_poll_stop(as->poll);
    as->poll_events = 0;
}

void dbc_async_io_forget(dbc_async_session *as) {
    dbc_async_close_poll(as);
    as->poll_events = 0;
}

static void on_poll(uv_poll_t *h, int status, int events) {
    dbc_async_session *as = h->data;
    if (as->state != AS_IO) {
        /* Between batches (a notice, the server closing): the next batch
         * or job reads it; the connection is not the loop's to touch. */
        dbc_async_io_quiet(as);
        return;
    }
    if (events & UV_WRITABLE)
        arm(as);
    take_outcomes(as, status < 0 || (events & UV_READABLE));
    send_more(as);
    take_outcomes(as, false); /* what failed at once */
    as->a->cbs.after_io(as, batch_done(as));
}

/* The watcher of fd: as's own, made anew when it has none (a session has
 * one only while it holds the connection: dbc_async_io_forget). */
static bool watch(dbc_async_session *as, int fd) {
    if (as->poll && as->poll_fd == fd)
        return true;
    dbc_async_close_poll(as);
    uv_poll_t *p = dbc_malloc(sizeof *p);
    if (!p || uv_poll_init(as->a->loop, p, fd) != 0) {
        dbc_free(p);
        return false;
    }
    p->data = as;
    as->poll = p;
    as->poll_fd = fd;
    as->poll_events = 0;
    return true;
}

bool dbc_async_io_start(dbc_async_session *as) {
    dbconn_session *s = as->s;
    const dbc_driver_io *io = io_of(as);
    if (!as->head || as->head->type == DBC_OP_CALL || !s->pc)
        return false;
    if (as->pc_fresh) { /* connecting, recycling, pinging block: a job's */
        if (!dbc_pool_prepared(s->db->pool, s->pc))
            return false;
        as->pc_fresh = false;
    }
    dbc_conn *conn = s->pc->conn;
    if (io->enter(conn) != 0) /* blocking first, or failing: a job's */
        return false;
    if (!watch(as, io->socket(conn))) {
        io->leave(conn);
        return false;
    }
    uv_ref((uv_handle_t *)as->poll); /* the loop waits for this batch */
    as->state = AS_IO;
    as->a->io_inflight++;
    as->nsent = 0;
    as->io_boundary = false;
    send_more(as);
    take_outcomes(as, false);
    (void)batch_done(as); /* nothing sent (all completed at once) */
    return true;
}

bool dbc_async_io_more(dbc_async_session *as) {
    send_more(as);
    take_outcomes(as, false);
    return batch_done(as);
}
