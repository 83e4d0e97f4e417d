/* The async forms of the record calls and queries, built on the public
 * async API only: a job queues its statements with dbconn_exec_async and a
 * dbconn_commit_async right behind them -- back-to-back on one session, so
 * they run in one thread-pool hop -- and delivers one callback when the
 * commit (or, after a failure, the rollback it then queues) has reported.
 *
 * Every statement of a job is known at submission: a save is an UPDATE by
 * key then an INSERT of the row if the key is absent; relationship loads
 * select through the main query as a subquery.  Job state is touched only
 * on the loop thread (at submission and in callbacks, which run in
 * submission order per session).  Once one operation is queued the call
 * has been accepted: a later submission that fails is reported through
 * the callback. */
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"
#include "model/base.h"
#include "model/model.h"
#include "model/record.h"
#include "model/record_bulk.h"
#include "model/record_fetch.h"
#include "model/record_map.h"
#include "model/record_query.h"
#include "model/record_rel.h"
#include "model/record_rows.h"
#include "model/record_sql.h"
#include "util/error.h"

enum { K_CREATE, K_SAVE, K_GET, K_DELETE, K_MANY, K_ROWS, K_COUNT,
       K_CHANGES };

typedef struct rjob {
    dbconn_session *s;
    dbc_rctx c;            /* its plan is read at submission only */
    dbc_roles roles;       /* what callbacks need of the plan */
    int kind;
    int status, native;    /* the first failure */
    char *msg;             /* owned: its message, naming the model */
    bool rollback;         /* a statement or the commit failed */
    size_t nexec, nseen;   /* statements queued / reported */
    bool commit_queued;
    unsigned char *objs;   /* borrowed: structs written back into */
    size_t n;
    size_t touched;        /* structs 0..touched-1 were written into */
    dbc_written *saved;    /* owned: what to put back on failure */
    bool *returning;       /* owned: which INSERTs return a generated key */
    char *keytext;         /* owned: the key, for "no row" messages */
    dbconn_rows *rows;     /* owned until delivered */
    int64_t count;
    int mode;              /* DBC_FETCH_* for K_ROWS */
    dbc_rel *loads;        /* owned copies of the query's */
    char **names;
    size_t nloads;
    union {
        dbconn_done_cb done;
        dbconn_rows_cb rows;
        dbconn_count_cb count;
    } cb;
    void *data;
} rjob;

static void job_free(rjob *j) {
    dbc_free(j->msg);
    dbc_free(j->saved);
    dbc_free(j->returning);
    dbc_free(j->keytext);
    dbconn_rows_free(j->rows);
    for (size_t i = 0; i < j->nloads; i++)
        dbc_free(j->names[i]);
    dbc_free(j->names);
    dbc_free(j->loads);
    dbc_free(j);
}

/* Keeps the first failure.  `library`: the message is the library's (of a
 * callback), and gets the model and the call in front. */
static void fail_once(rjob *j, int rc, bool library) {
    if (j->status)
        return;
    j->status = rc;
    j->native = dbconn_db_errcode(NULL);
    j->rollback = library && rc != DBCONN_ECANCELED;
    dbc_buf b = DBC_BUF_INIT;
    if (library)
        dbc_buf_printf(&b, "model \"%s\": %s: ", j->roles.m->table, j->c.what);
    dbc_buf_puts(&b, dbconn_errmsg(NULL));
    j->msg = dbc_buf_take(&b);
}

static void put_back_all(rjob *j) {
    size_t size = j->roles.m->struct_size;
    for (size_t i = 0; j->saved && i < j->touched; i++)
        dbc_put_back(&j->roles, j->objs + i * size, j->saved[i]);
}

/* The one callback of the job; then it is gone. */
static void deliver(rjob *j) {
    int status = j->status;
    if (status) {
        put_back_all(j);
        dbconn_rows_free(j->rows);
        j->rows = NULL;
        dbc_fail_native(status, j->native, "%s",
                        j->msg ? j->msg : dbconn_strerror(status));
    } else if (j->kind == K_ROWS &&
               (status = dbc_fetch_finish(j->roles.m, j->c.what, j->mode,
                                          &j->rows)) != 0) {
        dbconn_rows_free(j->rows);
        j->rows = NULL;
    }
    dbconn_rows *rows = j->rows;
    j->rows = NULL;
    if (j->kind == K_GET || j->kind == K_ROWS)
        j->cb.rows(status, rows, j->data);
    else if (j->kind == K_COUNT || j->kind == K_CHANGES) {
        if (j->cb.count)
            j->cb.count(status, status ? 0 : j->count, j->data);
    }
    else if (j->cb.done)
        j->cb.done(status, j->data);
    job_free(j);
}

static void on_rollback(int status, void *data) {
    (void)status; /* the failure that made us roll back is what counts */
    deliver(data);
}

/* After the statements (and the commit, when it was queued): a failure the
 * database saw leaves the transaction to roll back. */
static void settle(rjob *j) {
    if (j->rollback && dbconn_rollback_async(j->s, on_rollback, j) == 0)
        return;
    deliver(j);
}

static void on_commit(int status, void *data) {
    rjob *j = data;
    if (status < 0) {
        bool earlier = j->status != 0;
        fail_once(j, status, true);
        j->rollback |= earlier && status != DBCONN_ECANCELED;
    }
    settle(j);
}

/* ---- what each statement's result means ----------------------------------- */

static void write_key(rjob *j, size_t i, const dbconn_result *res) {
    if (j->returning && j->returning[i] && dbconn_result_nrows(res))
        dbc_field_set_i64(&j->roles.m->columns[j->roles.gen],
                          j->objs + i * j->roles.m->struct_size,
                          dbconn_result_int(res, 0, 0));
}

/* A save's UPDATE brings the stored created_at back. */
static void write_created(rjob *j, const dbconn_result *res) {
    const dbc_roles *r = &j->roles;
    int64_t stored;
    const char *text = r->created_at >= 0 ? dbconn_result_text(res, 0, 0)
                                          : NULL;
    if (text && dbconn_timestamp_parse(text, &stored) == 0)
        dbc_field_set_i64(&r->m->columns[r->created_at], j->objs, stored);
}

static int no_row(rjob *j) {
    return dbc_fail(DBCONN_ENOTFOUND, "model \"%s\": %s: no row with %s",
                    j->roles.m->table, j->c.what,
                    j->keytext ? j->keytext : "that key");
}

static int load_result(rjob *j, size_t k, dbconn_result *res) {
    if (!j->rows || j->rows->n == 0) {
        dbconn_result_free(res);
        return 0;
    }
    dbconn_rows *related;
    int rc = dbc_rows_from_result(j->loads[k].other, res, &related);
    return rc ? rc : dbc_rel_attach(j->rows, &j->loads[k], j->names[k],
                                    related);
}

/* Takes res (frees it or keeps it). */
static int take_result(rjob *j, size_t i, dbconn_result *res) {
    int rc = 0;
    switch (j->kind) {
    case K_CREATE:
    case K_MANY:
        write_key(j, i, res);
        break;
    case K_SAVE: /* a keyed save: its UPDATE, then its INSERT */
        if (i == 0)
            write_created(j, res);
        break;
    case K_GET:
        if (dbconn_result_nrows(res) == 0)
            rc = no_row(j);
        else
            return dbc_rows_from_result(j->roles.m, res, &j->rows);
        break;
    case K_DELETE:
        if (dbconn_result_changes(res) == 0)
            rc = no_row(j);
        break;
    case K_ROWS:
        if (i > 0)
            return load_result(j, i - 1, res);
        return dbc_rows_from_result(j->roles.m, res, &j->rows);
    case K_COUNT:
        j->count = dbconn_result_int(res, 0, 0);
        break;
    default: /* K_CHANGES */
        j->count = dbconn_result_changes(res);
        break;
    }
    dbconn_result_free(res);
    return rc;
}

static void on_exec(int status, dbconn_result *res, void *data) {
    rjob *j = data;
    size_t i = j->nseen++;
    if (status < 0) {
        fail_once(j, status, true);
    } else if (j->status == 0) {
        int rc = take_result(j, i, res);
        res = NULL;
        if (rc)
            fail_once(j, rc, false);
    }
    dbconn_result_free(res);
    if (!j->commit_queued && j->nseen == j->nexec)
        settle(j);
}

/* ---- submission ----------------------------------------------------------- */

static int new_job(dbconn_session *s, dbconn_base *b, const dbconn_model *m,
                   const char *what, int kind, rjob **out) {
    *out = NULL;
    rjob *j = dbc_calloc(1, sizeof *j);
    if (!j)
        return dbc_nomem();
    int rc = dbc_rctx_plan(&j->c, b, m, what);
    if (rc == 0)
        rc = dbc_rctx_session(&j->c, s);
    if (rc) {
        job_free(j);
        return rc;
    }
    j->s = j->c.s;
    j->roles = dbc_rplan_roles(j->c.p);
    j->kind = kind;
    *out = j;
    return 0;
}

/* A call refused before anything was queued: the structs it touched are
 * put back and the job is gone; the callback will not run. */
static int refuse(rjob *j, int rc) {
    char msg[DBC_ERRMSG_MAX];
    int native = dbconn_db_errcode(NULL);
    (void)snprintf(msg, sizeof msg, "%s", dbconn_errmsg(NULL));
    put_back_all(j);
    job_free(j);
    return dbc_fail_native(rc, native, "%s", msg);
}

/* A failure once statements are queued is the job's: they run, and the
 * transaction they leave is rolled back before the callback. */
static void fail_queued(rjob *j, int rc) {
    fail_once(j, rc, false);
    j->rollback = true;
}

/* Queues one statement (none after a failure).  Returns the failure only
 * while nothing is queued. */
static int queue(rjob *j, const char *sql, const dbconn_value *params,
                 size_t n) {
    if (j->status)
        return 0;
    int rc = dbconn_exec_async(j->s, sql, params, n, on_exec, j);
    if (rc == 0)
        j->nexec++;
    else if (j->nexec)
        fail_queued(j, rc);
    return j->nexec ? 0 : rc;
}

/* Ends a submission that met `rc`: refused while nothing is queued, else
 * accepted -- with the commit queued behind the statements, or, after a
 * failure, the last statement's callback settling the job. */
static int launch(rjob *j, int rc) {
    if (rc && !j->nexec)
        return refuse(j, rc);
    if (rc)
        fail_queued(j, rc);
    if (j->status)
        return 0;
    if ((rc = dbconn_commit_async(j->s, on_commit, j)) == 0) {
        j->commit_queued = true;
        return 0;
    }
    if (!j->nexec)
        return refuse(j, rc);
    fail_queued(j, rc);
    return 0;
}

/* Room to remember and restore n structs. */
static int track(rjob *j, void *objs, size_t n) {
    j->objs = objs;
    j->n = n;
    j->saved = dbc_calloc(n ? n : 1, sizeof *j->saved);
    j->returning = dbc_calloc(n ? n : 1, sizeof *j->returning);
    return j->saved && j->returning ? 0 : dbc_nomem();
}

/* Touches struct i and queues its INSERT. */
static int queue_create(rjob *j, size_t i, dbconn_timestamp now,
                        dbc_rvals *rv) {
    void *obj = j->objs + i * j->c.p->m->struct_size;
    const char *sql;
    j->saved[i] = dbc_remember(&j->roles, obj);
    j->touched = i + 1;
    dbc_touch(j->c.p, obj, now, true);
    dbc_rvals_reset(rv);
    int rc = dbc_create_stmt(j->c.p, obj, rv, &sql, &j->returning[i]);
    return rc ? rc : queue(j, sql, rv->v, rv->n);
}

static int submit_creates(rjob *j, void *objs, size_t n) {
    dbc_rvals rv;
    dbconn_timestamp now = dbconn_timestamp_now();
    int rc = track(j, objs, n);
    if (rc == 0)
        rc = dbc_rvals_init(&rv, j->c.p->ncols, j->c.p->nts);
    if (rc)
        return refuse(j, rc);
    for (size_t i = 0; rc == 0 && i < n && !j->status; i++)
        rc = queue_create(j, i, now, &rv);
    dbc_rvals_free(&rv);
    return launch(j, rc);
}

static int need(bool given, const char *what, const char *name) {
    return given ? 0
                 : dbc_fail(DBCONN_EINVAL, "%s: %s is NULL", what, name);
}

int dbconn_record_create_async(dbconn_session *s, dbconn_base *b,
                               const dbconn_model *m, void *obj,
                               dbconn_done_cb cb, void *data) {
    const char *what = "dbconn_record_create_async";
    rjob *j;
    int rc = need(obj != NULL, what, "obj");
    if (rc || (rc = new_job(s, b, m, what, K_CREATE, &j)) != 0)
        return rc;
    j->cb.done = cb;
    j->data = data;
    return submit_creates(j, obj, 1);
}

int dbconn_record_insert_many_async(dbconn_session *s, dbconn_base *b,
                                    const dbconn_model *m, void *objs,
                                    size_t n, dbconn_done_cb cb, void *data) {
    const char *what = "dbconn_record_insert_many_async";
    rjob *j;
    int rc = n ? need(objs != NULL, what, "objs") : 0;
    if (rc || (rc = new_job(s, b, m, what, K_MANY, &j)) != 0)
        return rc;
    j->cb.done = cb;
    j->data = data;
    return submit_creates(j, objs, n);
}

/* A save of a keyed struct: UPDATE by key, then INSERT if absent. */
static int submit_save_keyed(rjob *j, void *obj) {
    const dbc_rplan *p = j->c.p;
    uint64_t mask = 0;
    dbc_rvals upd, ins;
    bool have_upd = p->save_sql != NULL;
    int rc = track(j, obj, 1);
    if (rc == 0 && have_upd)
        rc = dbc_update_mask(p, NULL, 0, &mask);
    if (rc)
        return refuse(j, rc);
    j->saved[0] = dbc_remember(&j->roles, obj);
    j->touched = 1;
    dbc_touch(p, obj, dbconn_timestamp_now(), true);
    rc = dbc_rvals_init(&upd, p->ncols + p->npk, p->nts + p->npk);
    if (rc == 0 && (rc = dbc_rvals_init(&ins, p->ncols + p->npk,
                                        p->nts + p->npk)) != 0)
        dbc_rvals_free(&upd);
    if (rc)
        return refuse(j, rc);
    if (have_upd && (rc = dbc_update_vals(p, mask, obj, &upd)) == 0)
        rc = queue(j, p->save_sql, upd.v, upd.n);
    for (size_t i = 0; rc == 0 && i < p->m->ncolumns; i++)
        rc = dbc_rvals_field(&ins, p->m, i, obj);
    if (rc == 0 && (rc = dbc_rvals_key(&ins, p, obj)) == 0)
        rc = queue(j, p->insert_absent_sql, ins.v, ins.n);
    dbc_rvals_free(&upd);
    dbc_rvals_free(&ins);
    return launch(j, rc);
}

int dbconn_record_save_async(dbconn_session *s, dbconn_base *b,
                             const dbconn_model *m, void *obj,
                             dbconn_done_cb cb, void *data) {
    const char *what = "dbconn_record_save_async";
    rjob *j;
    int rc = need(obj != NULL, what, "obj");
    if (rc || (rc = new_job(s, b, m, what, K_SAVE, &j)) != 0)
        return rc;
    j->cb.done = cb;
    j->data = data;
    const dbc_rplan *p = j->c.p;
    if (p->m->ncolumns > 64)
        return refuse(j, dbc_update_mask(p, NULL, 0, &(uint64_t){0}));
    if (p->gen >= 0 && dbc_field_i64(&p->m->columns[p->gen], obj) == 0) {
        j->kind = K_CREATE;
        return submit_creates(j, obj, 1);
    }
    return submit_save_keyed(j, obj);
}

/* The key's parameters (coerced per column) and its text for messages. */
static int key_params(rjob *j, const dbconn_value *key, size_t nkey,
                      dbc_rvals *rv) {
    int rc = dbc_check_key(&j->c, key, nkey);
    if (rc == 0)
        rc = dbc_rvals_init(rv, nkey, nkey);
    for (size_t k = 0; rc == 0 && k < nkey; k++)
        rc = dbc_rvals_value(rv, &j->c.p->m->columns[j->c.p->pk[k]], &key[k]);
    if (rc == 0 && !(j->keytext = dbc_key_text(j->c.p, key, nkey)))
        rc = dbc_nomem();
    return rc;
}

int dbconn_record_get_async(dbconn_session *s, dbconn_base *b,
                            const dbconn_model *m, const dbconn_value *key,
                            size_t nkey, dbconn_rows_cb cb, void *data) {
    const char *what = "dbconn_record_get_async";
    rjob *j;
    dbc_rvals rv = {0};
    int rc = need(cb != NULL, what, "cb");
    if (rc || (rc = new_job(s, b, m, what, K_GET, &j)) != 0)
        return rc;
    j->cb.rows = cb;
    j->data = data;
    if ((rc = key_params(j, key, nkey, &rv)) == 0)
        rc = queue(j, j->c.p->get_sql, rv.v, rv.n);
    dbc_rvals_free(&rv);
    return launch(j, rc);
}

int dbconn_record_delete_async(dbconn_session *s, dbconn_base *b,
                               const dbconn_model *m, const void *obj,
                               dbconn_done_cb cb, void *data) {
    const char *what = "dbconn_record_delete_async";
    rjob *j;
    dbc_rvals rv = {0};
    int rc = need(obj != NULL, what, "obj");
    if (rc || (rc = new_job(s, b, m, what, K_DELETE, &j)) != 0)
        return rc;
    j->cb.done = cb;
    j->data = data;
    const dbc_rplan *p = j->c.p;
    if ((rc = dbc_rvals_init(&rv, p->npk, p->npk)) == 0 &&
        (rc = dbc_rvals_key(&rv, p, obj)) == 0 &&
        !(j->keytext = dbc_key_text(p, rv.v, rv.n)))
        rc = dbc_nomem();
    if (rc == 0)
        rc = queue(j, p->delete_sql, rv.v, rv.n);
    dbc_rvals_free(&rv);
    return launch(j, rc);
}

/* ---- queries ---------------------------------------------------------------- */

static int query_job(dbconn_query *q, const char *what, int kind,
                     rjob **out) {
    *out = NULL;
    int rc = dbc_query_check(q);
    if (rc)
        return rc;
    rc = new_job(q->s, q->c.b, q->c.p->m, what, kind, out);
    return rc;
}

/* Copies the query's relationships into the job (the query may be freed
 * as soon as the call returns). */
static int copy_loads(rjob *j, const dbconn_query *q) {
    if (!q->nloads)
        return 0;
    j->loads = dbc_malloc(q->nloads * sizeof *j->loads);
    j->names = dbc_calloc(q->nloads, sizeof *j->names);
    if (!j->loads || !j->names)
        return dbc_nomem();
    for (; j->nloads < q->nloads; j->nloads++) {
        j->loads[j->nloads] = q->loads[j->nloads];
        if (!(j->names[j->nloads] = dbc_strdup(q->load_names[j->nloads])))
            return dbc_nomem();
    }
    return 0;
}

static int queue_stmt(rjob *j, dbc_qstmt *st) {
    int rc = queue(j, st->sql, st->params, st->nparams);
    dbc_qstmt_free(st);
    return rc;
}

static int fetch_async(dbconn_query *q, int mode, const char *what,
                       dbconn_rows_cb cb, void *data) {
    rjob *j;
    int rc = need(cb != NULL, what, "cb");
    if (rc || (rc = query_job(q, what, K_ROWS, &j)) != 0)
        return rc;
    j->cb.rows = cb;
    j->data = data;
    j->mode = mode;
    int64_t limit = dbc_fetch_limit(q, mode);
    dbc_qstmt st;
    if ((rc = copy_loads(j, q)) == 0 &&
        (rc = dbc_query_render(q, DBC_QK_ROWS, limit, &st)) == 0)
        rc = queue_stmt(j, &st);
    for (size_t k = 0; rc == 0 && k < q->nloads; k++)
        if ((rc = dbc_query_render_load(q, k, limit, &st)) == 0)
            rc = queue_stmt(j, &st);
    return launch(j, rc);
}

int dbconn_query_all_async(dbconn_query *q, dbconn_rows_cb cb, void *data) {
    return fetch_async(q, DBC_FETCH_ALL, "dbconn_query_all_async", cb, data);
}

int dbconn_query_first_async(dbconn_query *q, dbconn_rows_cb cb,
                             void *data) {
    return fetch_async(q, DBC_FETCH_FIRST, "dbconn_query_first_async", cb,
                       data);
}

/* A job of one statement reported through a count callback. */
static int count_job(dbconn_query *q, const char *what, int kind,
                     dbconn_count_cb cb, void *data, rjob **out) {
    int rc = query_job(q, what, kind, out);
    if (rc)
        return rc;
    (*out)->cb.count = cb;
    (*out)->data = data;
    return 0;
}

static int submit_one(rjob *j, int rc, dbc_qstmt *st) {
    if (rc == 0)
        rc = queue_stmt(j, st);
    return launch(j, rc);
}

int dbconn_query_count_async(dbconn_query *q, dbconn_count_cb cb,
                             void *data) {
    rjob *j;
    dbc_qstmt st;
    int rc = count_job(q, "dbconn_query_count_async", K_COUNT, cb, data, &j);
    if (rc)
        return rc;
    return submit_one(j, dbc_query_render(q, DBC_QK_COUNT, q->limit, &st),
                      &st);
}

int dbconn_query_update_async(dbconn_query *q, const char *const *columns,
                              const dbconn_value *values, size_t nvalues,
                              dbconn_count_cb cb, void *data) {
    rjob *j;
    dbc_qstmt st = {0};
    int *cols = NULL;
    int rc = count_job(q, "dbconn_query_update_async", K_CHANGES, cb, data,
                       &j);
    if (rc)
        return rc;
    if (nvalues && !values)
        rc = dbc_fail(DBCONN_EINVAL, "dbconn_query_update_async: values is "
                                     "NULL");
    if (rc == 0 && (rc = dbc_query_update_cols(q, columns, nvalues,
                                               &cols)) == 0)
        rc = dbc_query_render_update(q, cols, values, nvalues, &st);
    dbc_free(cols);
    if (rc) {
        dbc_qstmt_free(&st);
        return refuse(j, rc);
    }
    return submit_one(j, 0, &st);
}

int dbconn_query_delete_async(dbconn_query *q, dbconn_count_cb cb,
                              void *data) {
    rjob *j;
    dbc_qstmt st;
    int rc = count_job(q, "dbconn_query_delete_async", K_CHANGES, cb, data,
                       &j);
    if (rc)
        return rc;
    return submit_one(j, dbc_query_render_delete(q, &st), &st);
}
