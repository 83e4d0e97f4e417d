/* libFuzzer target for the URL module (src/url/url.c, src/url/url_render.c).
 *
 * Input: arbitrary bytes, parsed as a NUL-terminated copy (so an embedded
 * NUL ends the URL, as it would for any C caller).  Checked on every input:
 *
 *   - a failure is DBCONN_EURL with *out NULL and a non-empty message;
 *   - a success renders, unmasked, to a string that parses back to an equal
 *     URL: dialect, driver, username, password, host, port, database and
 *     every query pair in order (URLs whose rendering is longer than
 *     DBC_URL_MAX must instead fail as too long -- percent-encoding can
 *     triple a part);
 *   - the masked rendering equals the unmasked one with the encoded password
 *     replaced by "***" (identical when there is no password), and
 *     dbc_url_masked() returns exactly it;
 *   - dbconn_url_render() has snprintf semantics: the same length for every
 *     buffer size, a NUL-terminated prefix when the buffer is short;
 *   - no password shows, whether the URL parses or not.  The password is
 *     what SQLAlchemy's grammar calls one (password_span), so the harness
 *     does not take the parser's word for where it is.  A twin of the URL
 *     with every letter, digit and punctuation byte of that password
 *     replaced by another of its kind must give the same result code and
 *     the same message (failure) or masked rendering (success): no output
 *     depends on what the password says.  A password with no such byte
 *     (the twin is the URL itself), of PW_MIN bytes or more and found
 *     nowhere else in the URL, must not appear in that output.
 *
 * A violated property prints what differed and calls abort(), which
 * libFuzzer reports as a crash and saves the input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "dbconn.h"
#include "util/error.h"
#include "url/url.h"
#include "url/url_render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void violated(const char *what, const char *url, const char *a,
                     const char *b) {
    fprintf(stderr, "fuzz_url: property violated: %s\n  url: \"%s\"\n", what,
            url);
    if (a || b)
        fprintf(stderr, "  got: \"%s\"\n  expected: \"%s\"\n",
                a ? a : "(null)", b ? b : "(null)");
    abort();
}

static void *xmalloc(size_t n) {
    void *p = malloc(n);
    if (!p)
        abort(); /* the harness cannot go on; libFuzzer reports it */
    return p;
}

static void same_str(const char *part, const char *url, const char *a,
                     const char *b) {
    if ((a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0))
        violated(part, url, a, b);
}

static void same_url(const char *url, const dbconn_url *a,
                     const dbconn_url *b) {
    same_str("round trip: dialect", url, dbconn_url_dialect(b),
             dbconn_url_dialect(a));
    same_str("round trip: driver", url, dbconn_url_driver(b),
             dbconn_url_driver(a));
    same_str("round trip: username", url, dbconn_url_username(b),
             dbconn_url_username(a));
    same_str("round trip: password", url, dbconn_url_password(b),
             dbconn_url_password(a));
    same_str("round trip: host", url, dbconn_url_host(b), dbconn_url_host(a));
    if (dbconn_url_port(a) != dbconn_url_port(b))
        violated("round trip: port", url, NULL, NULL);
    same_str("round trip: database", url, dbconn_url_database(b),
             dbconn_url_database(a));
    size_t n = dbconn_url_query_count(a);
    if (dbconn_url_query_count(b) != n)
        violated("round trip: query pair count", url, NULL, NULL);
    for (size_t i = 0; i < n; i++) {
        same_str("round trip: query key", url, dbconn_url_query_key(b, i),
                 dbconn_url_query_key(a, i));
        same_str("round trip: query value", url, dbconn_url_query_value(b, i),
                 dbconn_url_query_value(a, i));
    }
}

/* The rendering in a fresh buffer of exactly the needed size. */
static char *render(const dbconn_url *u, unsigned flags) {
    size_t n = dbconn_url_render(u, flags, NULL, 0);
    char *s = xmalloc(n + 1);
    memset(s, 'X', n + 1);
    if (dbconn_url_render(u, flags, s, n + 1) != n || s[n] != '\0' ||
        strlen(s) != n)
        violated("render: length differs from the size query", "", s, NULL);
    return s;
}

/* A short buffer gets a NUL-terminated prefix and the same return value. */
static void check_truncation(const char *full, const dbconn_url *u) {
    size_t n = strlen(full), cut = n / 2;
    char *s = xmalloc(cut + 1);
    if (dbconn_url_render(u, DBCONN_URL_SHOW_PASSWORD, s, cut + 1) != n ||
        strlen(s) != cut || memcmp(s, full, cut) != 0)
        violated("render: truncated rendering is not a prefix", full, s,
                 full);
    free(s);
}

/* masked == unmasked with the encoded password replaced by "***".  The
 * dialect and driver hold no ':' and an encoded username or password holds
 * no ':' or '@', so the password is what lies between the first ':' after
 * "://" and the next '@'. */
static void check_masking(const char *plain, const dbconn_url *u) {
    char *masked = render(u, 0);
    char *expect;
    if (!dbconn_url_password(u)) {
        expect = strcpy(xmalloc(strlen(plain) + 1), plain);
    } else {
        const char *auth = strstr(plain, "://");
        const char *colon = auth ? strchr(auth + 3, ':') : NULL;
        const char *at = colon ? strchr(colon, '@') : NULL;
        if (!at)
            violated("masking: no ':...@' around the password", plain, NULL,
                     NULL);
        size_t head = (size_t)(colon + 1 - plain);
        expect = xmalloc(strlen(plain) + 4);
        memcpy(expect, plain, head);
        strcpy(expect + head, "***");
        strcat(expect, at);
    }
    same_str("masking: masked rendering", plain, masked, expect);
    char *m = dbc_url_masked(u);
    same_str("masking: dbc_url_masked", plain, m, masked);
    dbc_free(m);
    free(expect);
    free(masked);
}

/* The password as SQLAlchemy 1.4's make_url() places it: after the first
 * "://" the username runs to the first ':' or '/'; when that is a ':' and
 * an '@' follows anywhere, the bytes between the ':' and the first such '@'
 * are the password.  The parser may read a longer one (a raw '@' in it),
 * never a shorter one. */
static bool password_span(const char *url, size_t *b, size_t *e) {
    const char *sep = strstr(url, "://");
    if (!sep)
        return false;
    const char *colon = sep + 3 + strcspn(sep + 3, ":/");
    const char *at = *colon == ':' ? strchr(colon + 1, '@') : NULL;
    if (!at)
        return false;
    *b = (size_t)(colon + 1 - url);
    *e = (size_t)(at - url);
    return true;
}

/* The next byte of c's kind, for bytes the parser reads only as data in a
 * password; c itself for the others ('%' and what follows it are handled
 * by the caller; control and non-ASCII bytes are kept). */
static char rotated(char c) {
    static const char *const kinds[] = {
        "abcdef", "ghijklmnopqrstuvwxyz", "ABCDEF", "GHIJKLMNOPQRSTUVWXYZ",
        "0123456789", "!$&'()*+,;=-._~", "\"<>\\^`{|} ", "#/:?[]"};
    for (size_t k = 0; c && k < sizeof kinds / sizeof *kinds; k++) {
        const char *p = strchr(kinds[k], c);
        if (p)
            return p[1] ? p[1] : kinds[k][0];
    }
    return c;
}

/* What a caller may see of a URL: the message when it fails, the masked
 * rendering when it parses.  Owned by the caller. */
static char *shown(const char *url, int *rc) {
    dbconn_url *u = NULL;
    *rc = dbconn_url_parse(&u, url);
    if (*rc != 0) {
        const char *msg = dbconn_errmsg(NULL);
        return strcpy(xmalloc(strlen(msg) + 1), msg);
    }
    char *m = render(u, 0);
    dbconn_url_free(u);
    return m;
}

static size_t occurrences(const char *hay, const char *needle) {
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

#define PW_MIN 4

static void check_password_hidden(const char *url) {
    size_t b, e, n = strlen(url);
    if (!password_span(url, &b, &e))
        return;
    char *twin = strcpy(xmalloc(n + 1), url);
    size_t keep = 0;
    for (size_t i = b; i < e; i++) {
        if (keep)
            keep--;
        else if (url[i] == '%')
            keep = 2; /* an escape, or a bad one: what the parser checks */
        else
            twin[i] = rotated(url[i]);
    }
    int rc, twin_rc;
    char *out = shown(url, &rc), *twin_out = shown(twin, &twin_rc);
    if (rc != twin_rc || strcmp(out, twin_out) != 0)
        violated("password: the output depends on the password", url, out,
                 twin_out);
    if (strcmp(twin, url) == 0 && e - b >= PW_MIN) {
        char *pw = xmalloc(e - b + 1);
        memcpy(pw, url + b, e - b);
        pw[e - b] = '\0';
        if (occurrences(url, pw) == 1 && strstr(out, pw))
            violated("password: shown", url, out, pw);
        free(pw);
    }
    free(twin_out);
    free(out);
    free(twin);
}

static void check_parsed(const char *url, const dbconn_url *u) {
    char *plain = render(u, DBCONN_URL_SHOW_PASSWORD);
    check_truncation(plain, u);
    check_masking(plain, u);
    (void)dbc_url_is_memory(u);

    dbconn_url *back = NULL;
    int rc = dbconn_url_parse(&back, plain);
    if (strlen(plain) > DBC_URL_MAX) {
        /* The one documented exception: a rendering over the limit. */
        if (rc != DBCONN_EURL || back)
            violated("round trip: a rendering over DBC_URL_MAX parsed", url,
                     NULL, NULL);
    } else {
        if (rc != 0) {
            fprintf(stderr, "fuzz_url: %s\n", dbconn_errmsg(NULL));
            violated("round trip: the rendering does not parse", url, plain,
                     NULL);
        }
        same_url(plain, u, back);
        /* Rendering is a fixed point after one round. */
        char *again = render(back, DBCONN_URL_SHOW_PASSWORD);
        same_str("round trip: second rendering", url, again, plain);
        free(again);
    }
    dbconn_url_free(back);
    free(plain);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *url = xmalloc(size + 1);
    memcpy(url, data, size);
    url[size] = '\0';

    dbc_fail(DBCONN_OK, "%s", ""); /* so a failure must set its own message */
    dbconn_url *u = (dbconn_url *)url; /* must be overwritten with NULL */
    int rc = dbconn_url_parse(&u, url);
    if (rc == 0) {
        if (!u)
            violated("parse: success without a URL", url, NULL, NULL);
        check_parsed(url, u);
        dbconn_url_free(u);
    } else if (rc != DBCONN_EURL || u || !*dbconn_errmsg(NULL)) {
        violated("parse: a failure must be DBCONN_EURL, *out NULL and a "
                 "message", url, dbconn_errmsg(NULL), NULL);
    }
    check_password_hidden(url);
    free(url);
    return 0;
}
