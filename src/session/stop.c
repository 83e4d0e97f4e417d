/* Stopping a session's statement: dbconn_cancel from any thread, and the
 * statement timeout (the engine's statement_timeout, or the session's own).
 *
 * The owner publishes the connection a run uses (run_conn) for its
 * duration; a cancel counts itself in (cancelling), reads run_conn and
 * asks the driver to stop what runs there.  A run's end unpublishes the
 * connection and then waits until no cancel is under way, before the
 * driver forgets the request and the connection can go to another
 * session.  Both sides use sequentially consistent operations: a cancel
 * that saw the connection is counted before the end looks, so the end
 * waits for it -- a cancel can never reach a statement of another session
 * that the pooled connection serves next, nor linger until the next
 * statement of this one. */
#include <sched.h>

#include "engine/engine.h"
#include "session/session.h"

/* The timeout of s's next statement: its own, else the engine's. */
static int timeout_of(const dbconn_session *s) {
    int own = atomic_load_explicit(&s->statement_timeout,
                                   memory_order_relaxed);
    return own >= 0 ? own : s->db->cfg.statement_timeout_ms;
}

int dbc_session_run_start(dbconn_session *s, dbc_conn *c) {
    if (s->run_depth++ > 0)
        return 0; /* inside a run (a row callback's statement): its limit */
    int rc = s->drv->arm(c, timeout_of(s), true);
    if (rc) {
        s->run_depth = 0;
        return rc;
    }
    atomic_store(&s->run_conn, c);
    return 0;
}

int dbc_session_run_next(dbconn_session *s, dbc_conn *c) {
    if (s->run_depth == 0)
        return dbc_session_run_start(s, c);
    return s->drv->arm(c, timeout_of(s), false);
}

int dbc_session_run_code(dbconn_session *s, dbc_conn *c, int rc) {
    return rc < 0 && s->run_depth > 0 ? s->drv->stop_code(c, rc) : rc;
}

void dbc_session_run_end(dbconn_session *s, dbc_conn *c) {
    if (s->run_depth == 0 || --s->run_depth > 0)
        return;
    atomic_store(&s->run_conn, NULL);
    while (atomic_load(&s->cancelling) > 0)
        (void)sched_yield(); /* a cancel request being sent: rare, short */
    s->drv->disarm(c);
}

int dbconn_cancel(dbconn_session *s) {
    if (!s)
        return dbc_fail(DBCONN_EINVAL, "dbconn_cancel: session is NULL");
    atomic_fetch_add(&s->cancelling, 1);
    dbc_conn *c = atomic_load(&s->run_conn);
    if (c)
        s->drv->cancel(c);
    atomic_fetch_sub(&s->cancelling, 1);
    return 0;
}

int dbconn_session_set_statement_timeout(dbconn_session *s, int ms) {
    if (!s)
        return dbc_fail(DBCONN_EINVAL,
                        "dbconn_session_set_statement_timeout: session is "
                        "NULL");
    if (ms == DBCONN_NONE)
        ms = 0;
    if (ms < -1 || ms > 86400000)
        return dbc_session_fail(
            s, dbc_fail(DBCONN_EINVAL,
                        "dbconn_session_set_statement_timeout: %d ms is "
                        "invalid: expected 1..86400000 (a limit), 0 or "
                        "DBCONN_NONE (no limit) or -1 (the engine's "
                        "statement_timeout)",
                        ms));
    atomic_store_explicit(&s->statement_timeout, ms, memory_order_relaxed);
    return 0;
}
