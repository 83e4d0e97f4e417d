/* Database URLs: parsing (SQLAlchemy 1.4's grammar) and accessors.
 * Rendering and password masking are in url_render.c; url_int.h holds what
 * the two files share (struct dbconn_url, character classes, the output
 * sink).
 *
 *   dialect[+driver]://[user[:password]@][host|[ipv6]][:port][/database][?q]
 *
 * The parts are found and decoded the way make_url() finds and decodes them
 * (docs/urls.md lists the deliberate differences, and tests/url_diff checks
 * them against SQLAlchemy itself), so that a DATABASE_URL shared by a Python
 * and a C service names one database for both.
 *
 * A dbconn_url owns every string in it.  Parsing works on a "layout" of the
 * raw text (where each part starts and ends) computed once; the same layout
 * names the part and hides the password in every error message, so no
 * message ever shows a password, even for a URL that fails to parse. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/text.h"
#include "url/url.h"
#include "url/url_int.h"

#define NPOS ((size_t)-1)
#define QUOTE_MAX 160 /* raw bytes of the URL quoted in a message */

/* ------------------------------------------------------------------------ */
/* Character classes and UTF-8                                              */
/* ------------------------------------------------------------------------ */

static bool is_name(unsigned char c) {
    return dbc_url_is_alnum(c) || c == '_';
}

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* UTF-8 validation while decoding (util/text.h's validator), remembering
 * where the sequence being checked began, for the message. */
typedef struct u8state {
    dbc_utf8 v;
    size_t start; /* raw position where the sequence began */
} u8state;

static bool u8_feed(u8state *st, unsigned char c, size_t pos) {
    if (st->v.need == 0)
        st->start = pos;
    return dbc_utf8_feed(&st->v, c);
}

/* ------------------------------------------------------------------------ */
/* Layout of the raw text                                                   */
/* ------------------------------------------------------------------------ */

typedef struct layout {
    const char *s;
    size_t n;
    size_t plus;       /* '+' before the driver, or NPOS */
    size_t scheme_end; /* first byte after dialect[+driver] */
    bool sep;          /* "://" starts at scheme_end */
    size_t sep_pos;    /* where the separator starts (guessed when !sep) */
    size_t auth;       /* authority start, NPOS when it cannot be found */
    size_t at;         /* the '@' that ends the userinfo, or NPOS */
    size_t colon;      /* the ':' before the password, or NPOS */
    size_t host;       /* host section: after `at`, else from auth ... */
    size_t host_end;   /* ... to its first '/' or '?', or n */
    size_t q;          /* the '?' starting the query, or n */
    bool mask;         /* a password is hidden in messages: */
    size_t mask_s, mask_e; /* these raw bytes (maybe none: "u:@h") */
} layout;

static size_t find(const char *s, size_t b, size_t e, char c) {
    const char *p = b < e ? memchr(s + b, c, e - b) : NULL;
    return p ? (size_t)(p - s) : NPOS;
}

static size_t rfind(const char *s, size_t b, size_t e, char c) {
    for (size_t i = e; i > b; i--)
        if (s[i - 1] == c)
            return i - 1;
    return NPOS;
}

static void hide(layout *L, size_t b, size_t e) {
    L->mask = true;
    L->mask_s = b;
    L->mask_e = e;
}

/* The userinfo as SQLAlchemy 1.4's make_url reads it, so that one
 * DATABASE_URL names one account in both.  The username runs from the
 * authority to its first ':' or '/'.  When that is a ':' and an '@' follows
 * anywhere after it, the password runs from the ':' to the first such '@'
 * and may hold '/', '?' and ':'.  Otherwise the userinfo, if there is one,
 * is a username up to its last '@' ("u@x@h": "u@x").
 *
 * One superset: a raw '@' in the password ("u:p@ss@h") would leave
 * SQLAlchemy a host "ss@h", which no server has; here the password runs on
 * to the last '@' before the host section's '/' or '?' ("p@ss", host "h"). */
static void find_userinfo(layout *L) {
    const char *s = L->s;
    size_t a = L->auth, n = L->n;
    size_t ue = a + strcspn(s + a, ":/");
    size_t at = ue < n && s[ue] == ':' ? find(s, ue + 1, n, '@') : NPOS;
    if (at == NPOS) {
        L->at = rfind(s, a, ue, '@');
        return;
    }
    size_t he = at + 1 + strcspn(s + at + 1, "/?");
    size_t last = rfind(s, at + 1, he, '@');
    L->colon = ue;
    L->at = last != NPOS ? last : at;
    hide(L, ue + 1, L->at);
}

static void layout_init(layout *L, const char *s, size_t n) {
    memset(L, 0, sizeof *L);
    L->s = s;
    L->n = n;
    L->plus = L->at = L->colon = L->auth = NPOS;
    size_t i = 0;
    while (i < n && is_name((unsigned char)s[i]))
        i++;
    if (i < n && s[i] == '+') {
        L->plus = i++;
        while (i < n && is_name((unsigned char)s[i]))
            i++;
    }
    L->scheme_end = i;
    L->sep = n - i >= 3 && memcmp(s + i, "://", 3) == 0;
    L->sep_pos = i;
    if (L->sep) {
        L->auth = i + 3;
    } else {
        /* Malformed scheme: still find where a password would be, so that
         * the error message can hide it. */
        const char *p = strstr(s, "://");
        if (p) {
            L->sep_pos = (size_t)(p - s);
            L->auth = L->sep_pos + 3;
        } else if (i < n && s[i] == ':') {
            L->auth = i + 1;
            while (L->auth < n && s[L->auth] == '/')
                L->auth++;
        }
    }
    if (L->auth == NPOS) {
        /* No authority at all (the URL fails at its scheme): whatever lies
         * between a ':' and the last '@' could be a password. */
        size_t c = find(s, 0, n, ':'), last = rfind(s, 0, n, '@');
        if (c != NPOS && last != NPOS && c < last)
            hide(L, c + 1, last);
        L->sep_pos = L->host = L->host_end = L->q = n;
        return;
    }
    find_userinfo(L);
    L->host = L->at != NPOS ? L->at + 1 : L->auth;
    L->host_end = L->host + strcspn(s + L->host, "/?");
    size_t q = find(s, L->host_end, n, '?');
    L->q = q == NPOS ? n : q;
}

/* The ':' before the port in the host section, or NPOS. */
static size_t port_colon(const layout *L) {
    size_t hp = L->host;
    if (hp < L->host_end && L->s[hp] == '[') {
        size_t close = find(L->s, hp, L->host_end, ']');
        if (close == NPOS)
            return NPOS;
        return find(L->s, close, L->host_end, ':');
    }
    return find(L->s, hp, L->host_end, ':');
}

/* The name of the part that holds raw byte `pos`. */
static const char *part_at(const layout *L, size_t pos) {
    if (pos < L->scheme_end || pos < L->sep_pos)
        return L->plus != NPOS && pos >= L->plus ? "driver" : "dialect";
    if (pos < L->auth) /* auth is set: else sep_pos == n */
        return "scheme separator";
    if (L->at != NPOS && pos < L->at)
        return L->colon != NPOS && pos > L->colon ? "password" : "username";
    if (L->at != NPOS && pos == L->at)
        return "userinfo";
    if (pos < L->host_end) {
        size_t pc = port_colon(L);
        return pc != NPOS && pos > pc ? "port" : "host";
    }
    return pos < L->q ? "database" : "query";
}

/* ------------------------------------------------------------------------ */
/* Error messages                                                           */
/* ------------------------------------------------------------------------ */

/* The URL for a message: at most QUOTE_MAX raw bytes, password as ***.
 * `out` is written through the sink; clang-tidy does not follow that (a
 * false positive): NOLINTNEXTLINE(readability-non-const-parameter) */
static void quote_url(const layout *L, char *out, size_t cap) {
    dbc_buf k = dbc_buf_fixed(out, cap);
    const char *s = L->s;
    size_t i = 0;
    while (i < L->n && i < QUOTE_MAX) {
        if (L->mask && i == L->mask_s)
            dbc_buf_puts(&k, "***"); /* once: then i moves past mask_s */
        if (L->mask && i >= L->mask_s && i < L->mask_e)
            i = L->mask_e;
        else
            i += dbc_put_shown(&k, s + i, L->n - i);
    }
    if (i < L->n)
        dbc_buf_puts(&k, "...");
}

/* ` "fragment"` for a message, or "" when it overlaps the hidden password.
 * At most 40 bytes are shown. */
static const char *frag(const layout *L, size_t b, size_t e, char *out,
                        size_t cap) {
    out[0] = '\0';
    if (L->mask && b < L->mask_e && e > L->mask_s)
        return out;
    dbc_buf k = dbc_buf_fixed(out, cap);
    dbc_buf_puts(&k, " \"");
    size_t i = b;
    while (i < e && i - b < 40)
        i += dbc_put_shown(&k, L->s + i, e - i);
    dbc_buf_puts(&k, i < e ? "...\"" : "\"");
    return out;
}

/* One character for a message: 'c' or 0xNN. */
static const char *show_char(unsigned char c, char out[8]) {
    if (c >= 0x20 && c < 0x7f)
        (void)snprintf(out, 8, "'%c'", c);
    else
        (void)snprintf(out, 8, "0x%02X", c);
    return out;
}

static int url_fail(const layout *L, const char *fmt, ...) DBC_PRINTF(2, 3);

static int url_fail(const layout *L, const char *fmt, ...) {
    char q[QUOTE_MAX * 4 + 8], detail[512];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(detail, sizeof detail, fmt, ap); /* truncates */
    va_end(ap);
    quote_url(L, q, sizeof q);
    return dbc_fail(DBCONN_EURL, "invalid URL \"%s\": %s", q, detail);
}

/* ------------------------------------------------------------------------ */
/* Parsing                                                                  */
/* ------------------------------------------------------------------------ */

/* Control characters and invalid UTF-8 anywhere in the raw text. */
static int check_bytes(const layout *L) {
    const unsigned char *s = (const unsigned char *)L->s;
    u8state st = {{0, 0, 0}, 0};
    char c8[8];
    for (size_t i = 0; i < L->n; i++) {
        if (dbc_url_is_ctl(s[i]))
            return url_fail(L, "control character %s in the %s at position %zu",
                            show_char(s[i], c8), part_at(L, i), i);
        if (!u8_feed(&st, s[i], i))
            return url_fail(L, "invalid UTF-8 in the %s at position %zu",
                            part_at(L, st.start), st.start);
    }
    if (st.v.need)
        return url_fail(L, "invalid UTF-8 (truncated sequence) in the %s at "
                        "position %zu", part_at(L, st.start), st.start);
    return 0;
}

/* How a part is decoded: userinfo with unquote() ('+' stays '+'), the
 * password the same but nothing of it quoted in a message, the query with
 * parse_qsl() ('+' is a space, as in HTML forms). */
typedef enum dec_mode { DEC_USER, DEC_SECRET, DEC_QUERY } dec_mode;

static int bad_escape(const layout *L, size_t i, size_t e, const char *part,
                      bool secret) {
    char fr[64];
    return url_fail(L, "invalid percent escape%s in the %s at position %zu "
                    "(expected %% and two hex digits)",
                    secret ? "" : frag(L, i, i + 3 < e ? i + 3 : e, fr,
                                       sizeof fr),
                    part, i);
}

/* Percent-decodes raw [b, e) into a new string.  The result must be valid
 * UTF-8 without NUL bytes. */
static int decode(const layout *L, size_t b, size_t e, const char *part,
                  dec_mode mode, char **out) {
    const unsigned char *s = (const unsigned char *)L->s;
    char *d = dbc_malloc(e - b + 1);
    size_t n = 0;
    u8state st = {{0, 0, 0}, 0};
    int rc = 0;
    if (!d)
        return dbc_nomem();
    for (size_t i = b; i < e; i++) {
        size_t at = i;
        unsigned char c = s[i];
        if (c == '+' && mode == DEC_QUERY) {
            c = ' ';
        } else if (c == '%') {
            int hi = i + 1 < e ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < e ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                rc = bad_escape(L, i, e, part, mode == DEC_SECRET);
                break;
            }
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
            if (c == 0) {
                rc = url_fail(L, "percent-encoded NUL byte (%%00) in the %s at "
                              "position %zu", part, at);
                break;
            }
        }
        if (!u8_feed(&st, c, at)) {
            rc = url_fail(L, "invalid UTF-8 in the %s (after percent-decoding) "
                          "at position %zu", part, st.start);
            break;
        }
        d[n++] = (char)c;
    }
    if (!rc && st.v.need)
        rc = url_fail(L, "invalid UTF-8 (truncated sequence) in the %s (after "
                      "percent-decoding) at position %zu", part, st.start);
    if (rc) {
        dbc_free(d);
        return rc;
    }
    d[n] = '\0';
    *out = d;
    return 0;
}

static int copy_raw(const layout *L, size_t b, size_t e, char **out) {
    *out = dbc_strndup(L->s + b, e - b);
    return *out ? 0 : dbc_nomem();
}

/* The database is kept as written: SQLAlchemy does not decode it, and the
 * same URL must name the same file or database in both ("my%20db.db" is
 * that file, not "my db.db").  A '%' in it must still start a well-formed
 * escape, as in every other part, so a mistyped escape is an error rather
 * than a name no one meant. */
static int parse_database(const layout *L, dbconn_url *u) {
    size_t b = L->host_end + 1, e = L->q;
    for (size_t i = find(L->s, b, e, '%'); i != NPOS;
         i = find(L->s, i + 3, e, '%'))
        if (i + 2 >= e || hexval((unsigned char)L->s[i + 1]) < 0 ||
            hexval((unsigned char)L->s[i + 2]) < 0)
            return bad_escape(L, i, e, "database", false);
    return copy_raw(L, b, e, &u->database);
}

static int parse_scheme(const layout *L, dbconn_url *u) {
    const char *s = L->s;
    size_t dend = L->plus != NPOS ? L->plus : L->scheme_end;
    char c8[8];
    if (dend == 0)
        return url_fail(L, "missing dialect at position 0 (expected "
                        "dialect[+driver]://...)");
    if (L->plus != NPOS && L->scheme_end == L->plus + 1 &&
        (L->sep || L->scheme_end == L->n || s[L->scheme_end] == ':'))
        return url_fail(L, "empty driver name after '+' at position %zu",
                        L->scheme_end);
    if (!L->sep) {
        size_t i = L->scheme_end;
        if (i < L->n && s[i] != ':')
            return url_fail(L, "invalid character %s in the %s at position %zu "
                            "(letters, digits and '_' only)",
                            show_char((unsigned char)s[i], c8),
                            L->plus != NPOS ? "driver" : "dialect", i);
        return url_fail(L, "expected \"://\" after the %s at position %zu",
                        L->plus != NPOS ? "driver" : "dialect", i);
    }
    int rc = copy_raw(L, 0, dend, &u->dialect);
    if (!rc && L->plus != NPOS)
        rc = copy_raw(L, L->plus + 1, L->scheme_end, &u->driver);
    return rc;
}

static int parse_userinfo(const layout *L, dbconn_url *u) {
    if (L->at == NPOS)
        return 0;
    size_t uend = L->colon != NPOS ? L->colon : L->at;
    int rc = decode(L, L->auth, uend, "username", DEC_USER, &u->username);
    if (!rc && L->colon != NPOS)
        rc = decode(L, L->colon + 1, L->at, "password", DEC_SECRET,
                    &u->password);
    return rc;
}

/* "[addr]" with hex digits, ':' and '.', plus an optional "%zone". */
static int check_ipv6(const layout *L, size_t b, size_t e) {
    char c8[8];
    bool colon = false, zone = false;
    if (b == e)
        return url_fail(L, "empty IPv6 address in the host at position %zu",
                        b - 1);
    for (size_t i = b; i < e; i++) {
        unsigned char c = (unsigned char)L->s[i];
        if (!zone && c == '%' && i > b) {
            zone = true;
            continue;
        }
        bool ok = zone ? dbc_url_is_alnum(c) || c == '-' || c == '.' ||
                             c == '_' || c == '~'
                       : hexval(c) >= 0 || c == ':' || c == '.';
        if (!ok)
            return url_fail(L, "invalid character %s in the IPv6 host at "
                            "position %zu", show_char(c, c8), i);
        colon |= c == ':' && !zone;
    }
    if (zone && L->s[e - 1] == '%')
        return url_fail(L, "empty IPv6 zone after '%%' in the host at "
                        "position %zu", e - 1);
    if (!colon)
        return url_fail(L, "\"[...]\" at position %zu in the host is not an "
                        "IPv6 address (a name or IPv4 address goes without "
                        "brackets)", b - 1);
    return 0;
}

static int parse_port(const layout *L, size_t b, size_t e, dbconn_url *u) {
    char fr[64];
    long v = 0;
    bool ok = b < e;
    for (size_t i = b; ok && i < e; i++) {
        unsigned char c = (unsigned char)L->s[i];
        ok = c >= '0' && c <= '9';
        if (ok && v <= 65535) /* saturate: "99999999" is out of range */
            v = v * 10 + (c - '0');
    }
    if (!ok || v < 1 || v > 65535) {
        bool v6 = find(L->s, b, e, ':') != NPOS;
        return url_fail(L, "bad port%s at position %zu (expected a decimal "
                        "number 1-65535)%s",
                        b == e ? " (empty)" : frag(L, b, e, fr, sizeof fr), b,
                        v6 ? "; an IPv6 address must be in brackets: "
                             "[::1]:5432"
                           : "");
    }
    u->port = (int)v;
    return 0;
}

static int parse_hostport(const layout *L, dbconn_url *u) {
    const char *s = L->s;
    size_t hp = L->host, e = L->host_end, pc;
    char c8[8];
    int rc;
    if (hp < e && s[hp] == '[') {
        size_t close = find(s, hp, e, ']');
        if (close == NPOS)
            return url_fail(L, "unterminated '[' in the host at position %zu "
                            "(an IPv6 address is written [addr])", hp);
        if ((rc = check_ipv6(L, hp + 1, close)))
            return rc;
        pc = close + 1;
        if (pc < e && s[pc] != ':')
            return url_fail(L, "unexpected character %s after the IPv6 host "
                            "at position %zu (expected :port, '/' or '?')",
                            show_char((unsigned char)s[pc], c8), pc);
        if ((rc = copy_raw(L, hp + 1, close, &u->host)))
            return rc;
    } else {
        pc = find(s, hp, e, ':');
        if (pc == NPOS)
            pc = e;
        for (size_t i = hp; i < pc; i++)
            if (strchr(" []@/?#", s[i]))
                return url_fail(L, "invalid character %s in the host at "
                                "position %zu",
                                show_char((unsigned char)s[i], c8), i);
        if (pc > hp && (rc = copy_raw(L, hp, pc, &u->host)))
            return rc;
    }
    return pc < e ? parse_port(L, pc + 1, e, u) : 0;
}

static int parse_query(const layout *L, dbconn_url *u) {
    size_t b = L->q + 1, n = L->n, count = 1;
    if (L->q >= n || b == n)
        return 0;
    for (size_t i = b; i < n; i++)
        count += L->s[i] == '&';
    u->query = dbc_calloc(count, sizeof *u->query);
    if (!u->query)
        return dbc_nomem();
    while (b <= n) {
        size_t e = find(L->s, b, n, '&');
        if (e == NPOS)
            e = n;
        size_t eq = find(L->s, b, e, '=');
        size_t kend = eq == NPOS ? e : eq;
        if (kend == b)
            return url_fail(L, "empty key in the query at position %zu "
                            "(expected key=value pairs separated by '&')", b);
        dbc_url_pair *p = &u->query[u->nquery];
        int rc = decode(L, b, kend, "query", DEC_QUERY, &p->key);
        if (rc)
            return rc;
        u->nquery++; /* counted once the key exists, so free() sees it */
        if (eq != NPOS)
            rc = decode(L, eq + 1, e, "query", DEC_QUERY, &p->value);
        else if (!(p->value = dbc_strdup("")))
            rc = dbc_nomem();
        if (rc)
            return rc;
        b = e + 1;
    }
    return 0;
}

/* SQLite URLs name a file (or memory), never a server. */
static int check_sqlite(const layout *L, const dbconn_url *u) {
    if (!dbc_ascii_ieq(u->dialect, "sqlite"))
        return 0;
    const char *what;
    size_t pos;
    if (u->username && *u->username) {
        what = "a username";
        pos = L->auth;
    } else if (u->password) {
        what = "a password";
        pos = L->colon + 1;
    } else if (u->username) {
        what = "an empty username before '@'";
        pos = L->at;
    } else if (u->host) {
        what = "a host";
        pos = L->host;
    } else if (u->port) {
        what = "a port";
        pos = port_colon(L) + 1;
    } else {
        return 0;
    }
    return url_fail(L, "a sqlite URL names a file, but this one has %s at "
                    "position %zu; valid forms: sqlite:// (in memory), "
                    "sqlite:///:memory:, sqlite:///relative/path.db, "
                    "sqlite:////absolute/path.db", what, pos);
}

static int parse_all(const layout *L, dbconn_url *u) {
    int rc = parse_scheme(L, u);
    if (!rc)
        rc = parse_userinfo(L, u);
    if (!rc)
        rc = parse_hostport(L, u);
    if (!rc && L->host_end < L->n && L->s[L->host_end] == '/')
        rc = parse_database(L, u);
    if (!rc)
        rc = parse_query(L, u);
    if (!rc)
        rc = check_sqlite(L, u);
    return rc;
}

int dbconn_url_parse(dbconn_url **out, const char *url) {
    if (out)
        *out = NULL;
    if (!out || !url)
        return dbc_fail(DBCONN_EINVAL, "dbconn_url_parse: %s is NULL",
                        out ? "url" : "out");
    layout L;
    size_t n = strlen(url);
    layout_init(&L, url, n);
    if (n > DBC_URL_MAX)
        return url_fail(&L, "URL is too long (%zu bytes, at most %d)", n,
                        DBC_URL_MAX);
    int rc = check_bytes(&L);
    if (rc)
        return rc;
    dbconn_url *u = dbc_calloc(1, sizeof *u);
    if (!u)
        return dbc_nomem();
    if ((rc = parse_all(&L, u))) {
        dbconn_url_free(u);
        return rc;
    }
    *out = u;
    return 0;
}

void dbconn_url_free(dbconn_url *u) {
    if (!u)
        return;
    for (size_t i = 0; i < u->nquery; i++) {
        dbc_free(u->query[i].key);
        dbc_free(u->query[i].value);
    }
    dbc_free(u->query);
    dbc_free(u->dialect);
    dbc_free(u->driver);
    dbc_free(u->username);
    dbc_free(u->password);
    dbc_free(u->host);
    dbc_free(u->database);
    dbc_free(u);
}

/* ------------------------------------------------------------------------ */
/* Accessors                                                                */
/* ------------------------------------------------------------------------ */

const char *dbconn_url_dialect(const dbconn_url *u) { return u ? u->dialect : NULL; }
const char *dbconn_url_driver(const dbconn_url *u) { return u ? u->driver : NULL; }
const char *dbconn_url_username(const dbconn_url *u) { return u ? u->username : NULL; }
const char *dbconn_url_password(const dbconn_url *u) { return u ? u->password : NULL; }
const char *dbconn_url_host(const dbconn_url *u) { return u ? u->host : NULL; }
int dbconn_url_port(const dbconn_url *u) { return u ? u->port : 0; }
const char *dbconn_url_database(const dbconn_url *u) { return u ? u->database : NULL; }
size_t dbconn_url_query_count(const dbconn_url *u) { return u ? u->nquery : 0; }

const char *dbconn_url_query_key(const dbconn_url *u, size_t i) {
    return u && i < u->nquery ? u->query[i].key : NULL;
}

const char *dbconn_url_query_value(const dbconn_url *u, size_t i) {
    return u && i < u->nquery ? u->query[i].value : NULL;
}

const char *dbconn_url_query_get(const dbconn_url *u, const char *key) {
    if (!u || !key)
        return NULL;
    for (size_t i = u->nquery; i > 0; i--)
        if (strcmp(u->query[i - 1].key, key) == 0)
            return u->query[i - 1].value;
    return NULL;
}

bool dbc_url_is_memory(const dbconn_url *u) {
    if (!u || !dbc_ascii_ieq(u->dialect, "sqlite"))
        return false;
    return !u->database || !*u->database ||
           strcmp(u->database, ":memory:") == 0;
}
