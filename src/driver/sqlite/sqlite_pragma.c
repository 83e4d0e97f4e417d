/* pragma.NAME options: which pragmas may run on every new connection, what
 * values each takes, and the script that sets them.
 *
 * Allowed are the pragmas whose effect is the connection's own and lasts
 * for its life.  Refused: the ones the library manages through its own
 * options (journal_mode, synchronous, foreign_keys, busy_timeout,
 * read_uncommitted, locking_mode), the process-wide ones, the properties
 * of the database file (to be set once, not per connection), and the ones
 * that can corrupt a database or hide violations. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "driver/sqlite/sqlite_pragma.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/editdist.h"
#include "util/error.h"
#include "util/text.h"

typedef enum value_kind {
    V_INT,        /* an integer in min..max */
    V_BOOL,       /* a boolean spelling: rendered 1 / 0 */
    V_BOOL_INT,   /* a boolean or an integer in min..max (cache_spill) */
    V_WORD_INT    /* one of words (its index is its number) or an integer
                     in min..max */
} value_kind;

typedef struct pragma_def {
    const char *name;
    value_kind kind;
    long long min, max;
    const char *const *words; /* V_WORD_INT; extra words for V_BOOL */
    const char *help;         /* what the value is, for messages */
} pragma_def;

static const char *const temp_store_words[] = {"default", "file", "memory",
                                               NULL};
static const char *const secure_delete_words[] = {"off", "on", "fast", NULL};

#define BOOL_HELP "a boolean (on/off, true/false, yes/no, 1/0)"

static const pragma_def allowed[] = {
    {"analysis_limit", V_INT, 0, INT_MAX, NULL, "an integer in 0..2147483647"},
    {"automatic_index", V_BOOL, 0, 0, NULL, BOOL_HELP},
    {"cache_size", V_INT, INT_MIN, INT_MAX, NULL,
     "an integer: pages, or -KiB when negative"},
    {"cache_spill", V_BOOL_INT, 0, INT_MAX, NULL,
     "a boolean or a page count in 0..2147483647"},
    {"case_sensitive_like", V_BOOL, 0, 0, NULL, BOOL_HELP},
    {"cell_size_check", V_BOOL, 0, 0, NULL, BOOL_HELP},
    {"journal_size_limit", V_INT, -1, LLONG_MAX, NULL,
     "an integer: bytes, -1 for no limit"},
    {"mmap_size", V_INT, 0, LLONG_MAX, NULL,
     "an integer: bytes (SQLite caps it at its build's maximum)"},
    {"query_only", V_BOOL, 0, 0, NULL, BOOL_HELP},
    {"recursive_triggers", V_BOOL, 0, 0, NULL, BOOL_HELP},
    {"reverse_unordered_selects", V_BOOL, 0, 0, NULL, BOOL_HELP},
    {"secure_delete", V_WORD_INT, 0, 2, secure_delete_words,
     "on, off, fast or 0..2"},
    {"temp_store", V_WORD_INT, 0, 2, temp_store_words,
     "default, file, memory or 0..2"},
    {"threads", V_INT, 0, 1024, NULL,
     "an integer in 0..1024 (SQLite caps it at its build's maximum)"},
    {"trusted_schema", V_BOOL, 0, 0, NULL, BOOL_HELP},
    {"wal_autocheckpoint", V_INT, -1, INT_MAX, NULL,
     "an integer: pages, 0 or -1 for none"},
};

typedef struct refused {
    const char *name;
    const char *why;
} refused;

#define FILE_PROPERTY                                                           \
    "is a property of the database file, not of a connection: run the PRAGMA " \
    "once with dbconn_exec"

static const refused refused_list[] = {
    {"journal_mode", "is managed by the library: use the journal_mode option"},
    {"synchronous", "is managed by the library: use the synchronous option"},
    {"foreign_keys",
     "is managed by the library: use the foreign_keys option"},
    {"busy_timeout",
     "is managed by the library: use the busy_timeout_ms option"},
    {"read_uncommitted", "is managed by the library: use the isolation_level "
                         "option (READ UNCOMMITTED)"},
    {"locking_mode", "is managed by the library (the write gate and the "
                     "connection that keeps a WAL open): EXCLUSIVE would "
                     "lock the other pooled connections out"},
    {"soft_heap_limit", "is process-wide, not per connection: call "
                        "sqlite3_soft_heap_limit64() once"},
    {"hard_heap_limit", "is process-wide, not per connection: call "
                        "sqlite3_hard_heap_limit64() once"},
    {"defer_foreign_keys", "is reset at the end of every transaction: run "
                           "the PRAGMA inside the transaction"},
    {"page_size", FILE_PROPERTY},
    {"auto_vacuum", FILE_PROPERTY},
    {"encoding", FILE_PROPERTY},
    {"application_id", FILE_PROPERTY},
    {"user_version", FILE_PROPERTY},
    {"schema_version", "is refused: writing it can corrupt the database"},
    {"writable_schema", "is refused: it can corrupt the database"},
    {"ignore_check_constraints",
     "is refused: it would hide CHECK violations on every connection"},
};

#define NALLOWED (sizeof allowed / sizeof *allowed)
#define NREFUSED (sizeof refused_list / sizeof *refused_list)

static const pragma_def *find_allowed(const char *name) {
    for (size_t i = 0; i < NALLOWED; i++)
        if (dbc_ascii_ieq(name, allowed[i].name))
            return &allowed[i];
    return NULL;
}

static const char *allowed_names(char *out, size_t cap) {
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < NALLOWED && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? ", " : "",
                              allowed[i].name);
    return out;
}

static int unknown(const char *name) {
    char names[512], hint[96] = "";
    const char *best = NULL;
    size_t dist = SIZE_MAX;
    for (size_t i = 0; i < NALLOWED; i++)
        dbc_nearest_step(name, allowed[i].name, &best, &dist);
    if (best)
        (void)snprintf(hint, sizeof hint, " (did you mean \"pragma.%s\"?)",
                       best);
    return dbc_fail(DBCONN_EOPTION,
                    "option \"pragma.%s\": not a pragma that can be set on "
                    "every connection%s; allowed: %s",
                    name, hint, allowed_names(names, sizeof names));
}

/* An integer token (the engine checked: optional sign, digits); false when
 * it does not fit a long long. */
static bool parse_ll(const char *v, long long *out) {
    bool neg = *v == '-';
    const char *p = v + (*v == '-' || *v == '+');
    unsigned long long x = 0, lim = neg ? (unsigned long long)LLONG_MAX + 1
                                        : (unsigned long long)LLONG_MAX;
    if (!*p)
        return false;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        unsigned d = (unsigned)(*p - '0');
        if (x > (lim - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *out = neg ? (x == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN
                                                           : -(long long)x)
               : (long long)x;
    return true;
}

/* Renders "PRAGMA name=value;" from d's own spelling and the parsed
 * value; false when value is not one d takes. */
static bool render(dbc_buf *b, const pragma_def *d, const char *value) {
    long long x;
    int truth = dbc_parse_bool(value);
    bool is_int = parse_ll(value, &x);
    if (d->kind == V_WORD_INT) {
        for (size_t i = 0; d->words[i]; i++)
            if (dbc_ascii_ieq(value, d->words[i])) {
                is_int = true;
                x = (long long)i;
            }
    } else if (d->kind == V_BOOL || (d->kind == V_BOOL_INT && !is_int)) {
        if (truth < 0)
            return false;
        dbc_buf_printf(b, "PRAGMA %s=%d;", d->name, truth);
        return true;
    }
    if (!is_int || x < d->min || x > d->max)
        return false;
    dbc_buf_printf(b, "PRAGMA %s=%lld;", d->name, x);
    return true;
}

static int one(dbc_buf *b, const char *name, const char *value) {
    const pragma_def *d = find_allowed(name);
    if (d) {
        if (render(b, d, value))
            return 0;
        return dbc_fail(DBCONN_EOPTION,
                        "option \"pragma.%s\": invalid value \"%s\": "
                        "expected %s",
                        name, value, d->help);
    }
    for (size_t i = 0; i < NREFUSED; i++)
        if (dbc_ascii_ieq(name, refused_list[i].name))
            return dbc_fail(DBCONN_EOPTION, "option \"pragma.%s\" %s", name,
                            refused_list[i].why);
    return unknown(name);
}

int dbc_sqlite_pragma_script(const char *list, char **script) {
    *script = NULL;
    if (!list || !*list)
        return 0;
    dbc_buf b = DBC_BUF_INIT;
    /* The engine's form: name=value entries joined by ';', each token at
     * most 64 bytes of [A-Za-z0-9_+-]. */
    for (const char *p = list; *p;) {
        char name[80], value[80];
        size_t n = strcspn(p, ";");
        const char *eq = memchr(p, '=', n);
        size_t nn = eq ? (size_t)(eq - p) : n;
        size_t nv = eq ? n - nn - 1 : 0;
        if (!eq || nn >= sizeof name || nv >= sizeof value) {
            dbc_buf_free(&b);
            return dbc_fail(DBCONN_EINVAL, "sqlite: malformed pragma list");
        }
        memcpy(name, p, nn);
        name[nn] = '\0';
        memcpy(value, eq + 1, nv);
        value[nv] = '\0';
        int rc = one(&b, name, value);
        if (rc) {
            dbc_buf_free(&b);
            return rc;
        }
        p += n + (p[n] == ';');
    }
    if (b.oom) {
        dbc_buf_free(&b);
        return dbc_nomem();
    }
    *script = dbc_buf_take(&b);
    return *script ? 0 : dbc_nomem();
}
