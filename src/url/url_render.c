/* Database URLs: rendering (dbconn_url_render) and password masking
 * (dbc_url_masked).  Parsing is in url.c; url_int.h holds what the two
 * files share.
 *
 * The rendering is the inverse of the parser: every byte a part could not
 * hold as is gets %XX, so parse(render(u, DBCONN_URL_SHOW_PASSWORD)) equals
 * u in every part (tests/test_url.c and tests/fuzz/fuzz_url.c check it).
 * Without DBCONN_URL_SHOW_PASSWORD a password -- even an empty one -- is
 * "***", which is what every log line and message shows. */
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"
#include "url/url_render.h"
#include "url/url_int.h"

/* Bytes kept as they are in each part; everything else is %XX, so that the
 * rendering parses back to the same URL.  The database is kept as written
 * (it is never decoded), so it needs no class. */
static bool keep_userinfo(unsigned char c) {
    return dbc_url_is_alnum(c) || (c && strchr("-._~!$'()*+,;", c));
}

/* '+' is a space in the query, so a '+' is %2B and a space is '+' (as
 * quote_plus writes them).  '@' is encoded too: behind a port or an IPv6
 * host, a raw '@' anywhere would end a password (see find_userinfo). */
static bool keep_query(unsigned char c) {
    return !dbc_url_is_ctl(c) && !strchr("%&=#+@ ", c);
}

static void put_enc(dbc_buf *k, const char *s,
                    bool (*keep)(unsigned char), bool plus) {
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (keep(*p)) {
            dbc_buf_putc(k, (char)*p);
        } else if (plus && *p == ' ') {
            dbc_buf_putc(k, '+');
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            dbc_buf_append(k, e, 3);
        }
    }
}

/* `buf` is written through the sink; clang-tidy does not follow that (a
 * false positive): NOLINTNEXTLINE(readability-non-const-parameter) */
size_t dbconn_url_render(const dbconn_url *u, unsigned flags, char *buf,
                         size_t size) {
    dbc_buf k = dbc_buf_fixed(buf, size);
    if (!u)
        return 0;
    dbc_buf_puts(&k, u->dialect);
    if (u->driver) {
        dbc_buf_puts(&k, "+");
        dbc_buf_puts(&k, u->driver);
    }
    dbc_buf_puts(&k, "://");
    if (u->username || u->password) {
        if (u->username)
            put_enc(&k, u->username, keep_userinfo, false);
        if (u->password) {
            dbc_buf_puts(&k, ":");
            if (flags & DBCONN_URL_SHOW_PASSWORD)
                put_enc(&k, u->password, keep_userinfo, false);
            else
                dbc_buf_puts(&k, "***");
        }
        dbc_buf_puts(&k, "@");
    }
    if (u->host) {
        bool v6 = strchr(u->host, ':') != NULL;
        dbc_buf_puts(&k, v6 ? "[" : "");
        dbc_buf_puts(&k, u->host);
        dbc_buf_puts(&k, v6 ? "]" : "");
    }
    if (u->port) {
        char port[16];
        (void)snprintf(port, sizeof port, ":%d", u->port); /* fits */
        dbc_buf_puts(&k, port);
    }
    if (u->database) {
        dbc_buf_puts(&k, "/");
        dbc_buf_puts(&k, u->database);
    }
    for (size_t i = 0; i < u->nquery; i++) {
        dbc_buf_puts(&k, i ? "&" : "?");
        put_enc(&k, u->query[i].key, keep_query, true);
        dbc_buf_puts(&k, "=");
        put_enc(&k, u->query[i].value, keep_query, true);
    }
    return k.len;
}

char *dbc_url_masked(const dbconn_url *u) {
    if (!u)
        return NULL;
    size_t n = dbconn_url_render(u, 0, NULL, 0);
    char *s = dbc_malloc(n + 1);
    if (!s) {
        dbc_nomem();
        return NULL;
    }
    dbconn_url_render(u, 0, s, n + 1);
    return s;
}
