/* dbconn_init_db_async: the same plan and statements as dbconn_init_db
 * (initdb.c), run as operations of an internal session's queue: first the
 * look, in a read transaction (deferred: no write gate, no write lock);
 * only when a table or index is missing, the one IMMEDIATE write
 * transaction, queued from the look's callback.  The base is bound on the
 * loop thread just before the user's callback. */
#include <stdio.h>

#include "async/api.h"
#include "model/base.h"
#include "model/initdb.h"
#include "util/alloc.h"
#include "util/callout.h"

typedef struct initdb_job {
    dbc_ddl ddl;
    dbconn_base *base;
    dbconn *db;
    bool missing;       /* what the look found */
    dbconn_done_cb cb;  /* the user's, after the look or the write */
    void *data;
} initdb_job;

/* The look (on the job's thread, in a deferred transaction): ends it
 * either way; DBC_RETRY when a lock must be waited for first. */
static int look(dbconn_session *s, void *arg) {
    initdb_job *j = arg;
    const dbc_dialect *d = j->db->drv->dialect;
    int rc = 0;
    j->missing = false;
    for (size_t i = 0; i < j->ddl.n && !rc && !j->missing; i++) {
        const dbc_ddl_stmt *st = &j->ddl.stmts[i];
        dbconn_result *r = NULL;
        const char *sql = st->index ? d->index_exists_sql : d->table_exists_sql;
        dbconn_value name = DBCONN_TEXT(st->index ? st->index : st->table);
        rc = dbc_session_exec_held(s, NULL, sql, &name, 1, &r,
                                   "dbconn_init_db_async");
        j->missing = !rc && dbconn_result_nrows(r) == 0;
        dbconn_result_free(r);
    }
    if (rc == 0 || rc == DBC_RETRY) {
        (void)dbc_session_rollback_tx(s); /* it only read */
        return rc;
    }
    /* The failure's message, copied before the rollback (which may record
     * messages of its own). */
    int native = s->native;
    char msg[DBC_ERRMSG_MAX];
    (void)snprintf(msg, sizeof msg, "%s", s->errmsg);
    (void)dbc_session_rollback_tx(s);
    return dbc_session_fail(
        s, dbc_fail_native(rc, native,
                           "init_db: looking up the existing tables failed: "
                           "%s; nothing was created",
                           msg));
}

static int run(dbconn_session *s, void *arg) {
    return dbc_initdb_run_held(s, &((initdb_job *)arg)->ddl);
}

static int settle(void *arg) {
    initdb_job *j = arg;
    return dbc_base_bind(j->base, j->db);
}

/* After the look: bind now when nothing is missing (the write's settle
 * binds otherwise). */
static int settle_look(void *arg) {
    initdb_job *j = arg;
    return j->missing ? 0 : dbc_base_bind(j->base, j->db);
}

static void job_free(void *arg) {
    initdb_job *j = arg;
    if (!j)
        return;
    dbc_ddl_free(&j->ddl);
    dbc_free(j);
}

/* Queues one operation of the job on a new internal session. */
static int submit(initdb_job *j, const dbc_call *call, dbconn_done_cb cb,
                  void *data) {
    dbconn_session *s = NULL;
    int rc = dbc_session_new(j->db, NULL, &s);
    if (!rc)
        rc = dbc_async_submit_call(s, call, s, cb, data);
    if (rc)
        dbc_session_free(s);
    return rc;
}

/* The look's callback (loop thread): done, or the write transaction. */
static void after_look(int status, void *arg) {
    initdb_job *j = arg;
    if (status == 0 && j->missing) {
        dbc_call call = {.run = run, .settle = settle, .free = job_free,
                         .arg = j, .begin_mode = DBCONN_BEGIN_IMMEDIATE};
        int rc = submit(j, &call, j->cb, j->data);
        if (rc == 0)
            return;
        /* The dbconn began closing in between: as for queued work. */
        status = rc == DBCONN_ECLOSED ? DBCONN_ECANCELED : rc;
    }
    dbconn_done_cb cb = j->cb;
    void *data = j->data;
    job_free(j);
    if (cb) /* NULL: no callback, as for any async call */
        cb(status, data);
}

/* Validation and rendering happen here, so a bad model or a double bind is
 * an error of the call. */
int dbconn_init_db_async(dbconn *db, dbconn_base *base, dbconn_done_cb cb,
                         void *data) {
    DBC_REFUSE_IN_CALLOUT("dbconn_init_db_async");
    if (!db)
        return dbc_fail(DBCONN_EINVAL, "dbconn_init_db_async: db is NULL");
    if (atomic_load(&db->closing))
        return dbc_fail(DBCONN_ECLOSED, "dbconn_init_db_async: the dbconn is "
                                        "closing");
    initdb_job *j = dbc_calloc(1, sizeof *j);
    if (!j)
        return dbc_nomem();
    j->base = base ? base : dbconn_active_record_base();
    j->db = db;
    j->cb = cb;
    j->data = data;
    int rc = dbc_initdb_plan(db, j->base, &j->ddl);
    const dbc_dialect *d = db->drv->dialect;
    if (!rc && j->ddl.n && d->table_exists_sql && d->index_exists_sql) {
        dbc_call call = {.run = look, .settle = settle_look, .free = NULL,
                         .arg = j, .begin_mode = DBCONN_BEGIN_DEFERRED};
        rc = submit(j, &call, after_look, j);
    } else if (!rc) {
        j->missing = true; /* nothing to look at (or no way to): create */
        dbc_call call = {.run = run, .settle = settle, .free = job_free,
                         .arg = j, .begin_mode = DBCONN_BEGIN_IMMEDIATE};
        rc = submit(j, &call, cb, data);
    }
    if (rc)
        job_free(j);
    return rc;
}
