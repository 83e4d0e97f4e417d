/* Quoting user strings inside error messages. */
#include <stdio.h>
#include <string.h>

#include "util/error.h"

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
