/* dbconn_init_db: create a base's tables in one transaction, then bind the
 * base's session pointer; and dbconn_base_ddl, which shows the statements.
 *
 * init_db and dbconn_close must not race on the same dbconn (the caller
 * orders them); init_db on different dbconns may run concurrently. */
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"
#include "model/base.h"
#include "model/ddl.h"
#include "engine/engine.h"
#include "util/error.h"

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

/* What a failed step left in its session, copied before the rollback and
 * close (which may record messages of their own). */
typedef struct failure {
    int rc, native;
    char sqlstate[6];
    char msg[DBC_ERRMSG_MAX];
} failure;

static void failure_take(failure *f, dbconn_session *s, int rc) {
    f->rc = rc;
    f->native = dbconn_session_db_errcode(s);
    (void)snprintf(f->sqlstate, sizeof f->sqlstate, "%s",
                   dbconn_session_sqlstate(s));
    (void)snprintf(f->msg, sizeof f->msg, "%s", dbconn_session_errmsg(s));
    dbconn_rollback(s);
    dbconn_session_close(s);
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

/* All statements or none: one IMMEDIATE transaction (DDL is transactional
 * in SQLite and PostgreSQL).  A failure is recorded as the thread's message
 * naming the table and the statement. */
static int run_ddl(dbconn *db, const dbc_ddl *ddl) {
    if (ddl->n == 0)
        return 0;
    dbconn_session *s;
    int rc = dbconn_session_open(db, &s);
    if (rc)
        return rc;
    failure f;
    rc = dbconn_begin(s, DBCONN_BEGIN_IMMEDIATE);
    if (rc) {
        failure_take(&f, s, rc);
        dbc_fail_native(f.rc, f.native,
                        "init_db: cannot begin the schema transaction: %s",
                        f.msg);
        dbc_set_sqlstate(f.sqlstate);
        return f.rc;
    }
    for (size_t i = 0; i < ddl->n; i++) {
        const dbc_ddl_stmt *st = &ddl->stmts[i];
        rc = dbconn_exec(s, st->sql, NULL, 0, NULL);
        if (rc == 0)
            continue;
        failure_take(&f, s, rc);
        rc = dbc_initdb_stmt_failed(st, f.rc, f.native, f.msg);
        dbc_set_sqlstate(f.sqlstate); /* the server's, as with native */
        return rc;
    }
    rc = dbconn_commit(s);
    if (rc) {
        failure_take(&f, s, rc);
        dbc_fail_native(f.rc, f.native,
                        "init_db: committing the schema failed: %s; nothing "
                        "was created",
                        f.msg);
        dbc_set_sqlstate(f.sqlstate);
        return f.rc;
    }
    dbconn_session_close(s);
    return 0;
}

int dbconn_init_db(dbconn *db, dbconn_base *base) {
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
