/* Engine options: one table describes every option (name, field, unit,
 * range, accepted values); dbconn_options_set() parses a value by name,
 * dbc_config_resolve() validates a dbconn_options struct, applies the URL
 * query's engine options on top of it and fills in every default.
 *
 * Conventions (docs/options.md): in the struct 0 means "default" and
 * DBCONN_NONE means zero/none/off; by name "0" means zero and is stored as
 * DBCONN_NONE.  String values are stored as pointers to the static canonical
 * spellings below, so the caller's strings are never kept. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "util/editdist.h"
#include "util/error.h"
#include "engine/options.h"
#include "util/text.h"

#define VALUE_MAX 4096 /* longest value accepted by name, in bytes */

typedef enum opt_kind {
    K_ECHO,    /* bool spellings, 2 or "debug" */
    K_BOOL,    /* bool field */
    K_ONOFF,   /* int field: on = 1, off = DBCONN_NONE (0 = default: on) */
    K_INT,     /* decimal integer in [min, max]; 0 stored as DBCONN_NONE */
    K_SECONDS, /* seconds, fractional, into a milliseconds int field */
    K_STR,     /* one of strs (canonical spelling stored) */
    K_ENUM,    /* one of choices (its value stored) */
    K_NAME,    /* logging_name: printable ASCII, copied (see opt_store) */
    K_REJECT   /* a name that exists but cannot be set by name */
} opt_kind;

typedef struct opt_choice {
    const char *name;
    int value;
} opt_choice;

typedef struct optdef {
    const char *name;
    opt_kind kind;
    size_t off;          /* offsetof(dbconn_options, <field>) */
    const char *alias_of; /* the field an alias sets; NULL for a field */
    int min, max;        /* K_INT range; K_SECONDS: max in milliseconds */
    const char *zero;    /* K_INT / K_SECONDS: what zero (DBCONN_NONE) means */
    const char *neg;     /* K_INT with min -1: what -1 means */
    const char *dflt;    /* what a 0 in the struct means */
    const char *const *strs;  /* K_STR, NULL-terminated */
    const opt_choice *choices; /* K_ENUM, NULL-terminated */
    const char *why;     /* K_REJECT: the message after the name */
} optdef;

static const char *const journal_modes[] = {
    "delete", "truncate", "persist", "memory", "wal", "off", NULL};
static const char *const sync_modes[] = {"off", "normal", "full", "extra",
                                         NULL};
static const char *const isolation_levels[] = {
    "SERIALIZABLE", "READ UNCOMMITTED", "READ COMMITTED", "REPEATABLE READ",
    "AUTOCOMMIT", NULL};
static const opt_choice begin_modes[] = {
    {"deferred", DBCONN_BEGIN_DEFERRED},
    {"immediate", DBCONN_BEGIN_IMMEDIATE},
    {"exclusive", DBCONN_BEGIN_EXCLUSIVE},
    {NULL, 0}};
static const opt_choice exec_policies[] = {
    {"threadpool", DBCONN_EXEC_THREADPOOL},
    {"inline", DBCONN_EXEC_INLINE},
    {"loop", DBCONN_EXEC_LOOP},
    {NULL, 0}};

/* What dbconn_options_set copies for a dbconn_options (its `owned`). */
typedef struct opt_store {
    char *logging_name;
    char *pragmas;
} opt_store;

#define LOGGING_NAME_MAX 64
#define PRAGMA_PREFIX "pragma."
#define PRAGMA_TOKEN_MAX 64 /* longest pragma name or value */

#define OFF(f) offsetof(dbconn_options, f)
#define POINTER_FIELD                                                           \
    "cannot be set by name: it is a pointer field; set it in the "              \
    "dbconn_options struct"

static const optdef options[] = {
    {.name = "echo", .kind = K_ECHO, .off = OFF(echo)},
    {.name = "pool_size", .kind = K_INT, .off = OFF(pool_size), .min = 0,
     .max = 100000, .zero = "no limit", .dflt = "5"},
    {.name = "max_overflow", .kind = K_INT, .off = OFF(max_overflow),
     .min = -1, .max = 100000, .zero = "no overflow", .neg = "unlimited",
     .dflt = "10"},
    {.name = "pool_timeout_ms", .kind = K_INT, .off = OFF(pool_timeout_ms),
     .min = 0, .max = 86400000, .zero = "do not wait", .dflt = "30000"},
    {.name = "pool_recycle_s", .kind = K_INT, .off = OFF(pool_recycle_s),
     .min = -1, .max = 31536000, .zero = "never", .neg = "never",
     .dflt = "never"},
    {.name = "pool_pre_ping", .kind = K_BOOL, .off = OFF(pool_pre_ping)},
    {.name = "busy_timeout_ms", .kind = K_INT, .off = OFF(busy_timeout_ms),
     .min = 0, .max = 86400000, .zero = "fail at once", .dflt = "5000"},
    {.name = "journal_mode", .kind = K_STR, .off = OFF(journal_mode),
     .strs = journal_modes},
    {.name = "isolation_level", .kind = K_STR, .off = OFF(isolation_level),
     .strs = isolation_levels},
    {.name = "statement_cache_size", .kind = K_INT,
     .off = OFF(statement_cache_size), .min = 0, .max = 100000,
     .zero = "no cache", .dflt = "64"},
    {.name = "hide_parameters", .kind = K_BOOL, .off = OFF(hide_parameters)},
    {.name = "synchronous", .kind = K_STR, .off = OFF(synchronous),
     .strs = sync_modes},
    {.name = "foreign_keys", .kind = K_ONOFF, .off = OFF(foreign_keys)},
    {.name = "begin_mode", .kind = K_ENUM, .off = OFF(begin_mode),
     .choices = begin_modes},
    {.name = "execution_policy", .kind = K_ENUM, .off = OFF(execution_policy),
     .choices = exec_policies},
    {.name = "logging_name", .kind = K_NAME, .off = OFF(logging_name)},
    {.name = "pool_idle_timeout_s", .kind = K_INT,
     .off = OFF(pool_idle_timeout_s), .min = 0, .max = 31536000,
     .zero = "never", .dflt = "never"},
    {.name = "pool_use_lifo", .kind = K_ONOFF, .off = OFF(pool_use_lifo)},
    {.name = "hold_warn_ms", .kind = K_INT, .off = OFF(hold_warn_ms),
     .min = 0, .max = 86400000, .zero = "off", .dflt = "off"},
    {.name = "statement_timeout", .kind = K_INT,
     .off = OFF(statement_timeout), .min = 0, .max = 86400000,
     .zero = "no limit", .dflt = "no limit"},
    /* SQLAlchemy's names, in their own units. */
    {.name = "pool_timeout", .kind = K_SECONDS, .off = OFF(pool_timeout_ms),
     .alias_of = "pool_timeout_ms", .max = 86400000, .zero = "do not wait"},
    {.name = "pool_recycle", .kind = K_INT, .off = OFF(pool_recycle_s),
     .alias_of = "pool_recycle_s", .min = -1, .max = 31536000,
     .zero = "never", .neg = "never"},
    {.name = "pool_idle_timeout", .kind = K_INT,
     .off = OFF(pool_idle_timeout_s), .alias_of = "pool_idle_timeout_s",
     .min = 0, .max = 31536000, .zero = "never"},
    {.name = "timeout", .kind = K_SECONDS, .off = OFF(busy_timeout_ms),
     .alias_of = "busy_timeout_ms", .max = 86400000, .zero = "fail at once"},
    /* Names that exist but cannot be set by name: known, so that a URL
     * query naming them gets this message rather than the driver's. */
    {.name = "echo_pool", .kind = K_REJECT,
     .why = "is not supported (the pool does not log; use echo)"},
    {.name = "log", .kind = K_REJECT, .why = POINTER_FIELD},
    {.name = "log_data", .kind = K_REJECT, .why = POINTER_FIELD},
    {.name = "loop", .kind = K_REJECT, .why = POINTER_FIELD},
    {.name = "scopefunc", .kind = K_REJECT, .why = POINTER_FIELD},
    {.name = "scope_data", .kind = K_REJECT, .why = POINTER_FIELD},
    {.name = "pragmas", .kind = K_REJECT,
     .why = "cannot be set by name: set each pragma as \"pragma.NAME\" "
            "(e.g. pragma.cache_size=-20000)"},
    {.name = "owned", .kind = K_REJECT, .why = POINTER_FIELD},
    {.name = "reserved", .kind = K_REJECT,
     .why = "cannot be set by name: reserved fields are not options and "
            "must stay zero"},
};

#define NOPTIONS (sizeof options / sizeof *options)

/* statement_timeout took padding (8-byte pointers) or a reserved slot
 * (4-byte ones): the struct users compile against keeps its size. */
_Static_assert(sizeof(void *) < 8 || sizeof(dbconn_options) == 192,
               "dbconn_options changed size");

#define KNOWN_NAMES                                                             \
    "echo, pool_size, max_overflow, pool_timeout_ms, pool_recycle_s, "          \
    "pool_pre_ping, busy_timeout_ms, journal_mode, isolation_level, "           \
    "statement_cache_size, hide_parameters, synchronous, foreign_keys, "        \
    "begin_mode, execution_policy, logging_name, pragma.NAME, "                 \
    "pool_idle_timeout_s, pool_use_lifo, hold_warn_ms, statement_timeout; "     \
    "SQLAlchemy aliases: pool_timeout (s), pool_recycle (s), timeout (s); "     \
    "also pool_idle_timeout (s)"

static const optdef *lookup(const char *key) {
    for (size_t i = 0; i < NOPTIONS; i++)
        if (strcmp(options[i].name, key) == 0)
            return &options[i];
    return NULL;
}

bool dbc_option_known(const char *key) { return key && lookup(key); }

void dbc_option_suggest(const char *key, const char **best, size_t *dist) {
    for (size_t i = 0; i < NOPTIONS; i++)
        if (options[i].kind != K_REJECT)
            dbc_nearest_step(key, options[i].name, best, dist);
}

/* ------------------------------------------------------------------------ */
/* Messages                                                                 */
/* ------------------------------------------------------------------------ */

/* `<origin> "<key>": invalid value "<value>": <what is accepted>`. */
static int bad_value(const char *origin, const char *key, const char *value,
                     const char *fmt, ...) DBC_PRINTF(4, 5);

static int bad_value(const char *origin, const char *key, const char *value,
                     const char *fmt, ...) {
    char v[512], detail[512];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(detail, sizeof detail, fmt, ap); /* truncates */
    va_end(ap);
    return dbc_fail(DBCONN_EOPTION, "%s \"%s\": invalid value \"%s\": %s",
                    origin, key, dbc_show(value, v, sizeof v), detail);
}

/* "delete, truncate, ..." for a K_STR or K_ENUM option. */
static const char *choice_list(const optdef *d, char *out, size_t cap) {
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0;; i++) {
        const char *name = d->strs ? d->strs[i] : d->choices[i].name;
        if (!name || n >= cap)
            break;
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? ", " : "", name);
    }
    return out;
}

/* ' (did you mean "x"?)' for the nearest choice of a K_STR or K_ENUM
 * option to `value`, or "". */
static const char *choice_hint(const optdef *d, const char *value, char *out,
                               size_t cap) {
    const char *best = NULL;
    size_t dist = SIZE_MAX;
    for (size_t i = 0;; i++) {
        const char *name = d->strs ? d->strs[i] : d->choices[i].name;
        if (!name)
            break;
        dbc_nearest_step(value, name, &best, &dist);
    }
    out[0] = '\0';
    if (best)
        (void)snprintf(out, cap, " (did you mean \"%s\"?)", best);
    return out;
}

/* The accepted integers for a by-name message. */
static const char *int_help(const optdef *d, char *out, size_t cap) {
    if (d->neg)
        (void)snprintf(out, cap,
                       "a decimal integer in %d..%d (0 = %s, -1 = %s)", d->min,
                       d->max, d->zero, d->neg);
    else
        (void)snprintf(out, cap, "a decimal integer in %d..%d (0 = %s)",
                       d->min, d->max, d->zero);
    return out;
}

/* ------------------------------------------------------------------------ */
/* Free-form values: logging_name and pragma.NAME                           */
/* ------------------------------------------------------------------------ */

/* logging_name: 1..LOGGING_NAME_MAX printable ASCII characters, no space
 * (it becomes part of a logger name).  `what` starts the message. */
static int check_logging_name(const char *what, const char *v) {
    char shown[160];
    size_t n = strlen(v);
    if (n == 0 || n > LOGGING_NAME_MAX)
        return dbc_fail(DBCONN_EOPTION,
                        "%s \"%s\" is invalid: expected 1..%d characters "
                        "(got %zu)",
                        what, dbc_show(v, shown, sizeof shown),
                        LOGGING_NAME_MAX, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c <= 0x20 || c >= 0x7f)
            return dbc_fail(DBCONN_EOPTION,
                            "%s \"%s\" is invalid: expected printable ASCII "
                            "without spaces (byte %zu is 0x%02X)",
                            what, dbc_show(v, shown, sizeof shown), i, c);
    }
    return 0;
}

static bool ident_char(char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
}

/* A pragma name: an identifier of at most PRAGMA_TOKEN_MAX bytes. */
static bool pragma_name_ok(const char *p, size_t n) {
    if (n == 0 || n > PRAGMA_TOKEN_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!ident_char(p[i], i == 0))
            return false;
    return true;
}

/* A pragma value: an optionally signed decimal integer or a keyword, at
 * most PRAGMA_TOKEN_MAX bytes.  The driver checks it further against what
 * the pragma takes; this is what makes it safe to carry as text. */
static bool pragma_value_ok(const char *p, size_t n) {
    if (n == 0 || n > PRAGMA_TOKEN_MAX)
        return false;
    size_t i = p[0] == '-' || p[0] == '+';
    if (i < n && p[i] >= '0' && p[i] <= '9') {
        for (; i < n; i++)
            if (p[i] < '0' || p[i] > '9')
                return false;
        return true;
    }
    return i == 0 && pragma_name_ok(p, n);
}

/* Checks one pragma entry; `origin` names where it came from. */
static int check_pragma(const char *origin, const char *name, size_t nlen,
                        const char *value, size_t vlen) {
    char k[160], v[160], tmp[PRAGMA_TOKEN_MAX * 4 + 1];
    size_t nk = nlen < sizeof tmp - 1 ? nlen : sizeof tmp - 1;
    memcpy(tmp, name, nk);
    tmp[nk] = '\0';
    (void)dbc_show(tmp, k, sizeof k);
    if (!pragma_name_ok(name, nlen))
        return dbc_fail(DBCONN_EOPTION,
                        "%s \"" PRAGMA_PREFIX "%s\": invalid pragma name: "
                        "expected letters, digits and '_' (at most %d)",
                        origin, k, PRAGMA_TOKEN_MAX);
    if (!pragma_value_ok(value, vlen)) {
        size_t nv = vlen < sizeof tmp - 1 ? vlen : sizeof tmp - 1;
        memcpy(tmp, value, nv);
        tmp[nv] = '\0';
        return dbc_fail(DBCONN_EOPTION,
                        "%s \"" PRAGMA_PREFIX "%s\": invalid value \"%s\": "
                        "expected an integer or a keyword (at most %d "
                        "characters)",
                        origin, k, dbc_show(tmp, v, sizeof v),
                        PRAGMA_TOKEN_MAX);
    }
    return 0;
}

static bool is_space(char c) { return c == ' ' || c == '\t'; }

/* Appends the entries of a "name=value;name=value" list (spaces around
 * names and values and empty entries allowed) to b as checked
 * "name=value" entries separated by ';'. */
static int put_pragma_list(dbc_buf *b, const char *list, const char *origin) {
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ";");
        const char *e = p, *end = p + n;
        while (e < end && is_space(*e))
            e++;
        const char *stop = end;
        while (stop > e && is_space(stop[-1]))
            stop--;
        if (e < stop) {
            const char *eq = memchr(e, '=', (size_t)(stop - e));
            char shown[160], tmp[256];
            if (!eq) {
                size_t m = (size_t)(stop - e) < sizeof tmp - 1
                               ? (size_t)(stop - e)
                               : sizeof tmp - 1;
                memcpy(tmp, e, m);
                tmp[m] = '\0';
                return dbc_fail(DBCONN_EOPTION,
                                "%s: entry \"%s\" is not name=value", origin,
                                dbc_show(tmp, shown, sizeof shown));
            }
            const char *ne = eq, *vs = eq + 1;
            while (ne > e && is_space(ne[-1]))
                ne--;
            while (vs < stop && is_space(*vs))
                vs++;
            int rc = check_pragma(origin, e, (size_t)(ne - e), vs,
                                  (size_t)(stop - vs));
            if (rc)
                return rc;
            if (b->len)
                dbc_buf_putc(b, ';');
            dbc_buf_append(b, e, (size_t)(ne - e));
            dbc_buf_putc(b, '=');
            dbc_buf_append(b, vs, (size_t)(stop - vs));
        }
        p = *end ? end + 1 : end;
    }
    return b->oom ? dbc_nomem() : 0;
}

static opt_store *store_of(dbconn_options *o) {
    if (!o->owned)
        o->owned = dbc_calloc(1, sizeof(opt_store));
    return o->owned;
}

/* dbconn_options_set("pragma.NAME", value): appends NAME=value to
 * o->pragmas, in a copy the struct owns. */
static int set_pragma(dbconn_options *o, const char *name, const char *value) {
    int rc = check_pragma("option", name, strlen(name), value, strlen(value));
    if (rc)
        return rc;
    dbc_buf b = DBC_BUF_INIT;
    if (o->pragmas && *o->pragmas)
        dbc_buf_printf(&b, "%s;", o->pragmas);
    dbc_buf_printf(&b, "%s=%s", name, value);
    opt_store *st = b.oom ? NULL : store_of(o);
    if (!st) {
        dbc_buf_free(&b);
        return dbc_nomem();
    }
    dbc_free(st->pragmas);
    o->pragmas = st->pragmas = dbc_buf_take(&b);
    return 0;
}

/* dbconn_options_set("logging_name", value): a copy the struct owns. */
static int set_logging_name(dbconn_options *o, const char *value) {
    int rc = check_logging_name("option \"logging_name\":", value);
    if (rc)
        return rc;
    char *copy = dbc_strdup(value);
    opt_store *st = copy ? store_of(o) : NULL;
    if (!st) {
        dbc_free(copy);
        return dbc_nomem();
    }
    dbc_free(st->logging_name);
    o->logging_name = st->logging_name = copy;
    return 0;
}

void dbconn_options_clear(dbconn_options *o) {
    if (!o)
        return;
    opt_store *st = o->owned;
    if (st) {
        dbc_free(st->logging_name);
        dbc_free(st->pragmas);
        dbc_free(st);
    }
    memset(o, 0, sizeof *o);
}

/* ------------------------------------------------------------------------ */
/* Value parsers                                                            */
/* ------------------------------------------------------------------------ */

/* Option words compare without ASCII case and with '_' and ' ' the same
 * ("read_committed" is "READ COMMITTED").  Values are at most VALUE_MAX
 * bytes (checked before), so a copy fits. */
static bool same_word(const char *a, const char *b) {
    char x[VALUE_MAX + 1];
    size_t n = strlen(a);
    if (n > VALUE_MAX || n != strlen(b))
        return false;
    for (size_t i = 0; i <= n; i++) {
        x[i] = a[i];
        if (a[i] == '_' && b[i] == ' ')
            x[i] = ' ';
    }
    return dbc_ascii_ieq(x, b);
}

/* Decimal integer: optional '-', digits.  Saturates far outside any range
 * so that a huge number is "out of range", not "not a number". */
static bool parse_int(const char *v, long long *out) {
    bool neg = *v == '-';
    const char *p = v + neg;
    long long x = 0;
    if (!*p)
        return false;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        if (x < 1000000000000LL)
            x = x * 10 + (*p - '0');
    }
    *out = neg ? -x : x;
    return true;
}

/* Non-negative seconds with up to 3 decimals ("2", "2.5", ".25") into
 * milliseconds; false if not that form.  Saturates like parse_int. */
static bool parse_seconds(const char *v, long long *ms) {
    long long whole = 0;
    int frac = 0, nfrac = 0, ndigits = 0;
    const char *p = v;
    for (; *p >= '0' && *p <= '9'; p++, ndigits++)
        if (whole < 1000000000000LL)
            whole = whole * 10 + (*p - '0');
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++, ndigits++, nfrac++) {
            if (nfrac < 3)
                frac = frac * 10 + (*p - '0');
            else if (*p != '0')
                return false; /* finer than a millisecond */
        }
    if (*p || !ndigits)
        return false;
    for (; nfrac < 3; nfrac++)
        frac *= 10;
    *ms = whole * 1000 + frac;
    return true;
}

static int *int_field(dbconn_options *o, const optdef *d) {
    return (int *)(void *)((char *)o + d->off);
}

static bool *bool_field(dbconn_options *o, const optdef *d) {
    return (bool *)(void *)((char *)o + d->off);
}

static const char **str_field(dbconn_options *o, const optdef *d) {
    return (const char **)(void *)((char *)o + d->off);
}

/* Parses `value` for option `d` into *o; messages start with `origin`. */
/* `copy`: free-form strings are copied into o->owned (by name); else the
 * value is kept as given (it outlives the options: the URL's). */
static int set_value(dbconn_options *o, const optdef *d, const char *key,
                     const char *value, const char *origin, bool copy) {
    char help[160], hint[96];
    long long x;
    int b;
    switch (d->kind) {
    case K_ECHO:
        b = dbc_parse_bool(value);
        if (b < 0 && (same_word(value, "debug") || strcmp(value, "2") == 0))
            b = 2;
        if (b < 0)
            return bad_value(origin, key, value,
                             "expected true/false, 1/0, yes/no, on/off, 2 or "
                             "debug (any case)");
        *int_field(o, d) = b;
        return 0;
    case K_BOOL:
    case K_ONOFF:
        b = dbc_parse_bool(value);
        if (b < 0)
            return bad_value(origin, key, value,
                             "expected true/false, 1/0, yes/no or on/off (any "
                             "case)");
        if (d->kind == K_BOOL)
            *bool_field(o, d) = b;
        else
            *int_field(o, d) = b ? 1 : DBCONN_NONE;
        return 0;
    case K_INT:
        if (!parse_int(value, &x))
            return bad_value(origin, key, value, "expected %s",
                             int_help(d, help, sizeof help));
        if (x < d->min || x > d->max)
            return bad_value(origin, key, value, "out of range: expected %s",
                             int_help(d, help, sizeof help));
        *int_field(o, d) = x == 0 ? DBCONN_NONE : (int)x;
        return 0;
    case K_SECONDS:
        if (!parse_seconds(value, &x) || x > d->max)
            return bad_value(origin, key, value,
                             "expected seconds in 0..%d with at most 3 "
                             "decimals, e.g. 2.5 (0 = %s; %s is the same in "
                             "milliseconds)",
                             d->max / 1000, d->zero, d->alias_of);
        *int_field(o, d) = x == 0 ? DBCONN_NONE : (int)x;
        return 0;
    case K_STR:
        for (size_t i = 0; d->strs[i]; i++)
            if (same_word(value, d->strs[i])) {
                *str_field(o, d) = d->strs[i];
                return 0;
            }
        return bad_value(origin, key, value, "expected one of %s (any case)%s",
                         choice_list(d, help, sizeof help),
                         choice_hint(d, value, hint, sizeof hint));
    case K_ENUM:
        for (size_t i = 0; d->choices[i].name; i++)
            if (same_word(value, d->choices[i].name)) {
                *int_field(o, d) = d->choices[i].value;
                return 0;
            }
        return bad_value(origin, key, value, "expected one of %s (any case)%s",
                         choice_list(d, help, sizeof help),
                         choice_hint(d, value, hint, sizeof hint));
    case K_NAME:
        if (copy)
            return set_logging_name(o, value);
        (void)snprintf(help, sizeof help, "%s \"%s\":", origin, key);
        b = check_logging_name(help, value);
        if (!b)
            *str_field(o, d) = value;
        return b;
    case K_REJECT: /* set_by_name() reports these */
        break;
    }
    return dbc_fail(DBCONN_EOPTION, "%s \"%s\" %s", origin, key, d->why);
}

static int set_by_name(dbconn_options *o, const char *key, const char *value,
                       const char *origin, bool copy) {
    char k[512], v[512];
    const optdef *d = lookup(key);
    const char *best = NULL;
    size_t dist = SIZE_MAX;
    if (!d)
        dbc_option_suggest(key, &best, &dist);
    if (!d && best)
        return dbc_fail(DBCONN_EOPTION,
                        "unknown engine option \"%s\" (did you mean \"%s\"?)",
                        dbc_show(key, k, sizeof k), best);
    if (!d)
        return dbc_fail(DBCONN_EOPTION,
                        "unknown engine option \"%s\" (known: " KNOWN_NAMES ")",
                        dbc_show(key, k, sizeof k));
    if (d->kind == K_REJECT)
        return dbc_fail(DBCONN_EOPTION, "%s \"%s\" %s", origin, key, d->why);
    size_t n = strlen(value);
    if (n > VALUE_MAX)
        return dbc_fail(DBCONN_EOPTION,
                        "%s \"%s\": value \"%s\" is too long (%zu bytes, at "
                        "most %d)",
                        origin, key, dbc_show(value, v, sizeof v), n,
                        VALUE_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c < 0x20 || c == 0x7f)
            return dbc_fail(DBCONN_EOPTION,
                            "%s \"%s\": value \"%s\" contains a control "
                            "character (0x%02X at byte %zu)",
                            origin, key, dbc_show(value, v, sizeof v), c, i);
    }
    return set_value(o, d, key, value, origin, copy);
}

static bool is_pragma_key(const char *key) {
    return strncmp(key, PRAGMA_PREFIX, sizeof PRAGMA_PREFIX - 1) == 0;
}

int dbconn_options_set(dbconn_options *o, const char *key, const char *value) {
    if (!o || !key || !value)
        return dbc_fail(DBCONN_EINVAL, "dbconn_options_set: %s is NULL",
                        !o ? "o" : !key ? "key" : "value");
    if (is_pragma_key(key))
        return set_pragma(o, key + sizeof PRAGMA_PREFIX - 1, value);
    return set_by_name(o, key, value, "option", true);
}

/* ------------------------------------------------------------------------ */
/* Resolution                                                               */
/* ------------------------------------------------------------------------ */

/* Checks one struct field (not an alias) and canonicalizes string values. */
static int check_field(dbconn_options *o, const optdef *d) {
    char help[160];
    int v = d->kind == K_BOOL || d->kind == K_STR || d->kind == K_NAME
                ? 0
                : *int_field(o, d);
    const char *s;
    switch (d->kind) {
    case K_ECHO:
        if (v == DBCONN_NONE || (v >= 0 && v <= 2))
            return 0;
        return dbc_fail(DBCONN_EOPTION, "dbconn_options.echo = %d is invalid: "
                        "expected 0 (off), 1 (SQL and parameters), 2 (also "
                        "rows)", v);
    case K_ONOFF:
        if (v == 0 || v == 1 || v == DBCONN_NONE)
            return 0;
        return dbc_fail(DBCONN_EOPTION, "dbconn_options.%s = %d is invalid: "
                        "expected 0 (default: on), 1 (on) or DBCONN_NONE "
                        "(off)", d->name, v);
    case K_INT:
        if (v == DBCONN_NONE || (v >= d->min && v <= d->max))
            return 0;
        if (d->neg)
            (void)snprintf(help, sizeof help, "-1 (%s), ", d->neg);
        return dbc_fail(DBCONN_EOPTION, "dbconn_options.%s = %d is invalid: "
                        "expected 0 (default: %s), %s1..%d or DBCONN_NONE "
                        "(%s)", d->name, v, d->dflt, d->neg ? help : "",
                        d->max, d->zero);
    case K_ENUM:
        if (v == 0)
            return 0;
        for (size_t i = 0; d->choices[i].name; i++)
            if (v == d->choices[i].value)
                return 0;
        return dbc_fail(DBCONN_EOPTION, "dbconn_options.%s = %d is invalid: "
                        "expected 0 (default) or the constant for one of %s",
                        d->name, v, choice_list(d, help, sizeof help));
    case K_STR:
        s = *str_field(o, d);
        if (!s)
            return 0;
        for (size_t i = 0; d->strs[i]; i++)
            if (same_word(s, d->strs[i])) {
                *str_field(o, d) = d->strs[i];
                return 0;
            }
        return dbc_fail(DBCONN_EOPTION, "dbconn_options.%s = \"%s\" is "
                        "invalid: expected NULL (driver default) or one of %s "
                        "(any case)", d->name, dbc_show(s, help, 80),
                        choice_list(d, help + 80, sizeof help - 80));
    case K_NAME:
        s = *str_field(o, d);
        return s ? check_logging_name("dbconn_options.logging_name =", s) : 0;
    case K_BOOL:
    case K_SECONDS:
    case K_REJECT:
        break;
    }
    return 0;
}

static int check_struct(dbconn_options *o) {
    size_t nres = sizeof o->reserved / sizeof *o->reserved;
    for (size_t i = 0; i < nres; i++)
        if (o->reserved[i])
            return dbc_fail(DBCONN_EOPTION, "dbconn_options.reserved[%zu] is "
                            "not zero: reserved fields must be zero (zero the "
                            "whole struct before setting fields)", i);
    for (size_t i = 0; i < NOPTIONS; i++) {
        if (options[i].alias_of)
            continue;
        int rc = check_field(o, &options[i]);
        if (rc)
            return rc;
    }
    return 0;
}

/* 0 -> dflt, DBCONN_NONE -> none, anything else as is. */
static int pick(int v, int dflt, int none) {
    return v == 0 ? dflt : v == DBCONN_NONE ? none : v;
}

static void apply_defaults(dbc_config *cfg, const dbconn_options *o) {
    cfg->echo = pick(o->echo, 0, 0);
    cfg->log = o->log;
    cfg->log_data = o->log_data;
    cfg->hide_parameters = o->hide_parameters;
    cfg->pool_size = pick(o->pool_size, 5, -1);
    cfg->max_overflow = pick(o->max_overflow, 10, 0);
    cfg->pool_timeout_ms = pick(o->pool_timeout_ms, 30000, 0);
    cfg->pool_recycle_s = o->pool_recycle_s > 0 ? o->pool_recycle_s : 0;
    cfg->pool_pre_ping = o->pool_pre_ping;
    cfg->busy_timeout_ms = pick(o->busy_timeout_ms, 5000, 0);
    cfg->busy_timeout_set = o->busy_timeout_ms != 0;
    cfg->journal_mode = o->journal_mode;
    cfg->synchronous = o->synchronous;
    cfg->isolation_level = o->isolation_level;
    cfg->autocommit = o->isolation_level &&
                      strcmp(o->isolation_level, "AUTOCOMMIT") == 0;
    cfg->statement_cache_size = pick(o->statement_cache_size, 64, 0);
    cfg->foreign_keys = o->foreign_keys != DBCONN_NONE;
    cfg->begin_mode = pick(o->begin_mode, DBCONN_BEGIN_DEFERRED, 0);
    cfg->execution_policy = o->execution_policy; /* 0: the driver decides */
    cfg->statement_timeout_ms = pick(o->statement_timeout, 0, 0);
    cfg->loop = o->loop;
    cfg->scopefunc = o->scopefunc;
    cfg->scope_data = o->scope_data;
    cfg->suggest = dbc_option_suggest;
    cfg->logging_name = o->logging_name;
    cfg->pool_idle_timeout_s = pick(o->pool_idle_timeout_s, 0, 0);
    cfg->pool_use_lifo = o->pool_use_lifo != DBCONN_NONE;
    cfg->hold_warn_ms = pick(o->hold_warn_ms, 0, 0);
}

void dbc_config_release(dbc_config *cfg) {
    if (!cfg)
        return;
    dbc_free(cfg->pragmas);
    cfg->pragmas = NULL;
}

int dbc_config_resolve(dbc_config *cfg, const dbconn_options *opts,
                       const dbconn_url *url, dbc_qparam **rest,
                       size_t *nrest) {
    dbconn_options o;
    size_t nq = dbconn_url_query_count(url), nr = 0;
    if (rest)
        *rest = NULL;
    if (nrest)
        *nrest = 0;
    if (!cfg)
        return dbc_fail(DBCONN_EINVAL, "dbc_config_resolve: cfg is NULL");
    memset(cfg, 0, sizeof *cfg);
    if (opts)
        o = *opts;
    else
        memset(&o, 0, sizeof o);
    int rc = check_struct(&o);
    if (rc)
        return rc;
    /* Pragmas: the struct's list, then the URL's pragma.NAME keys. */
    dbc_buf pragmas = DBC_BUF_INIT;
    if (o.pragmas)
        rc = put_pragma_list(&pragmas, o.pragmas, "dbconn_options.pragmas");
    /* The URL query replaces the struct's values, in order: last wins. */
    for (size_t i = 0; i < nq && !rc; i++) {
        const char *key = dbconn_url_query_key(url, i);
        const char *value = dbconn_url_query_value(url, i);
        if (is_pragma_key(key)) {
            const char *name = key + sizeof PRAGMA_PREFIX - 1;
            rc = check_pragma("URL query option", name, strlen(name), value,
                              strlen(value));
            if (!rc)
                dbc_buf_printf(&pragmas, "%s%s=%s", pragmas.len ? ";" : "",
                               name, value);
        } else if (!dbc_option_known(key))
            nr++;
        else
            rc = set_by_name(&o, key, value, "URL query option", false);
    }
    if (!rc && pragmas.oom)
        rc = dbc_nomem();
    if (!rc && rest && nrest && nr) {
        dbc_qparam *r = dbc_calloc(nr, sizeof *r);
        if (!r)
            rc = dbc_nomem();
        for (size_t i = 0, j = 0; r && i < nq; i++) {
            const char *key = dbconn_url_query_key(url, i);
            if (!dbc_option_known(key) && !is_pragma_key(key))
                r[j++] = (dbc_qparam){key, dbconn_url_query_value(url, i)};
        }
        *rest = r;
        *nrest = r ? nr : 0;
    }
    if (rc) {
        dbc_buf_free(&pragmas);
        return rc;
    }
    apply_defaults(cfg, &o);
    cfg->pragmas = pragmas.len ? dbc_buf_take(&pragmas) : NULL;
    dbc_buf_free(&pragmas);
    return 0;
}
