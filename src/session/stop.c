/* Stopping a session's statement (stop.h): dbconn_cancel from any thread,
 * and the statement timeout (the engine's statement_timeout, or the
 * session's own).
 *
 * The owner publishes the connection a run uses (conn) for its duration;
 * a cancel counts itself in (cancelling), reads conn and asks the driver
 * to stop what runs there.  A run's end withdraws the connection and then
 * waits until no cancel is under way, before the driver forgets the
 * request and the connection can go to another session.  Both sides use
 * sequentially consistent operations: a cancel that saw the connection
 * was counted before the end looked, so the end waits for it -- a cancel
 * can never reach a statement of another session that the pooled
 * connection serves next, nor linger until the next statement of this
 * one. */
#include <sched.h>

#include "session/stop.h"
#include "util/error.h"

void dbc_stop_init(dbc_stop *st, const dbc_driver *drv) {
    atomic_init(&st->conn, NULL);
    atomic_init(&st->cancelling, 0);
    atomic_init(&st->timeout, -1); /* the engine's */
    st->depth = 0;
    st->drv = drv;
}

static int timeout_of(const dbc_stop *st, int engine_ms) {
    int own = atomic_load_explicit(&st->timeout, memory_order_relaxed);
    return own >= 0 ? own : engine_ms;
}

int dbc_stop_start(dbc_stop *st, dbc_conn *c, int engine_ms) {
    if (st->depth++ > 0)
        return 0; /* inside a run (a row callback's statement): its limit */
    int rc = st->drv->arm(c, timeout_of(st, engine_ms), true);
    if (rc) {
        st->depth = 0;
        return rc;
    }
    atomic_store(&st->conn, c);
    return 0;
}

int dbc_stop_next(dbc_stop *st, dbc_conn *c, int engine_ms) {
    if (st->depth == 0)
        return dbc_stop_start(st, c, engine_ms);
    return st->drv->arm(c, timeout_of(st, engine_ms), false);
}

int dbc_stop_code(dbc_stop *st, dbc_conn *c, int rc) {
    return rc < 0 && st->depth > 0 ? st->drv->stop_code(c, rc) : rc;
}

void dbc_stop_end(dbc_stop *st, dbc_conn *c) {
    if (st->depth == 0 || --st->depth > 0)
        return;
    atomic_store(&st->conn, NULL);
    while (atomic_load(&st->cancelling) > 0)
        (void)sched_yield(); /* a cancel request being sent: rare, short */
    st->drv->disarm(c);
}

void dbc_stop_end_all(dbc_stop *st, dbc_conn *c) {
    if (st->depth == 0)
        return;
    st->depth = 1;
    dbc_stop_end(st, c);
}

void dbc_stop_cancel(dbc_stop *st) {
    atomic_fetch_add(&st->cancelling, 1);
    dbc_conn *c = atomic_load(&st->conn);
    if (c)
        st->drv->cancel(c);
    atomic_fetch_sub(&st->cancelling, 1);
}

int dbc_stop_set_timeout(dbc_stop *st, int ms) {
    if (ms == DBCONN_NONE)
        ms = 0;
    if (ms < -1 || ms > 86400000)
        return dbc_fail(DBCONN_EINVAL,
                        "dbconn_session_set_statement_timeout: %d ms is "
                        "invalid: expected 1..86400000 (a limit), 0 or "
                        "DBCONN_NONE (no limit) or -1 (the engine's "
                        "statement_timeout)",
                        ms);
    atomic_store_explicit(&st->timeout, ms, memory_order_relaxed);
    return 0;
}
