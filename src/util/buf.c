/* The string builder (see buf.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"
#include "util/buf.h"

static bool grow(dbc_buf *b, size_t extra) {
    if (b->oom)
        return false;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *d = dbc_realloc(b->data, cap);
    if (!d) {
        b->oom = true;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

/* `buf` is written through the returned builder; clang-tidy does not follow
 * that (a false positive): NOLINTNEXTLINE(readability-non-const-parameter) */
dbc_buf dbc_buf_fixed(char *buf, size_t cap) {
    dbc_buf b = {buf, 0, buf ? cap : 0, false, true};
    if (b.cap)
        b.data[0] = '\0';
    return b;
}

/* Fixed mode: stores what fits, counts everything. */
static void append_fixed(dbc_buf *b, const char *s, size_t n) {
    if (b->len + 1 < b->cap) {
        size_t room = b->cap - 1 - b->len;
        memcpy(b->data + b->len, s, n < room ? n : room);
        b->data[b->len + (n < room ? n : room)] = '\0';
    }
    b->len += n;
}

void dbc_buf_append(dbc_buf *b, const char *s, size_t n) {
    if (b->fixed) {
        append_fixed(b, s, n);
        return;
    }
    if (!grow(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void dbc_buf_puts(dbc_buf *b, const char *s) { dbc_buf_append(b, s, strlen(s)); }

void dbc_buf_putc(dbc_buf *b, char c) { dbc_buf_append(b, &c, 1); }

void dbc_buf_printf(dbc_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (b->fixed) {
        size_t room = b->len < b->cap ? b->cap - b->len : 0;
        if (room) {
            va_start(ap, fmt);
            (void)vsnprintf(b->data + b->len, room, fmt, ap); /* cut */
            va_end(ap);
        }
        b->len += (size_t)n;
        return;
    }
    if (!grow(b, (size_t)n))
        return;
    va_start(ap, fmt);
    (void)vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap); /* n fits */
    va_end(ap);
    b->len += (size_t)n;
}

char *dbc_buf_take(dbc_buf *b) {
    if (b->oom) {
        dbc_buf_free(b);
        return NULL;
    }
    if (!grow(b, 0)) { /* an empty buffer still yields "" */
        dbc_buf_free(b);
        return NULL;
    }
    b->data[b->len] = '\0'; /* a buffer never appended to has no NUL yet */
    char *s = b->data;
    *b = (dbc_buf)DBC_BUF_INIT;
    return s;
}

void dbc_buf_reset(dbc_buf *b) {
    b->len = 0;
    b->oom = false;
    if (b->data && (b->cap || !b->fixed))
        b->data[0] = '\0';
}

void dbc_buf_free(dbc_buf *b) {
    dbc_free(b->data);
    *b = (dbc_buf)DBC_BUF_INIT;
}
