/* PostgreSQL failures: SQLSTATE -> DBCONN_E* code, one message line with
 * the server's words, the SQLSTATE and the constraint, never a password
 * (libpq's messages carry none; URLs are quoted masked). */
#include <stdio.h>
#include <string.h>

#include "util/buf.h"
#include "driver/postgres/pg_int.h"

int dbc_pg_sqlstate_code(const char *s) {
    int code = 0;
    for (int i = 0; i < 5 && s[i]; i++)
        code |= ((s[i] - '0') & 0x3F) << (6 * i);
    return code;
}

static bool starts(const char *state, const char *prefix) {
    return state && strncmp(state, prefix, strlen(prefix)) == 0;
}

bool dbc_pg_conn_lost(const dbc_conn *c, const PGresult *res) {
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    /* Class 08 (connection exception) and the server going away:
     * admin_shutdown, crash_shutdown, cannot_connect_now. */
    if (starts(state, "08") || starts(state, "57P0"))
        return true;
    return PQstatus(c->pg) == CONNECTION_BAD;
}

/* The code for a SQLSTATE (c tells who asked for a cancel). */
static int map_state(dbc_conn *c, const char *state, const char *msg) {
    bool interrupted = atomic_exchange(&c->interrupted, false);
    if (starts(state, "23"))
        return DBCONN_ECONSTRAINT;
    if (starts(state, "40001") || starts(state, "40P01") ||
        starts(state, "55P03"))
        return DBCONN_EBUSY;
    if (starts(state, "57014")) {
        /* query_canceled: our own cancel request, a cancel from elsewhere
         * (pg_cancel_backend: "user request") or statement_timeout. */
        if (interrupted || (msg && strstr(msg, "user request")))
            return DBCONN_EINTERRUPTED;
        return DBCONN_ESTMTTIMEOUT;
    }
    if (starts(state, "53200"))
        return DBCONN_ENOMEM;
    return DBCONN_EDB;
}

void dbc_pg_conn_message(PGconn *pg, char *out, size_t cap) {
    const char *m = pg ? PQerrorMessage(pg) : "out of memory";
    size_t n = 0;
    for (; *m && n + 1 < cap; m++) {
        bool blank = *m == ' ' || *m == '\n' || *m == '\t' || *m == '\r';
        if (blank && (n == 0 || out[n - 1] == ' '))
            continue; /* one space for any run of blanks */
        if (blank)
            out[n++] = ' ';
        else
            out[n++] = *m;
    }
    while (n && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
}

/* A hint for the mistakes that typing parameters brings. */
static const char *hint_for(const char *state) {
    if (starts(state, "42804") || starts(state, "42883"))
        return " (parameters are typed by the value first bound: INTEGER "
               "as bigint, REAL as double precision, BOOLEAN as boolean, "
               "BLOB as bytea, TEXT and TIMESTAMP as the SQL needs; bind "
               "DBCONN_TYPE_BOOLEAN for a boolean column)";
    if (starts(state, "57014"))
        return " (statement_timeout, or a cancel request)";
    if (starts(state, "55P03"))
        return " (lock_timeout: busy_timeout_ms sets it)";
    return "";
}

int dbc_pg_fail(dbc_conn *c, const PGresult *res, const char *sql) {
    char conn_msg[512];
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary =
        res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL)
                             : NULL;
    const char *constraint =
        res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
    int code;
    if (dbc_pg_conn_lost(c, res)) {
        code = DBCONN_ECONNLOST;
        atomic_store(&c->interrupted, false);
    } else if (!state && !res) {
        code = DBCONN_ENOMEM; /* libpq could not make a result */
    } else {
        code = map_state(c, state, primary);
    }
    if (!primary) {
        dbc_pg_conn_message(c->pg, conn_msg, sizeof conn_msg);
        primary = conn_msg[0] ? conn_msg : "no message from the server";
    }
    dbc_buf b = DBC_BUF_INIT;
    dbc_buf_printf(&b, "postgresql: %s", primary);
    if (state)
        dbc_buf_printf(&b, " [SQLSTATE %s]", state);
    if (constraint)
        dbc_buf_printf(&b, "; constraint \"%s\"", constraint);
    if (detail)
        dbc_buf_printf(&b, "; %s", detail);
    dbc_buf_puts(&b, hint_for(state));
    if (code == DBCONN_ECONNLOST)
        dbc_buf_puts(&b, "; the connection was lost (the server rolls back "
                         "an open transaction; a COMMIT in flight may have "
                         "taken effect)");
    if (sql) {
        size_t n = strlen(sql);
        dbc_buf_puts(&b, " in \"");
        dbc_buf_append(&b, sql, n > 200 ? 200 : n);
        dbc_buf_puts(&b, n > 200 ? "...\"" : "\"");
    }
    dbc_fail_native(code, state ? dbc_pg_sqlstate_code(state) : 0, "%s",
                    b.oom ? "postgresql: (out of memory for the message)"
                          : b.data);
    dbc_buf_free(&b);
    dbc_set_sqlstate(state);
    return code;
}
