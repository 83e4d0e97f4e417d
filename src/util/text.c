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

const char *dbc_show(const char *s, char *out, size_t cap) {
    size_t n = 0, i = 0;
    if (!s)
        s = "(null)";
    for (; i < 48 && s[i] && n + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            out[n++] = (char)c;
        else
            n += (size_t)snprintf(out + n, cap - n, "\\x%02X", c);
    }
    if (s[i])
        n += (size_t)snprintf(out + n, cap - n, "... (%zu bytes)", strlen(s));
    out[n < cap ? n : cap - 1] = '\0';
    return out;
}
