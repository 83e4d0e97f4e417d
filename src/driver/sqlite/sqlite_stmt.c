/* The SQLite driver's statements: prepare (one statement only), bind,
 * step, reset, column names and rows read straight into a result's
 * arena. */
#include <limits.h>
#include <string.h>

#include "driver/sqlite/sqlite_conn.h"
#include "driver/sqlite/sqlite_plan.h"
#include "driver/sqlite/sqlite_stmt.h"

/* ---- statements -------------------------------------------------------- */

/* A dbc_stmt is the sqlite3_stmt itself: no wrapper, no allocation. */
#define ST(s) ((sqlite3_stmt *)(void *)(s))

/* True when `p` holds only whitespace, ';' and comments. */
static bool only_trivia(const char *p, const char *end) {
    while (p < end) {
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' ||
            *p == '\f' || *p == '\v' || *p == ';') {
            p++;
        } else if (p + 1 < end && p[0] == '-' && p[1] == '-') {
            while (p < end && *p != '\n')
                p++;
        } else if (p + 1 < end && p[0] == '/' && p[1] == '*') {
            const char *e = p + 2;
            while (e + 1 < end && !(e[0] == '*' && e[1] == '/'))
                e++;
            if (e + 1 >= end)
                return true; /* an unterminated comment runs to the end */
            p = e + 2;
        } else {
            return false;
        }
    }
    return true;
}

int dbc_sqlite_prepare(dbc_conn *c, const char *sql, size_t len,
                      dbc_stmt **out) {
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    *out = NULL;
    if (len > INT_MAX)
        return dbc_fail(DBCONN_EINVAL, "SQL text is too long (%zu bytes)", len);
    int rc = sqlite3_prepare_v3(c->db, sql, (int)len, SQLITE_PREPARE_PERSISTENT,
                                &st, &tail);
    if (rc != SQLITE_OK)
        return dbc_sqlite_fail(c->db, rc, sql);
    if (!st)
        return dbc_fail(DBCONN_EINVAL, "empty SQL statement: \"%.200s\"", sql);
    if (tail && !only_trivia(tail, sql + len)) {
        sqlite3_finalize(st);
        return dbc_fail(DBCONN_EINVAL,
                        "more than one SQL statement in \"%.200s\": "
                        "dbconn_exec runs one; use dbconn_exec_script",
                        sql);
    }
    *out = (dbc_stmt *)(void *)st;
    return 0;
}

void dbc_sqlite_finalize(dbc_stmt *s) { sqlite3_finalize(ST(s)); }

int dbc_sqlite_bind(dbc_stmt *s, const dbconn_value *p, size_t n) {
    sqlite3_stmt *st = ST(s);
    int want = sqlite3_bind_parameter_count(st);
    if ((size_t)want != n)
        return dbc_fail(DBCONN_EINVAL,
                        "statement expects %d parameter%s, %zu given: "
                        "\"%.200s\"",
                        want, want == 1 ? "" : "s", n, sqlite3_sql(st));
    for (size_t i = 0; i < n; i++) {
        int idx = (int)i + 1, rc;
        switch (p[i].type) {
        case DBCONN_TYPE_NULL:
            rc = sqlite3_bind_null(st, idx);
            break;
        case DBCONN_TYPE_INTEGER:
        case DBCONN_TYPE_BOOLEAN:
            rc = sqlite3_bind_int64(st, idx, p[i].u.i);
            break;
        case DBCONN_TYPE_REAL:
            rc = sqlite3_bind_double(st, idx, p[i].u.r);
            break;
        case DBCONN_TYPE_TEXT:
        case DBCONN_TYPE_TIMESTAMP:
            if (!p[i].u.b.ptr)
                rc = sqlite3_bind_null(st, idx);
            else
                rc = sqlite3_bind_text64(
                    st, idx, p[i].u.b.ptr,
                    p[i].u.b.len == DBCONN_NTS ? strlen(p[i].u.b.ptr)
                                               : p[i].u.b.len,
                    SQLITE_STATIC, SQLITE_UTF8);
            break;
        case DBCONN_TYPE_BLOB:
            if (!p[i].u.b.ptr && p[i].u.b.len == 0)
                rc = sqlite3_bind_zeroblob(st, idx, 0);
            else if (!p[i].u.b.ptr)
                return dbc_fail(DBCONN_EINVAL,
                                "parameter %zu: blob pointer is NULL", i + 1);
            else
                rc = sqlite3_bind_blob64(st, idx, p[i].u.b.ptr, p[i].u.b.len,
                                         SQLITE_STATIC);
            break;
        default:
            return dbc_fail(DBCONN_EINVAL, "parameter %zu: unknown type %d",
                            i + 1, p[i].type);
        }
        if (rc != SQLITE_OK)
            return dbc_sqlite_fail(sqlite3_db_handle(st), rc, sqlite3_sql(st));
    }
    return 0;
}

int dbc_sqlite_step(dbc_stmt *s) {
    sqlite3_stmt *st = ST(s);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return DBC_STEP_ROW;
    if (rc == SQLITE_DONE)
        return DBC_STEP_DONE;
    return dbc_sqlite_fail(sqlite3_db_handle(st), rc, sqlite3_sql(st));
}

/* No sqlite3_clear_bindings(): see dbc_driver.reset. */
void dbc_sqlite_reset(dbc_stmt *s) { (void)sqlite3_reset(ST(s)); }

/* After SQLITE_ROW, sqlite3_reset() reports only what halting the program
 * met. */
int dbc_sqlite_finish(dbc_stmt *s) {
    sqlite3_stmt *st = ST(s);
    int rc = sqlite3_reset(st);
    return rc == SQLITE_OK ? 0
                           : dbc_sqlite_fail(sqlite3_db_handle(st), rc,
                                             sqlite3_sql(st));
}

bool dbc_sqlite_readonly(dbc_stmt *s) { return sqlite3_stmt_readonly(ST(s)); }
const char *dbc_sqlite_sql(dbc_stmt *s) { return sqlite3_sql(ST(s)); }
int dbc_sqlite_ncols(dbc_stmt *s) { return sqlite3_column_count(ST(s)); }

unsigned dbc_sqlite_generation(dbc_stmt *s) {
    return (unsigned)sqlite3_stmt_status(ST(s), SQLITE_STMTSTATUS_REPREPARE, 0);
}

const char *dbc_sqlite_colname(dbc_stmt *s, int i) {
    return sqlite3_column_name(ST(s), i);
}

bool dbc_sqlite_one_row(dbc_stmt *s) { return dbc_sqlite_proves_one_row(ST(s)); }

/* The bytes the rest of a row takes in an arena, from column i on (when
 * the arena turned out too small). */
static size_t row_need(sqlite3_stmt *st, size_t i, size_t n) {
    size_t need = 0;
    for (; i < n; i++) {
        sqlite3_value *v = sqlite3_column_value(st, (int)i);
        int t = sqlite3_value_type(v);
        if (t == SQLITE_TEXT || t == SQLITE_BLOB)
            need += (size_t)sqlite3_value_bytes(v) + 1;
    }
    return need;
}

/* One sqlite3_column_value() and the value accessors per column: fewer
 * calls (and no per-call connection mutex checks) than column_type +
 * column_xxx; the bytes go straight into the arena. */
int dbc_sqlite_row(dbc_stmt *s, size_t n, dbc_colval *out, dbc_arena *a,
                  size_t *need) {
    sqlite3_stmt *st = ST(s);
    size_t start = a->len;
    for (size_t i = 0; i < n; i++) {
        sqlite3_value *v = sqlite3_column_value(st, (int)i);
        dbc_colval *c = &out[i];
        const void *p;
        switch (sqlite3_value_type(v)) {
        case SQLITE_INTEGER:
            c->type = DBCONN_TYPE_INTEGER;
            c->u.i = sqlite3_value_int64(v);
            continue;
        case SQLITE_FLOAT:
            c->type = DBCONN_TYPE_REAL;
            c->u.r = sqlite3_value_double(v);
            continue;
        case SQLITE_TEXT:
            c->type = DBCONN_TYPE_TEXT;
            p = sqlite3_value_text(v);
            break;
        case SQLITE_BLOB:
            c->type = DBCONN_TYPE_BLOB;
            p = sqlite3_value_blob(v);
            break;
        default:
            c->type = DBCONN_TYPE_NULL;
            continue;
        }
        size_t len = (size_t)sqlite3_value_bytes(v);
        if (!p && len) {
            a->len = start;
            return dbc_nomem();
        }
        if (len >= a->cap - a->len) {
            *need = a->len - start + row_need(st, i, n);
            a->len = start;
            return DBC_ROW_FULL;
        }
        char *dst = a->bytes + a->len;
        if (len)
            memcpy(dst, p, len);
        dst[len] = '\0';
        c->u.o.off = a->len;
        c->u.o.len = len;
        a->len += len + 1;
    }
    return 0;
}

