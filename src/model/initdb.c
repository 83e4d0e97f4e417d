/* dbconn_init_db: create a base's tables in one transaction -- after a
 * look in a read transaction, so that a base whose tables and indexes all
 * exist never takes the write lock -- then bind the base's session
 * pointer; and dbconn_base_ddl, which shows the statements.
 * The statements run through dbc_initdb_run_held, which the async form
 * (initdb_async.c) runs in a job.
 *
 * init_db and dbconn_close must not race on the same dbconn (the caller
 * orders them); init_db on different dbconns may run concurrently. */
#include <stdio.h>
#include <string.h>

#include "model/base.h"
#include "model/initdb.h"
#include "session/session.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/callout.h"

int dbc_initdb_plan(dbconn *db, dbconn_base *b, dbc_ddl *out) {
    *out = (dbc_ddl){0};
    int rc = dbc_base_check_bind(b, db);
    if (rc)
        return rc;
    const dbconn_model **models;
    size_t n;
    rc = dbc_base_snapshot(b, &models, &n);
    if (rc)
        return rc;
    rc = dbc_ddl_build(db->drv->dialect, models, n, out);
    dbc_free(models);
    return rc;
}

int dbc_initdb_stmt_failed(const dbc_ddl_stmt *st, int rc, int native,
                           const char *msg) {
    /* The driver's message may quote the statement already; once is
     * enough (the message has DBC_ERRMSG_MAX bytes). */
    const char *sep = strstr(msg, st->sql) ? "" : "; SQL: ";
    const char *sql = *sep ? st->sql : "";
    if (st->index)
        return dbc_fail_native(rc, native,
                               "init_db: creating index \"%s\" on table "
                               "\"%s\" failed: %s%s%s; nothing was created",
                               st->index, st->table, msg, sep, sql);
    return dbc_fail_native(rc, native,
                           "init_db: creating table \"%s\" failed: %s%s%s; "
                           "nothing was created", st->table, msg, sep, sql);
}

/* What a failed step left in its session, copied before the rollback
 * (which may record messages of its own). */
typedef struct failure {
    int rc, native;
    char sqlstate[6];
    char msg[DBC_ERRMSG_MAX];
} failure;

static void failure_take(failure *f, dbconn_session *s, int rc) {
    f->rc = rc;
    f->native = s->native;
    memcpy(f->sqlstate, s->sqlstate, sizeof f->sqlstate);
    (void)snprintf(f->msg, sizeof f->msg, "%s", s->errmsg);
    (void)dbc_session_rollback_tx(s);
}

/* Records a failure built from f, keeping the server's SQLSTATE (the
 * formatting call clears it, as it does the native code). */
static int failure_fail(dbconn_session *s, failure *f, int rc) {
    dbc_set_sqlstate(f->sqlstate);
    return dbc_session_fail(s, rc);
}

/* After CREATE INDEX IF NOT EXISTS: 1 when the dialect's check says the
 * index's name is held by something else (the statement was skipped), 0
 * when not, else the failure. */
static int index_taken(dbconn_session *s, const dbc_ddl_stmt *st) {
    const char *sql = s->db->drv->dialect->index_taken_sql;
    if (!sql || !st->index)
        return 0;
    dbconn_value p[2] = {DBCONN_TEXT(st->index), DBCONN_TEXT(st->table)};
    dbconn_result *r = NULL;
    int rc = dbc_session_exec_held(s, NULL, sql, p, 2, &r, "dbconn_init_db");
    if (rc == 0)
        rc = dbconn_result_int(r, 0, 0) != 0;
    dbconn_result_free(r);
    return rc;
}

int dbc_initdb_run_held(dbconn_session *s, const dbc_ddl *ddl) {
    failure f;
    for (size_t i = 0; i < ddl->n; i++) {
        const dbc_ddl_stmt *st = &ddl->stmts[i];
        int rc = dbc_session_exec_held(s, NULL, st->sql, NULL, 0, NULL,
                                       "dbconn_init_db");
        if (rc == 0 && (rc = index_taken(s, st)) == 1) {
            (void)dbc_session_rollback_tx(s);
            return dbc_session_fail(
                s, dbc_initdb_stmt_failed(
                       st, DBCONN_EDB, 0,
                       "the name is already taken by a relation that is "
                       "not an index on this table (IF NOT EXISTS skipped "
                       "the statement)"));
        }
        if (rc == 0)
            continue;
        if (rc == DBC_RETRY) { /* another connection's lock: later */
            (void)dbc_session_rollback_tx(s);
            return rc;
        }
        failure_take(&f, s, rc);
        return failure_fail(
            s, &f, dbc_initdb_stmt_failed(st, f.rc, f.native, f.msg));
    }
    int rc = dbc_session_commit_tx(s, "dbconn_init_db");
    if (rc == 0 || rc == DBC_RETRY)
        return rc;
    failure_take(&f, s, rc);
    return failure_fail(
        s, &f, dbc_fail_native(f.rc, f.native,
                               "init_db: committing the schema failed: %s; "
                               "nothing was created", f.msg));
}

/* Looks up whether some table or index of ddl does not exist yet, in a
 * read transaction (the dialect's queries), so that init_db of a complete
 * schema never takes the write lock: 0 with *missing set, or the failure
 * of the look (e.g. DBCONN_EBUSY on an in-memory database while another
 * session writes: the write would have to wait for it too), recorded as
 * the thread's message.  A dialect that cannot tell: always missing. */
static int find_missing(dbconn *db, const dbc_ddl *ddl, bool *missing) {
    const dbc_dialect *d = db->drv->dialect;
    *missing = true;
    if (!d->table_exists_sql || !d->index_exists_sql)
        return 0;
    dbconn_session *s;
    int rc = dbconn_session_open(db, &s);
    if (rc)
        return rc;
    rc = dbconn_begin(s, DBCONN_BEGIN_DEFERRED);
    *missing = false;
    for (size_t i = 0; i < ddl->n && !rc && !*missing; i++) {
        const dbc_ddl_stmt *st = &ddl->stmts[i];
        dbconn_result *r = NULL;
        const char *sql = st->index ? d->index_exists_sql : d->table_exists_sql;
        const char *name = st->index ? st->index : st->table;
        rc = dbconn_exec(s, sql, DBCONN_PARAMS(DBCONN_TEXT(name)), &r);
        *missing = !rc && dbconn_result_nrows(r) == 0;
        dbconn_result_free(r);
    }
    if (rc) { /* the message is the session's: keep it past the close */
        int native = s->native;
        char state[6], msg[DBC_ERRMSG_MAX];
        memcpy(state, s->sqlstate, sizeof state);
        (void)snprintf(msg, sizeof msg, "%s", s->errmsg);
        dbconn_session_close(s);
        rc = dbc_fail_native(rc, native,
                             "init_db: looking up the existing tables "
                             "failed: %s; nothing was created", msg);
        dbc_set_sqlstate(state);
        return rc;
    }
    (void)dbconn_rollback(s); /* it only read */
    dbconn_session_close(s);
    return 0;
}

/* All statements or none: one IMMEDIATE transaction (DDL is transactional
 * in SQLite and PostgreSQL).  A failure is recorded as the thread's message
 * naming the table and the statement. */
static int run_ddl(dbconn *db, const dbc_ddl *ddl) {
    bool missing;
    if (ddl->n == 0)
        return 0;
    int rc = find_missing(db, ddl, &missing);
    if (rc || !missing)
        return rc;
    dbconn_session *s;
    rc = dbconn_session_open(db, &s);
    if (rc)
        return rc;
    rc = dbconn_begin(s, DBCONN_BEGIN_IMMEDIATE);
    if (rc) {
        int native = s->native;
        char state[6], msg[DBC_ERRMSG_MAX];
        memcpy(state, s->sqlstate, sizeof state);
        (void)snprintf(msg, sizeof msg, "%s", s->errmsg);
        dbconn_session_close(s);
        rc = dbc_fail_native(rc, native,
                             "init_db: cannot begin the schema "
                             "transaction: %s", msg);
        dbc_set_sqlstate(state);
        return rc;
    }
    rc = dbc_initdb_run_held(s, ddl);
    if (rc) { /* the message is the thread's: keep it past the close */
        char state[6], msg[DBC_ERRMSG_MAX];
        int native = dbc_last_native();
        memcpy(state, dbc_last_sqlstate(), sizeof state);
        (void)snprintf(msg, sizeof msg, "%s", dbc_last_msg());
        dbconn_session_close(s);
        rc = dbc_fail_native(rc, native, "%s", msg);
        dbc_set_sqlstate(state);
        return rc;
    }
    dbconn_session_close(s);
    return 0;
}

int dbconn_init_db(dbconn *db, dbconn_base *base) {
    DBC_REFUSE_IN_CALLOUT("dbconn_init_db");
    if (!db)
        return dbc_fail(DBCONN_EINVAL, "dbconn_init_db: db is NULL");
    dbconn_base *b = base ? base : dbconn_active_record_base();
    dbc_ddl ddl;
    int rc = dbc_initdb_plan(db, b, &ddl);
    if (rc == 0)
        rc = run_ddl(db, &ddl);
    dbc_ddl_free(&ddl);
    if (rc == 0)
        rc = dbc_base_bind(b, db);
    return rc;
}

int dbconn_base_ddl(dbconn *db, dbconn_base *base, char **out) {
    if (out)
        *out = NULL;
    DBC_REFUSE_IN_CALLOUT("dbconn_base_ddl");
    if (!db || !out)
        return dbc_fail(DBCONN_EINVAL,
                        "dbconn_base_ddl: db and out must not be NULL");
    dbconn_base *b = base ? base : dbconn_active_record_base();
    const dbconn_model **models;
    size_t n;
    int rc = dbc_base_snapshot(b, &models, &n);
    if (rc)
        return rc;
    dbc_ddl ddl;
    rc = dbc_ddl_build(db->drv->dialect, models, n, &ddl);
    dbc_free(models);
    if (rc)
        return rc;
    *out = dbc_ddl_join(&ddl);
    dbc_ddl_free(&ddl);
    return *out ? 0 : dbc_nomem();
}
