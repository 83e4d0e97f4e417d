/* Echo lines in SQLAlchemy's words. */
#include <inttypes.h>
#include <string.h>

#include "util/buf.h"
#include "engine/echo.h"

#define MAX_SHOWN 100 /* characters of one text value shown */

static void put_text(dbc_buf *b, const char *s, size_t n) {
    dbc_buf_putc(b, '\'');
    size_t shown = n > MAX_SHOWN ? MAX_SHOWN : n;
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\'' || c == '\\')
            dbc_buf_printf(b, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            dbc_buf_printf(b, "\\x%02x", c);
        else
            dbc_buf_putc(b, (char)c);
    }
    if (shown < n)
        dbc_buf_printf(b, "... (%zu characters truncated)", n - shown);
    dbc_buf_putc(b, '\'');
}

static void put_value(dbc_buf *b, int type, int64_t i, double r,
                      const void *p, size_t n) {
    switch (type) {
    case DBCONN_TYPE_INTEGER:
    case DBCONN_TYPE_BOOLEAN:
        dbc_buf_printf(b, "%" PRId64, i);
        break;
    case DBCONN_TYPE_REAL:
        dbc_buf_printf(b, "%.17g", r);
        break;
    case DBCONN_TYPE_TEXT:
    case DBCONN_TYPE_TIMESTAMP:
        if (p)
            put_text(b, p, n);
        else
            dbc_buf_puts(b, "None");
        break;
    case DBCONN_TYPE_BLOB:
        dbc_buf_printf(b, "<%zu bytes>", n);
        break;
    default:
        dbc_buf_puts(b, "None");
        break;
    }
}

/* Python tuple spelling: (), (x,), (x, y). */
static void close_tuple(dbc_buf *b, size_t n) {
    if (n == 1)
        dbc_buf_putc(b, ',');
    dbc_buf_putc(b, ')');
}

void dbc_echo_params(dbconn *db, int hit, double age,
                     const dbconn_value *params, size_t n) {
    dbc_buf b = DBC_BUF_INIT;
    if (hit)
        dbc_buf_printf(&b, "[cached since %.4gs ago] (", age);
    else
        dbc_buf_printf(&b, "[generated in %.5fs] (", age);
    for (size_t i = 0; i < n; i++) {
        if (i)
            dbc_buf_puts(&b, ", ");
        if (db->cfg.hide_parameters) {
            dbc_buf_putc(&b, '?');
            continue;
        }
        const dbconn_value *v = &params[i];
        size_t len = v->u.b.len;
        if ((v->type == DBCONN_TYPE_TEXT || v->type == DBCONN_TYPE_TIMESTAMP) &&
            v->u.b.ptr && len == DBCONN_NTS)
            len = strlen(v->u.b.ptr);
        put_value(&b, v->type, v->u.i, v->u.r, v->u.b.ptr, len);
    }
    close_tuple(&b, n);
    if (!b.oom)
        dbc_log_line(&db->log, DBCONN_LOG_INFO, b.data);
    dbc_buf_free(&b);
}

void dbc_echo_cols(dbconn *db, const dbconn_result *r) {
    dbc_buf b = DBC_BUF_INIT;
    size_t n = dbconn_result_ncols(r);
    dbc_buf_puts(&b, "Col (");
    for (size_t i = 0; i < n; i++) {
        const char *name = dbconn_result_colname(r, i);
        if (i)
            dbc_buf_puts(&b, ", ");
        put_text(&b, name, strlen(name));
    }
    close_tuple(&b, n);
    if (!b.oom)
        dbc_log_line(&db->log, DBCONN_LOG_DEBUG, b.data);
    dbc_buf_free(&b);
}

void dbc_echo_row(dbconn *db, const dbconn_result *r, size_t row) {
    dbc_buf b = DBC_BUF_INIT;
    size_t n = dbconn_result_ncols(r);
    dbc_buf_puts(&b, "Row (");
    for (size_t i = 0; i < n; i++) {
        if (i)
            dbc_buf_puts(&b, ", ");
        int type = dbconn_result_type(r, row, i);
        size_t len = 0;
        const void *p = type == DBCONN_TYPE_BLOB
                            ? dbconn_result_blob(r, row, i, &len)
                            : dbconn_result_text(r, row, i);
        if (type == DBCONN_TYPE_TEXT)
            len = dbconn_result_text_len(r, row, i);
        if (db->cfg.hide_parameters)
            dbc_buf_putc(&b, '?');
        else
            put_value(&b, type, dbconn_result_int(r, row, i),
                      dbconn_result_real(r, row, i), p, len);
    }
    close_tuple(&b, n);
    if (!b.oom)
        dbc_log_line(&db->log, DBCONN_LOG_DEBUG, b.data);
    dbc_buf_free(&b);
}
