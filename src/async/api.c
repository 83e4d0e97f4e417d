/* Submission: the public async calls validate, copy what the caller lent
 * them and queue one op on the session; the layers above queue their own
 * operations (dbc_async_submit_call).  A call that returns an error never
 * calls its callback. */
#include <stdint.h>
#include <string.h>

#include "async/api.h"
#include "async/close.h"
#include "async/ops.h"
#include "async/park.h"
#include "async/schedule.h"
#include "util/alloc.h"
#include "util/callout.h"

/* Checks the session and its dbconn; records the failure on the thread. */
static int usable(dbconn_session *s, const char *what) {
    DBC_REFUSE_IN_CALLOUT(what);
    if (!s)
        return dbc_fail(DBCONN_EINVAL, "%s: session is NULL", what);
    if (!s->db)
        return dbc_fail(DBCONN_ECLOSED,
                        "%s: the session is closed (its dbconn was closed)",
                        what);
    if (atomic_load(&s->db->closing))
        return dbc_fail(DBCONN_ECLOSED, "%s: the dbconn is closing", what);
    if (atomic_load(&s->close_pending))
        return dbc_fail(DBCONN_ECLOSED,
                        "%s: the session was closed inside its own row "
                        "callback", what);
    /* A job would use the connection the iteration is stepping on. */
    if (atomic_load(&s->iterating))
        return dbc_fail(DBCONN_EINVAL,
                        "%s: called from inside a dbconn_exec_each row "
                        "callback on the same session; use another session, "
                        "or submit after dbconn_exec_each returns", what);
    return 0;
}

/* Queues op on s (the loop thread only; a is s's engine's, from
 * dbc_async_get); the op is owned by the layer from here on and its
 * callback runs exactly once. */
static int submit(dbc_async *a, dbconn_session *s, dbc_op *op) {
    bool fresh = !s->async;
    dbc_async_session *as = dbc_async_state_of(s, a, &dbc_async_session_hooks);
    if (!as)
        return dbc_nomem();
    if (fresh)
        dbc_async_park_init(as);
    if (as->free_pending)
        return dbc_fail(DBCONN_ECLOSED, "the session is being closed");
    op->task = dbconn_current_task();
    op->s = s;
    op->next = NULL;
    uv_mutex_lock(&a->lock);
    if (as->tail)
        as->tail->next = op;
    else
        as->head = op;
    as->tail = op;
    uv_mutex_unlock(&a->lock);
    a->pending++;
    dbc_async_update_ref(a);
    dbc_async_start_later(as);
    return 0;
}

static size_t value_bytes(const dbconn_value *v) {
    if (v->type == DBCONN_TYPE_TEXT || v->type == DBCONN_TYPE_TIMESTAMP) {
        if (!v->u.b.ptr)
            return 0;
        return (v->u.b.len == DBCONN_NTS ? strlen(v->u.b.ptr) : v->u.b.len) + 1;
    }
    return v->type == DBCONN_TYPE_BLOB ? v->u.b.len : 0;
}

/* One allocation: the op, the parameter array and every text and blob
 * byte; and the SQL interned -- nothing the caller lent us is read after
 * the call. */
static int new_exec_op(dbc_async *a, const char *sql,
                       const dbconn_value *params, size_t n, dbc_op **out) {
    *out = NULL;
    if (n && !params)
        return dbc_fail(DBCONN_EINVAL, "dbconn_exec_async: params is NULL");
    if (n > UINT32_MAX)
        return dbc_fail(DBCONN_EINVAL,
                        "dbconn_exec_async: %zu parameters (at most %u)", n,
                        UINT32_MAX);
    size_t extra = 0;
    for (size_t i = 0; i < n; i++) {
        int t = params[i].type;
        if (t < DBCONN_TYPE_NULL || t > DBCONN_TYPE_TIMESTAMP)
            return dbc_fail(DBCONN_EINVAL,
                            "dbconn_exec_async: parameter %zu has unknown "
                            "type %d",
                            i + 1, t);
        if (t == DBCONN_TYPE_BLOB && !params[i].u.b.ptr && params[i].u.b.len)
            return dbc_fail(DBCONN_EINVAL,
                            "dbconn_exec_async: parameter %zu: blob pointer "
                            "is NULL",
                            i + 1);
        extra += value_bytes(&params[i]);
    }
    size_t size = sizeof(dbc_op) + n * sizeof(dbconn_value) + extra;
    dbc_op *op = dbc_calloc(1, size);
    if (!op)
        return dbc_nomem();
    if (!(op->u.sql = dbc_sqltext_get(&a->texts, sql))) {
        dbc_free(op);
        return dbc_nomem();
    }
    dbconn_value *vals = (dbconn_value *)(void *)(op + 1);
    char *bytes = (char *)(vals + n);
    for (size_t i = 0; i < n; i++) {
        vals[i] = params[i];
        size_t len = value_bytes(&params[i]);
        if (!len || !params[i].u.b.ptr) /* (no bytes: nothing to copy) */
            continue;
        bool text = params[i].type != DBCONN_TYPE_BLOB;
        memcpy(bytes, params[i].u.b.ptr, text ? len - 1 : len);
        if (text)
            bytes[len - 1] = '\0';
        vals[i].u.b.ptr = bytes;
        vals[i].u.b.len = text ? len - 1 : len;
        bytes += len;
    }
    op->type = DBC_OP_EXEC;
    op->nparams = (uint32_t)n;
    *out = op;
    return 0;
}

int dbconn_exec_async(dbconn_session *s, const char *sql,
                      const dbconn_value *params, size_t nparams,
                      dbconn_exec_cb cb, void *data) {
    int rc = usable(s, "dbconn_exec_async");
    if (rc)
        return rc;
    if (!sql)
        return dbc_fail(DBCONN_EINVAL, "dbconn_exec_async: sql is NULL");
    if (nparams && !params)
        return dbc_fail(DBCONN_EINVAL,
                        "dbconn_exec_async: params is NULL but nparams is %zu",
                        nparams);
    dbc_async *a;
    dbc_op *op = NULL;
    if ((rc = dbc_async_get(s->db, &a)) != 0 ||
        (rc = new_exec_op(a, sql, params, nparams, &op)) != 0)
        return rc;
    op->cb.exec = cb;
    op->data = data;
    if ((rc = submit(a, s, op)) != 0)
        dbc_op_free(a, op);
    return rc;
}

static int submit_done(dbconn_session *s, int type, dbconn_done_cb cb,
                       void *data, const char *what) {
    dbc_async *a;
    int rc = usable(s, what);
    if (rc || (rc = dbc_async_get(s->db, &a)) != 0)
        return rc;
    dbc_op *op = dbc_calloc(1, sizeof *op);
    if (!op)
        return dbc_nomem();
    op->type = (unsigned char)type;
    op->cb.done = cb;
    op->data = data;
    if ((rc = submit(a, s, op)) != 0)
        dbc_op_free(a, op);
    return rc;
}

int dbconn_commit_async(dbconn_session *s, dbconn_done_cb cb, void *data) {
    return submit_done(s, DBC_OP_COMMIT, cb, data, "dbconn_commit_async");
}

int dbconn_rollback_async(dbconn_session *s, dbconn_done_cb cb, void *data) {
    return submit_done(s, DBC_OP_ROLLBACK, cb, data, "dbconn_rollback_async");
}

int dbc_async_submit_call(dbconn_session *s, const dbc_call *call,
                          dbconn_session *own, dbconn_done_cb cb,
                          void *data) {
    dbc_async *a;
    int rc = dbc_async_get(s->db, &a);
    if (rc)
        return rc;
    dbc_op *op = dbc_calloc(1, sizeof *op);
    dbc_op_call *oc = dbc_calloc(1, sizeof *oc);
    if (!op || !oc) {
        dbc_free(op);
        dbc_free(oc);
        return dbc_nomem();
    }
    oc->call = *call;
    oc->own = own;
    op->type = DBC_OP_CALL;
    op->u.call = oc;
    op->cb.done = cb;
    op->data = data;
    if ((rc = submit(a, s, op)) != 0) {
        oc->call.free = NULL; /* the caller keeps arg on failure */
        dbc_op_free(a, op);
    }
    return rc;
}
