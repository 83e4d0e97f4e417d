/* Closing sessions and dbconns with async work (see close.h). */
#include "async/close.h"
#include "async/finish.h"
#include "async/io.h"
#include "async/ops.h"
#include "async/park.h"
#include "async/schedule.h"
#include "util/callout.h"

static bool busy(const dbconn_session *s) {
    const dbc_async_session *as = s->async;
    /* An idle session has no job that could be changing its queue. */
    return as && (as->state != AS_IDLE || as->head);
}

static void detach(dbconn_session *s) {
    if (s->async && s->async->state == AS_IDLE && !s->async->head)
        dbc_async_free_state(s->async);
}

/* A grant still on its way: the loop gives it back when it arrives. */
static int expect_grant(dbc_async_session *as) {
    as->cancelled = true;
    as->a->grants_expected++;
    as->free_pending = true;
    return 1;
}

/* Cancels s's queued operations (DBCONN_ECANCELED); 0 when s may be freed
 * now, 1 when the layer frees it itself once its running work ends. */
static int closing(dbconn_session *s) {
    dbc_async_session *as = s->async;
    if (!as)
        return 0;
    if (as->free_pending)
        return 1;
    dbc_async_cancel_queued(as, "the session was closed before this "
                                "operation ran");
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
            return expect_grant(as);
        case DBC_TAKEN: /* running in another session's job */
            as->free_pending = true;
            return 1;
        default:
            break;
        }
        break;
    case AS_GRANTED:
        return expect_grant(as);
    case AS_RUNNING:
    case AS_IO:
        as->free_pending = true;
        return 1;
    default:
        break;
    }
    dbc_async_free_state(as);
    return 0;
}

/* A connection given back on the loop thread (a synchronous statement
 * run from a callback ended the transaction, or a kept one went back):
 * its socket is not s's to watch any more -- another session may take it
 * in this same turn (dbc_async_io_forget).  A job gives it back on a
 * worker: its watcher was closed when the job started. */
static void released(dbconn_session *s) {
    if (s->async && !s->nonblocking)
        dbc_async_io_forget(s->async);
}

const dbc_session_hooks dbc_async_session_hooks = {
    .busy = busy,
    .closing = closing,
    .detach = detach,
    .released = released,
};

static const char CLOSED_BEFORE[] =
    "the dbconn was closed before this operation ran";

int dbc_async_close(dbconn *db, int first, dbconn_done_cb cb, void *data) {
    dbc_async *a = db->async;
    a->closing = true;
    a->close_err = first;
    a->close_cb = cb;
    a->close_data = data;
    for (dbc_list *n = dbc_list_first(&a->all); n;
         n = dbc_list_next(&a->all, n)) {
        dbc_async_session *as = DBC_LIST_ENTRY(n, dbc_async_session, all);
        dbc_async_cancel_queued(as, CLOSED_BEFORE);
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
    if (!a->pending && !a->inflight && !a->io_inflight &&
        !a->grants_expected && !a->delivering &&
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

int dbconn_close_async(dbconn *db, dbconn_base *base, dbconn_done_cb cb,
                       void *data) {
    if (!db)
        return dbc_fail(DBCONN_EINVAL, "dbconn_close_async: db is NULL");
    DBC_REFUSE_IN_CALLOUT("dbconn_close_async");
    if (atomic_load(&db->closing))
        return dbc_fail(DBCONN_ECLOSED, "dbconn_close_async: already closing");
    dbc_async *a;
    int rc = dbc_async_get(db, &a); /* even without async work: cb needs the
                                        loop */
    if (rc)
        return rc;
    int first = 0;
    if (base && !dbc_engine_has_base(db, base))
        first = dbc_fail(DBCONN_EINVAL,
                         "dbconn_close_async: the base given is not bound to "
                         "this dbconn; it was left untouched");
    atomic_store(&db->closing, true);
    dbc_engine_unbind_all(db);
    if (!dbc_engine_defer_close(db, first, true, cb, data))
        (void)dbc_async_close(db, first, cb, data);
    return 0;
}
