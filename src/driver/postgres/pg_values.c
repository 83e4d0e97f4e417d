/* Values on the wire.  Parameters: typed from the value first bound
 * (dbc_pg_param_type), sent in binary where the declared type is the
 * value's own (8-byte integers and doubles, a boolean byte, bytea's raw
 * bytes) and as text otherwise, so the server parses them as it parses a
 * quoted literal.  Results come in text format (every type has one, so no
 * column type is ever unreadable) and are decoded by type OID into the
 * library's value types; docs/postgresql.md has the table. */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "driver/postgres/pg_int.h"

/* ---- types -------------------------------------------------------------- */

dbc_pg_kind dbc_pg_kind_of(Oid type) {
    switch (type) {
    case DBC_PG_INT2:
    case DBC_PG_INT4:
    case DBC_PG_INT8:
    case DBC_PG_OID:
        return DBC_PG_K_INT;
    case DBC_PG_FLOAT4:
    case DBC_PG_FLOAT8:
        return DBC_PG_K_REAL;
    case DBC_PG_NUMERIC:
        return DBC_PG_K_NUMERIC;
    case DBC_PG_BOOL:
        return DBC_PG_K_BOOL;
    case DBC_PG_BYTEA:
        return DBC_PG_K_BYTEA;
    case DBC_PG_TIMESTAMPTZ:
        return DBC_PG_K_TSTZ;
    default:
        return DBC_PG_K_TEXT;
    }
}

Oid dbc_pg_param_type(const dbconn_value *v) {
    switch (v->type) {
    case DBCONN_TYPE_INTEGER:
        return DBC_PG_INT8;
    case DBCONN_TYPE_REAL:
        return DBC_PG_FLOAT8;
    case DBCONN_TYPE_BOOLEAN:
        return DBC_PG_BOOL;
    case DBCONN_TYPE_BLOB:
        return DBC_PG_BYTEA;
    default:
        return 0;
    }
}

/* ---- numbers in the C locale ---------------------------------------------
 * The server writes "1.5" whatever the program's locale; strtod and
 * snprintf follow LC_NUMERIC, so they run in the C locale here. */

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void make_c_locale(void) {
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

static locale_t enter_c_locale(void) {
    (void)pthread_once(&c_locale_once, make_c_locale);
    return c_locale ? uselocale(c_locale) : (locale_t)0;
}

static void leave_c_locale(locale_t prev) {
    if (prev)
        (void)uselocale(prev);
}

/* ---- parameters --------------------------------------------------------- */

int dbc_pg_params_init(dbc_pg_params *p, int n) {
    memset(p, 0, sizeof *p);
    p->n = n;
    if (n == 0)
        return 0;
    size_t un = (size_t)n;
    p->types = dbc_calloc(un, sizeof *p->types);
    p->values = dbc_calloc(un, sizeof *p->values);
    p->lengths = dbc_calloc(un, sizeof *p->lengths);
    p->formats = dbc_calloc(un, sizeof *p->formats);
    if (!p->types || !p->values || !p->lengths || !p->formats) {
        dbc_pg_params_free(p);
        return dbc_nomem();
    }
    return 0;
}

void dbc_pg_params_free(dbc_pg_params *p) {
    dbc_free(p->types);
    dbc_free(p->values);
    dbc_free(p->lengths);
    dbc_free(p->formats);
    dbc_free(p->scratch);
    memset(p, 0, sizeof *p);
}

/* Each parameter has a fixed slot of SLOT bytes in the scratch buffer for
 * its binary or text form (a number as text fits); text with an explicit
 * length is copied after the slots, to get its terminating NUL. */
#define SLOT 32

/* Bytes a TEXTN value takes after the slots. */
static size_t copy_need(const dbconn_value *v) {
    if ((v->type != DBCONN_TYPE_TEXT && v->type != DBCONN_TYPE_TIMESTAMP) ||
        !v->u.b.ptr || v->u.b.len == DBCONN_NTS)
        return 0;
    return v->u.b.len + 1;
}

static void put_be64(char *dst, uint64_t x) {
    for (int k = 7; k >= 0; k--, x >>= 8)
        dst[k] = (char)(x & 0xff);
}

/* Text into slot i; *copy is where a TEXTN copy goes (advanced past it). */
static int bind_text(dbc_pg_params *p, int i, const dbconn_value *v,
                     char **copy) {
    if (!v->u.b.ptr) {
        p->values[i] = NULL; /* as sqlite: a NULL pointer is SQL NULL */
        return 0;
    }
    bool nts = v->u.b.len == DBCONN_NTS;
    size_t len = nts ? 0 : v->u.b.len;
    if (!nts && memchr(v->u.b.ptr, '\0', len))
        return dbc_fail(DBCONN_EINVAL,
                        "parameter %d: the text holds a NUL byte, which "
                        "postgresql text cannot store: bind it as a BLOB",
                        i + 1);
    if (p->types[i] == DBC_PG_BYTEA) { /* text into a bytea parameter */
        p->values[i] = v->u.b.ptr;
        p->lengths[i] = (int)(nts ? strlen(v->u.b.ptr) : len);
        p->formats[i] = 1;
        return 0;
    }
    if (!nts) {
        memcpy(*copy, v->u.b.ptr, len);
        (*copy)[len] = '\0';
        p->values[i] = *copy;
        *copy += len + 1;
    } else {
        p->values[i] = v->u.b.ptr; /* libpq takes NUL-terminated text */
    }
    p->formats[i] = 0;
    return 0;
}

static void bind_real(dbc_pg_params *p, int i, double r, char *dst) {
    if (p->types[i] == DBC_PG_FLOAT8) {
        uint64_t bits;
        memcpy(&bits, &r, sizeof bits);
        put_be64(dst, bits);
        p->lengths[i] = 8;
        p->formats[i] = 1;
    } else if (isnan(r)) {
        memcpy(dst, "NaN", 4);
        p->formats[i] = 0;
    } else if (isinf(r)) {
        memcpy(dst, r > 0 ? "Infinity" : "-Infinity", r > 0 ? 9 : 10);
        p->formats[i] = 0;
    } else {
        locale_t prev = enter_c_locale();
        (void)snprintf(dst, SLOT, "%.17g", r);
        leave_c_locale(prev);
        p->formats[i] = 0;
    }
    p->values[i] = dst;
}

/* One value into its slot dst (SLOT bytes); a TEXTN copy goes to *copy. */
static int bind_one(dbc_pg_params *p, int i, const dbconn_value *v,
                    char *dst, char **copy) {
    switch (v->type) {
    case DBCONN_TYPE_NULL:
        p->values[i] = NULL;
        return 0;
    case DBCONN_TYPE_INTEGER:
        if (p->types[i] == DBC_PG_INT8) {
            put_be64(dst, (uint64_t)v->u.i);
            p->lengths[i] = 8;
            p->formats[i] = 1;
        } else {
            (void)snprintf(dst, SLOT, "%lld", (long long)v->u.i);
            p->formats[i] = 0;
        }
        p->values[i] = dst;
        return 0;
    case DBCONN_TYPE_REAL:
        bind_real(p, i, v->u.r, dst);
        return 0;
    case DBCONN_TYPE_BOOLEAN:
        if (p->types[i] == DBC_PG_BOOL) { /* binary: one byte, 0 or 1 */
            dst[0] = v->u.i ? 1 : 0;
            p->lengths[i] = 1;
            p->formats[i] = 1;
        } else {
            /* Declared by another value first: "1" / "0", which the
             * boolean and the integer parsers both take. */
            dst[0] = v->u.i ? '1' : '0';
            dst[1] = '\0';
            p->formats[i] = 0;
        }
        p->values[i] = dst;
        return 0;
    case DBCONN_TYPE_TEXT:
    case DBCONN_TYPE_TIMESTAMP:
        return bind_text(p, i, v, copy);
    case DBCONN_TYPE_BLOB:
        if (!v->u.b.ptr && v->u.b.len)
            return dbc_fail(DBCONN_EINVAL, "parameter %d: blob pointer is "
                            "NULL", i + 1);
        if (v->u.b.len > (size_t)INT_MAX)
            return dbc_fail(DBCONN_EINVAL, "parameter %d: blob of %zu bytes "
                            "is too long for libpq", i + 1, v->u.b.len);
        p->values[i] = v->u.b.ptr ? v->u.b.ptr : "";
        p->lengths[i] = (int)v->u.b.len;
        p->formats[i] = 1;
        return 0;
    default:
        return dbc_fail(DBCONN_EINVAL, "parameter %d: unknown type %d", i + 1,
                        v->type);
    }
}

int dbc_pg_params_bind(dbc_pg_params *p, const dbconn_value *v, bool first) {
    if (p->n == 0)
        return 0;
    size_t need = (size_t)p->n * SLOT;
    for (int i = 0; i < p->n; i++) {
        if (first)
            p->types[i] = dbc_pg_param_type(&v[i]);
        need += copy_need(&v[i]);
    }
    if (need > p->cap) {
        char *s = dbc_realloc(p->scratch, need);
        if (!s)
            return dbc_nomem();
        p->scratch = s;
        p->cap = need;
    }
    char *copy = p->scratch + (size_t)p->n * SLOT;
    for (int i = 0; i < p->n; i++) {
        int rc = bind_one(p, i, &v[i], p->scratch + (size_t)i * SLOT, &copy);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- results ------------------------------------------------------------ */

/* Up to 18 digits cannot overflow, so only longer numbers pay for the
 * check. */
bool dbc_pg_parse_int(const char *s, int len, int64_t *out) {
    bool neg = len > 0 && s[0] == '-';
    int i = neg;
    uint64_t x = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (i == len)
        return false;
    for (int fast = len - i <= 18 ? len : i + 18; i < fast; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (d > 9)
            return false;
        x = x * 10 + d;
    }
    for (; i < len; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (d > 9 || x > (limit - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *out = neg ? (int64_t)(0 - x) : (int64_t)x;
    return true;
}

static double parse_real(const char *s) {
    locale_t prev = enter_c_locale();
    double r = strtod(s, NULL);
    leave_c_locale(prev);
    return r;
}

/* A hex digit's value; the server writes no other characters there. */
static unsigned hexval(char c) {
    if (c >= '0' && c <= '9')
        return (unsigned)(c - '0');
    if (c >= 'a' && c <= 'f')
        return (unsigned)(c - 'a' + 10);
    if (c >= 'A' && c <= 'F')
        return (unsigned)(c - 'A' + 10);
    return 0;
}

/* bytea's text: "\x" + hex (bytea_output=hex, set at connect), or the
 * escape form of servers set otherwise.  Writes at most len bytes to dst;
 * returns the count. */
static size_t decode_bytea(const char *s, size_t len, char *dst) {
    size_t n = 0;
    if (len >= 2 && s[0] == '\\' && s[1] == 'x') {
        for (size_t i = 2; i + 1 < len; i += 2)
            dst[n++] = (char)(hexval(s[i]) << 4 | hexval(s[i + 1]));
        return n;
    }
    for (size_t i = 0; i < len;) {
        if (s[i] == '\\' && i + 1 < len && s[i + 1] == '\\') {
            dst[n++] = '\\';
            i += 2;
        } else if (s[i] == '\\' && i + 3 < len && s[i + 1] >= '0' &&
                   s[i + 1] <= '3') {
            dst[n++] = (char)((s[i + 1] - '0') << 6 | (s[i + 2] - '0') << 3 |
                              (s[i + 3] - '0'));
            i += 4;
        } else {
            dst[n++] = s[i++];
        }
    }
    return n;
}

/* Bytes column i of the row takes in the arena (NUL included), or 0 for a
 * value that is a number or NULL. */
static size_t value_need(const PGresult *res, int row, int i, dbc_pg_kind k) {
    if (PQgetisnull(res, row, i))
        return 0;
    switch (k) {
    case DBC_PG_K_INT:
    case DBC_PG_K_REAL:
    case DBC_PG_K_NUMERIC:
    case DBC_PG_K_BOOL:
        return 0;
    default:
        return (size_t)PQgetlength(res, row, i) + 1;
    }
}

/* Copies `len` bytes of text (or decoded bytea) into the arena as cell c. */
static void put_bytes(dbc_colval *c, dbc_arena *a, dbc_pg_kind k,
                      const char *s, size_t len) {
    char *dst = a->bytes + a->len;
    if (k == DBC_PG_K_BYTEA) {
        len = decode_bytea(s, len, dst);
    } else {
        if (k == DBC_PG_K_TSTZ && len > 3 && s[len - 3] == '+' &&
            s[len - 2] == '0' && s[len - 1] == '0')
            len -= 3; /* TimeZone=UTC: the offset says nothing */
        memcpy(dst, s, len);
    }
    dst[len] = '\0';
    c->u.o.off = a->len;
    c->u.o.len = len;
    a->len += len + 1;
}

/* A number-like column: sets c and returns true (false: keep it as text). */
static bool put_number(dbc_colval *c, dbc_pg_kind k, const char *s, int len) {
    switch (k) {
    case DBC_PG_K_INT:
        c->type = DBCONN_TYPE_INTEGER;
        if (!dbc_pg_parse_int(s, len, &c->u.i))
            c->u.i = 0;
        return true;
    case DBC_PG_K_BOOL:
        c->type = DBCONN_TYPE_INTEGER;
        c->u.i = s[0] == 't';
        return true;
    case DBC_PG_K_NUMERIC:
        /* A fraction, an exponent, NaN or more than 64 bits: REAL. */
        if (dbc_pg_parse_int(s, len, &c->u.i)) {
            c->type = DBCONN_TYPE_INTEGER;
            return true;
        }
        c->type = DBCONN_TYPE_REAL;
        c->u.r = parse_real(s);
        return true;
    case DBC_PG_K_REAL:
        c->type = DBCONN_TYPE_REAL;
        c->u.r = parse_real(s);
        return true;
    default:
        return false;
    }
}

int dbc_pg_row(const PGresult *res, int row, const dbc_pg_kind *kinds,
               size_t n, dbc_colval *out, dbc_arena *a, size_t *need) {
    size_t start = a->len;
    for (size_t i = 0; i < n; i++) {
        int col = (int)i;
        dbc_colval *c = &out[i];
        int len = PQgetlength(res, row, col);
        if (len == 0 && PQgetisnull(res, row, col)) { /* NULL has length 0 */
            c->type = DBCONN_TYPE_NULL;
            continue;
        }
        const char *s = PQgetvalue(res, row, col);
        if (put_number(c, kinds[i], s, len))
            continue;
        if ((size_t)len >= a->cap - a->len) {
            size_t total = 0;
            for (size_t j = 0; j < n; j++)
                total += value_need(res, row, (int)j, kinds[j]);
            *need = total;
            a->len = start;
            return DBC_ROW_FULL;
        }
        c->type = kinds[i] == DBC_PG_K_BYTEA ? DBCONN_TYPE_BLOB
                                             : DBCONN_TYPE_TEXT;
        put_bytes(c, a, kinds[i], s, (size_t)len);
    }
    return 0;
}
