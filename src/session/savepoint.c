/* Savepoints: SAVEPOINT / RELEASE / ROLLBACK TO inside the session's
 * transaction.  ROLLBACK TO also recovers an aborted transaction, as it does
 * on PostgreSQL. */
#include <stdio.h>
#include <string.h>

#include "engine/engine.h"
#include "session/session.h"
#include "util/text.h"

static int valid_name(const char *name) {
    if (!name || !*name || strlen(name) > 64)
        return 0;
    if (!((*name >= 'a' && *name <= 'z') || (*name >= 'A' && *name <= 'Z') ||
          *name == '_'))
        return 0;
    return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789_") == strlen(name);
}

static int run(dbconn_session *s, const char *what, const char *verb,
               const char *name, bool needs_tx) {
    int rc = dbc_session_check(s, what);
    if (rc)
        return rc;
    if (!valid_name(name)) {
        char shown[512];
        return dbc_session_fail(
            s, dbc_fail(DBCONN_EINVAL,
                        "%s: bad savepoint name \"%s\" (letters, digits and "
                        "'_', not starting with a digit, at most 64)",
                        what, dbc_show(name, shown, sizeof shown)));
    }
    bool recover = strcmp(verb, "ROLLBACK TO SAVEPOINT") == 0;
    if (s->tx == DBC_TX_ABORTED && !recover)
        return dbc_session_aborted_error(s, what);
    if (needs_tx && !s->pc)
        return dbc_session_fail(
            s, dbc_fail(DBCONN_EINVAL, "%s: no transaction is open", what));
    if (s->tx == DBC_TX_IDLE && (rc = dbconn_begin(s, 0)) != 0)
        return rc;
    /* Quoted, so a keyword ("select") is a fine name too. */
    char sql[128];
    (void)snprintf(sql, sizeof sql, "%s \"%s\"", verb, name); /* fits: name
                                                                 <= 64 */
    if (DBC_ECHO(s->db))
        dbc_log_line(&s->db->log, DBCONN_LOG_INFO, sql);
    if ((rc = dbc_session_settle(s)) == 0)
        rc = s->db->drv->exec_script(s->pc->conn, sql);
    if (rc) {
        dbc_session_fail(s, rc);
        if (!recover)
            dbc_session_abort(s);
        return rc;
    }
    if (recover)
        s->tx = DBC_TX_ACTIVE;
    return 0;
}

int dbconn_savepoint(dbconn_session *s, const char *name) {
    return run(s, "dbconn_savepoint", "SAVEPOINT", name, false);
}

int dbconn_savepoint_release(dbconn_session *s, const char *name) {
    return run(s, "dbconn_savepoint_release", "RELEASE SAVEPOINT", name, true);
}

int dbconn_savepoint_rollback(dbconn_session *s, const char *name) {
    return run(s, "dbconn_savepoint_rollback", "ROLLBACK TO SAVEPOINT", name,
               true);
}
