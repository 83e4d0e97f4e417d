/* libFuzzer target for engine options (src/options.c), by name and from the
 * URL query.
 *
 * Input: "key=value" -- the bytes up to the first '=' are the key, the rest
 * the value (no '=': the whole input is the key, the value is ""); each is
 * cut at its first NUL, as a C caller's string would be.  On every input:
 *
 *   1. dbconn_options_set() on a zeroed dbconn_options returns 0 or
 *      DBCONN_EOPTION, with a non-empty message on failure; a struct it
 *      accepted is accepted by dbc_config_resolve().
 *   2. The URL "sqlite://?<key>=<value>" (key and value percent-encoded, so
 *      the URL decodes to exactly them) either fails to parse with
 *      DBCONN_EURL, or holds exactly that one pair; dbc_config_resolve()
 *      with it returns 0 or a DBCONN_E* code with a message; and:
 *        - a known option gives the same result as by name, and on success
 *          the same configuration, field by field;
 *        - a "pragma.NAME" key is the engine's too: the same result as by
 *          name, the same pragma list, nothing in `rest`;
 *        - an unknown key is not an error there: it comes back in `rest`
 *          for the driver, and by name it is DBCONN_EOPTION.
 *
 * Never crashes, never leaks (LeakSanitizer).  A violated property prints
 * what differed and calls abort(). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "dbconn.h"
#include "util/error.h"
#include "engine/options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *cur_key = "", *cur_value = "";

static void violated(const char *what, int rc) {
    fprintf(stderr,
            "fuzz_options: property violated: %s\n  key: \"%s\"\n"
            "  value: \"%s\"\n  rc: %d (%s)\n  message: \"%s\"\n",
            what, cur_key, cur_value, rc, dbconn_err_name(rc),
            dbconn_errmsg(NULL));
    abort();
}

static void *xmalloc(size_t n) {
    void *p = malloc(n);
    if (!p)
        abort(); /* the harness cannot go on; libFuzzer reports it */
    return p;
}

/* So that a failure must record its own message. */
static void clear_msg(void) { dbc_fail(DBCONN_OK, "%s", ""); }

/* 0, or a failure with a message (any DBCONN_E* code when `any`, else
 * DBCONN_EOPTION only). */
static void check_rc(const char *call, int rc, int any) {
    if (rc == 0)
        return;
    if (!*dbconn_errmsg(NULL))
        violated(call, rc);
    if (any ? strcmp(dbconn_err_name(rc), "DBCONN_UNKNOWN") == 0
            : rc != DBCONN_EOPTION)
        violated(call, rc);
}

static char *percent_encode(const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    char *out = xmalloc(strlen(s) * 3 + 1), *d = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            (*p >= '0' && *p <= '9') || *p == '_' || *p == '.') {
            *d++ = (char)*p;
        } else {
            *d++ = '%';
            *d++ = hex[*p >> 4];
            *d++ = hex[*p & 15];
        }
    }
    *d = '\0';
    return out;
}

static bool same_str(const char *a, const char *b) {
    return a == b || (a && b && strcmp(a, b) == 0);
}

static void same_config(const dbc_config *a, const dbc_config *b) {
#define SAME(field)                                                             \
    if (a->field != b->field)                                                   \
        violated("by name and from the URL give different " #field, 0);
    SAME(echo) SAME(log) SAME(log_data) SAME(hide_parameters)
    SAME(pool_size) SAME(max_overflow) SAME(pool_timeout_ms)
    SAME(pool_recycle_s) SAME(pool_pre_ping) SAME(busy_timeout_ms)
    SAME(journal_mode) SAME(synchronous) SAME(isolation_level)
    SAME(statement_cache_size) SAME(foreign_keys) SAME(begin_mode)
    SAME(execution_policy) SAME(loop) SAME(scopefunc) SAME(scope_data)
#undef SAME
    /* copied by name, pointing into the URL from there: same text */
    if (!same_str(a->logging_name, b->logging_name))
        violated("by name and from the URL give different logging_name", 0);
    if (!same_str(a->pragmas, b->pragmas))
        violated("by name and from the URL give different pragmas", 0);
}

/* Step 2: the same pair through the URL query. */
static void check_url(const char *key, const char *value, int by_name_rc,
                      const dbc_config *by_name) {
    char *k = percent_encode(key), *v = percent_encode(value);
    char *url = xmalloc(strlen(k) + strlen(v) + 16);
    sprintf(url, "sqlite://?%s=%s", k, v);
    free(k);
    free(v);

    dbconn_url *u = NULL;
    clear_msg();
    int rc = dbconn_url_parse(&u, url);
    free(url);
    if (rc != 0) { /* empty key, invalid UTF-8, too long */
        if (rc != DBCONN_EURL || u || !*dbconn_errmsg(NULL))
            violated("URL parse failure is not a clean DBCONN_EURL", rc);
        return;
    }
    if (dbconn_url_query_count(u) != 1 ||
        strcmp(dbconn_url_query_key(u, 0), key) != 0 ||
        strcmp(dbconn_url_query_value(u, 0), value) != 0)
        violated("the URL query does not hold exactly the encoded pair", 0);

    dbc_config cfg;
    dbc_qparam *rest = NULL;
    size_t nrest = 0;
    clear_msg();
    rc = dbc_config_resolve(&cfg, NULL, u, &rest, &nrest);
    check_rc("dbc_config_resolve (URL query)", rc, 1);
    if (dbc_option_known(key) || strncmp(key, "pragma.", 7) == 0) {
        if (rc != by_name_rc)
            violated("a known option: by name and from the URL differ", rc);
        if (rc == 0)
            same_config(&cfg, by_name);
        if (nrest != 0 || rest)
            violated("a known option was passed on to the driver", rc);
    } else {
        if (rc != 0 || by_name_rc != DBCONN_EOPTION)
            violated("an unknown key must go to the driver, and fail by name",
                     rc);
        if (nrest != 1 || !rest || strcmp(rest[0].key, key) != 0 ||
            strcmp(rest[0].value, value) != 0)
            violated("the unknown pair did not come back in rest", rc);
    }
    if (rc == 0)
        dbc_config_release(&cfg);
    dbc_free(rest);
    dbconn_url_free(u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = xmalloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *eq = memchr(buf, '=', size);
    const char *key = buf, *value = "";
    if (eq) {
        *eq = '\0';
        value = eq + 1;
    }
    cur_key = key;
    cur_value = value;

    /* Step 1: by name. */
    dbconn_options o;
    dbc_config by_name;
    memset(&o, 0, sizeof o);
    memset(&by_name, 0, sizeof by_name);
    clear_msg();
    int rc = dbconn_options_set(&o, key, value);
    check_rc("dbconn_options_set", rc, 0);
    if (rc == 0) {
        clear_msg();
        int rc2 = dbc_config_resolve(&by_name, &o, NULL, NULL, NULL);
        if (rc2 != 0)
            violated("a struct dbconn_options_set accepted does not resolve",
                     rc2);
    }

    check_url(key, value, rc, &by_name);
    dbc_config_release(&by_name);
    dbconn_options_clear(&o); /* the copies of logging_name, pragma.NAME */
    cur_key = cur_value = "";
    free(buf);
    return 0;
}
