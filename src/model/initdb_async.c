/* dbconn_init_db_async: the same plan and statements as dbconn_init_db
 * (initdb.c), run as one operation of an internal session's queue; the
 * base is bound on the loop thread just before the callback. */
#include "async/api.h"
#include "model/base.h"
#include "model/initdb.h"
#include "util/alloc.h"
#include "util/callout.h"

typedef struct initdb_job {
    dbc_ddl ddl;
    dbconn_base *base;
    dbconn *db;
} initdb_job;

static int run(dbconn_session *s, void *arg) {
    return dbc_initdb_run_held(s, &((initdb_job *)arg)->ddl);
}

static int settle(void *arg) {
    initdb_job *j = arg;
    return dbc_base_bind(j->base, j->db);
}

static void job_free(void *arg) {
    initdb_job *j = arg;
    dbc_ddl_free(&j->ddl);
    dbc_free(j);
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
    int rc = dbc_initdb_plan(db, j->base, &j->ddl);
    dbconn_session *s = NULL;
    if (!rc)
        rc = dbc_session_new(db, NULL, &s);
    if (!rc) {
        dbc_call call = {.run = run, .settle = settle, .free = job_free,
                         .arg = j, .begin_mode = DBCONN_BEGIN_IMMEDIATE};
        rc = dbc_async_submit_call(s, &call, s, cb, data);
    }
    if (rc) {
        dbc_session_free(s);
        job_free(j);
    }
    return rc;
}
