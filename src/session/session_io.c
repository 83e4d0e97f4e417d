/* A session's statements driven by the loop (the driver's io entries;
 * the async layer's loop policy): dbconn_exec's work in two halves -- at
 * the sending, the checks, the transaction's start, the statement and its
 * binding, the echo; when the outcome has arrived, the rows and the
 * counts -- and COMMIT and ROLLBACK likewise.  Several statements of the
 * session may be in flight; its connection goes back only when none is
 * (dbc_session_io_settle), by the same rules as after a dbconn_exec. */
#include "engine/echo.h"
#include "engine/engine.h"
#include "session/session.h"

/* Records the failure on s and aborts it (later work: DBCONN_EABORTED). */
static int fail_abort(dbconn_session *s, int rc) {
    dbc_session_fail(s, rc);
    dbc_session_abort(s);
    return rc;
}

/* A statement that could not be sent aborts the transaction; what was
 * sent before it is not aborted by it: those outcomes are taken as they
 * come (io_abort_sent), each its own. */
static int send_failed(dbconn_session *s, int rc) {
    s->io_abort_sent = true;
    return fail_abort(s, rc);
}

int dbc_session_io_send(dbconn_session *s, const char *sql,
                        const dbconn_value *params, size_t nparams,
                        const char *what) {
    const dbc_driver *drv = s->db->drv;
    int rc;
    if (s->tx == DBC_TX_ABORTED)
        return dbc_session_aborted_error(s, what);
    if (s->tx == DBC_TX_IDLE && (rc = dbc_session_begin_held(s, 0, sql)) != 0)
        return send_failed(s, rc);
    /* The batch is a run dbconn_cancel can stop: open until it settles;
     * each statement gets its timeout as it is sent. */
    if ((rc = dbc_stop_next(&s->stop, s->pc->conn,
                            s->db->cfg.statement_timeout_ms)) != 0)
        return send_failed(s, rc);
    dbc_run rs;
    if ((rc = dbc_session_run_bind(s, sql, sql, params, nparams, &rs)) != 0)
        return send_failed(s, rc);
    rc = drv->io->send(rs.st);
    /* Back to the cache at once: the next run may be bound and sent
     * before this one's outcome arrives. */
    dbc_stmtcache_put(&s->pc->cache, rs.entry, rs.st);
    return rc ? send_failed(s, rc) : 0;
}

int dbc_session_io_recv(dbconn_session *s, const char *sql,
                        dbconn_result **out, const char *what) {
    const dbc_driver *drv = s->db->drv;
    dbc_conn *conn = s->pc->conn;
    if (out)
        *out = NULL;
    if (s->tx == DBC_TX_ABORTED && !s->io_abort_sent) {
        /* an earlier outcome failed: this one is aborted by it */
        (void)drv->io->receive(conn, NULL);
        return dbc_session_aborted_error(s, what);
    }
    dbc_run rs;
    int rc = dbc_session_run_take(s, sql, sql, &rs);
    if (rc) {
        (void)drv->io->receive(conn, NULL);
        return fail_abort(s, rc);
    }
    if (rs.writes && out)
        rs.total = drv->total_changes(conn);
    rc = dbc_session_run_rows(s, &rs, drv->io->receive(conn, rs.st), out);
    return rc ? fail_abort(s, rc) : 0;
}

int dbc_session_io_send_end(dbconn_session *s, bool commit, bool *sent,
                            const char *what) {
    dbconn *db = s->db;
    *sent = false;
    if (commit && s->tx == DBC_TX_IDLE)
        return 0;
    if (commit && s->tx == DBC_TX_ABORTED)
        return dbc_session_aborted_error(s, what);
    if (!commit && !s->pc) /* nothing on a connection to roll back */
        return dbc_session_rollback_tx(s);
    if (DBC_ECHO(db))
        dbc_log_line(&db->log, DBCONN_LOG_INFO, commit ? "COMMIT"
                                                       : "ROLLBACK");
    int rc = db->drv->io->send_control(
        s->pc->conn, commit ? DBC_CTL_COMMIT : DBC_CTL_ROLLBACK);
    if (rc) {
        if (commit)
            return fail_abort(s, rc);
        s->io_end = s->io_discard = true; /* not given to anyone else */
        return dbc_session_fail(s, rc);
    }
    *sent = true;
    return 0;
}

int dbc_session_io_recv_end(dbconn_session *s, bool commit) {
    int rc = s->db->drv->io->receive(s->pc->conn, NULL);
    if (commit) {
        if (rc) /* the transaction is over anyway (the server's rule) */
            return fail_abort(s, rc);
        s->io_end = true;
        return 0;
    }
    s->io_end = true;
    if (rc) {
        s->io_discard = true; /* a connection that cannot roll back */
        return dbc_session_fail(s, rc);
    }
    return 0;
}

bool dbc_session_io_settle(dbconn_session *s, bool keep_idle) {
    s->io_abort_sent = false; /* every outcome sent is taken */
    if (!s->pc)
        return false;
    dbc_stop_end(&s->stop, s->pc->conn);
    if (s->io_end) {
        bool discard = s->io_discard;
        s->io_end = s->io_discard = false;
        dbc_session_release(s, discard);
        return false;
    }
    /* A statement that ended the transaction itself, a failed BEGIN, an
     * autocommit run, a lost connection: nothing holds it any more. */
    if (s->db->drv->in_transaction(s->pc->conn))
        return false;
    bool clean = s->tx == DBC_TX_IDLE || (s->auto_tx && s->tx == DBC_TX_ACTIVE);
    if (keep_idle && clean && !s->holds_gate) {
        /* What dbc_session_release does, but the connection */
        s->tx = DBC_TX_IDLE;
        s->wrote = false;
        s->auto_tx = false;
        return true; /* the caller releases it (dbc_session_io_release) */
    }
    dbc_session_release(s, false);
    return false;
}

void dbc_session_io_release(dbconn_session *s) {
    if (s->pc && s->tx == DBC_TX_IDLE &&
        !s->db->drv->in_transaction(s->pc->conn))
        dbc_session_release(s, false);
}
