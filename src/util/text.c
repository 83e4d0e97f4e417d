/* Text helpers (see text.h). */
#include <stdio.h>
#include <string.h>

#include "util/text.h"

bool dbc_ascii_ieqn(const char *a, const char *b, size_t blen) {
    for (size_t i = 0; i < blen; i++)
        if (a[i] == '\0' || dbc_ascii_lower(a[i]) != dbc_ascii_lower(b[i]))
            return false;
    return a[blen] == '\0';
}

bool dbc_ascii_ieq(const char *a, const char *b) {
    return dbc_ascii_ieqn(a, b, strlen(b));
}

int dbc_parse_bool(const char *v) {
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    if (!v)
        return -1;
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        if (dbc_ascii_ieq(v, yes[i]))
            return 1;
        if (dbc_ascii_ieq(v, no[i]))
            return 0;
    }
    return -1;
}

bool dbc_utf8_feed(dbc_utf8 *st, unsigned char c) {
    if (st->need == 0) {
        st->lo = 0x80;
        st->hi = 0xBF;
        if (c < 0x80)
            return true;
        if (c >= 0xC2 && c <= 0xDF)
            st->need = 1;
        else if (c == 0xE0)
            st->need = 2, st->lo = 0xA0;
        else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
            st->need = 2;
        else if (c == 0xED)
            st->need = 2, st->hi = 0x9F;
        else if (c == 0xF0)
            st->need = 3, st->lo = 0x90;
        else if (c >= 0xF1 && c <= 0xF3)
            st->need = 3;
        else if (c == 0xF4)
            st->need = 3, st->hi = 0x8F;
        else
            return false;
        return true;
    }
    if (c < st->lo || c > st->hi)
        return false;
    st->lo = 0x80;
    st->hi = 0xBF;
    st->need--;
    return true;
}

size_t dbc_utf8_len(const char *p, size_t avail) {
    dbc_utf8 st = {0, 0, 0};
    for (size_t i = 0; i < avail && i < 4; i++) {
        if (!dbc_utf8_feed(&st, (unsigned char)p[i]))
            return 0;
        if (st.need == 0)
            return i + 1;
    }
    return 0;
}

size_t dbc_put_shown(dbc_buf *b, const char *p, size_t avail) {
    unsigned char c = (unsigned char)*p;
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
        dbc_buf_putc(b, (char)c);
        return 1;
    }
    size_t len = c >= 0x80 ? dbc_utf8_len(p, avail) : 0;
    if (len) {
        dbc_buf_append(b, p, len);
        return len;
    }
    dbc_buf_printf(b, "\\x%02X", c);
    return 1;
}

const char *dbc_show(const char *s, char *out, size_t cap) {
    if (!s)
        s = "(null)";
    size_t n = strlen(s), i = 0;
    dbc_buf b = dbc_buf_fixed(out, cap);
    /* Stop while one more character (at most 4 bytes, or \xNN) and the
     * tail still fit. */
    while (i < n && i < 48 && b.len + 4 + 24 < cap)
        i += dbc_put_shown(&b, s + i, n - i);
    if (i < n)
        dbc_buf_printf(&b, "... (%zu bytes)", n);
    return out;
}
