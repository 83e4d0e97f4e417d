/* Engine options (src/options.c): dbconn_options_set by name, and
 * dbc_config_resolve (struct validation, URL query precedence, defaults,
 * pass-through of the driver's query pairs).
 *
 * The by-name table is checked strictly: on success exactly one field
 * changes, to the expected value; on failure the struct is untouched and
 * the message names the key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "engine/options.h"
#include "testutil.h"

typedef enum ftype { F_NONE, F_INT, F_BOOL, F_STR } ftype;

typedef struct opt_case {
    const char *key, *value;
    int rc;
    ftype type;
    size_t off;       /* offsetof(dbconn_options, field) */
    int ival;         /* F_INT / F_BOOL */
    const char *sval; /* F_STR: the canonical spelling */
    const char *msg;  /* failure: another substring of the message */
} opt_case;

#define OFF(f) offsetof(dbconn_options, f)
#define INT(k, v, f, want) {k, v, 0, F_INT, OFF(f), want, NULL, NULL}
#define BOOL(k, v, f, want) {k, v, 0, F_BOOL, OFF(f), want, NULL, NULL}
#define STR(k, v, f, want) {k, v, 0, F_STR, OFF(f), 0, want, NULL}
#define BAD(k, v, m) {k, v, DBCONN_EOPTION, F_NONE, 0, 0, NULL, m}
#define NONE DBCONN_NONE

static const opt_case cases[] = {
    /* echo: booleans, 2 and "debug" */
    INT("echo", "true", echo, 1), INT("echo", "FALSE", echo, 0),
    INT("echo", "1", echo, 1), INT("echo", "0", echo, 0),
    INT("echo", "yes", echo, 1), INT("echo", "No", echo, 0),
    INT("echo", "on", echo, 1), INT("echo", "OFF", echo, 0),
    INT("echo", "debug", echo, 2), INT("echo", "DEBUG", echo, 2),
    INT("echo", "2", echo, 2),
    BAD("echo", "3", "debug"), BAD("echo", "maybe", "true/false"),
    BAD("echo", "", "\"\""),
    /* pool_size: 0..100000, "0" = none (no limit) */
    INT("pool_size", "8", pool_size, 8), INT("pool_size", "0", pool_size, NONE),
    INT("pool_size", "-0", pool_size, NONE),
    INT("pool_size", "100000", pool_size, 100000),
    INT("pool_size", "007", pool_size, 7),
    BAD("pool_size", "100001", "0..100000"),
    BAD("pool_size", "-1", "out of range"), BAD("pool_size", "abc", "0..100000"),
    BAD("pool_size", "8.5", "decimal integer"), BAD("pool_size", " 8", NULL),
    BAD("pool_size", "+8", NULL), BAD("pool_size", "0x10", NULL),
    BAD("pool_size", "", NULL), BAD("pool_size", "-", NULL),
    BAD("pool_size", "99999999999999999999999", "out of range"),
    /* max_overflow: -1 unlimited, "0" none */
    INT("max_overflow", "-1", max_overflow, -1),
    INT("max_overflow", "0", max_overflow, NONE),
    INT("max_overflow", "20", max_overflow, 20),
    BAD("max_overflow", "-2", "-1 = unlimited"),
    /* pool_timeout_ms and its alias pool_timeout in (fractional) seconds */
    INT("pool_timeout_ms", "2500", pool_timeout_ms, 2500),
    INT("pool_timeout_ms", "0", pool_timeout_ms, NONE),
    INT("pool_timeout_ms", "86400000", pool_timeout_ms, 86400000),
    BAD("pool_timeout_ms", "86400001", "0..86400000"),
    INT("pool_timeout", "2.5", pool_timeout_ms, 2500),
    INT("pool_timeout", "30", pool_timeout_ms, 30000),
    INT("pool_timeout", "0", pool_timeout_ms, NONE),
    INT("pool_timeout", "0.0", pool_timeout_ms, NONE),
    INT("pool_timeout", "0.001", pool_timeout_ms, 1),
    INT("pool_timeout", ".5", pool_timeout_ms, 500),
    INT("pool_timeout", "3.", pool_timeout_ms, 3000),
    INT("pool_timeout", "1.2500", pool_timeout_ms, 1250),
    INT("pool_timeout", "86400", pool_timeout_ms, 86400000),
    BAD("pool_timeout", "1.2345", "3 decimals"),
    BAD("pool_timeout", "-1", "seconds"), BAD("pool_timeout", "abc", NULL),
    BAD("pool_timeout", "86400.001", "0..86400"),
    BAD("pool_timeout", "1e3", NULL), BAD("pool_timeout", ".", NULL),
    BAD("pool_timeout", "", NULL),
    /* pool_recycle_s and pool_recycle (seconds too): -1 and 0 = never */
    INT("pool_recycle_s", "3600", pool_recycle_s, 3600),
    INT("pool_recycle_s", "-1", pool_recycle_s, -1),
    INT("pool_recycle_s", "0", pool_recycle_s, NONE),
    BAD("pool_recycle_s", "-2", "-1..31536000"),
    BAD("pool_recycle_s", "31536001", NULL),
    INT("pool_recycle", "3600", pool_recycle_s, 3600),
    INT("pool_recycle", "-1", pool_recycle_s, -1),
    BAD("pool_recycle", "1.5", NULL),
    /* booleans */
    BOOL("pool_pre_ping", "true", pool_pre_ping, 1),
    BOOL("pool_pre_ping", "Yes", pool_pre_ping, 1),
    BOOL("pool_pre_ping", "ON", pool_pre_ping, 1),
    BOOL("pool_pre_ping", "1", pool_pre_ping, 1),
    BOOL("pool_pre_ping", "False", pool_pre_ping, 0),
    BOOL("pool_pre_ping", "no", pool_pre_ping, 0),
    BOOL("pool_pre_ping", "off", pool_pre_ping, 0),
    BOOL("pool_pre_ping", "0", pool_pre_ping, 0),
    BAD("pool_pre_ping", "2", "yes/no"), BAD("pool_pre_ping", "y", NULL),
    BOOL("hide_parameters", "on", hide_parameters, 1),
    BOOL("hide_parameters", "TRUE", hide_parameters, 1),
    BAD("hide_parameters", "debug", NULL),
    /* busy timeout and its alias timeout (seconds) */
    INT("busy_timeout_ms", "100", busy_timeout_ms, 100),
    INT("busy_timeout_ms", "0", busy_timeout_ms, NONE),
    BAD("busy_timeout_ms", "-5", NULL),
    INT("timeout", "2.5", busy_timeout_ms, 2500),
    INT("timeout", "0", busy_timeout_ms, NONE),
    BAD("timeout", "forever", "busy_timeout_ms"),
    /* statement_cache_size */
    INT("statement_cache_size", "0", statement_cache_size, NONE),
    INT("statement_cache_size", "128", statement_cache_size, 128),
    BAD("statement_cache_size", "100001", NULL),
    /* foreign_keys: on = 1, off = none */
    INT("foreign_keys", "true", foreign_keys, 1),
    INT("foreign_keys", "off", foreign_keys, NONE),
    INT("foreign_keys", "0", foreign_keys, NONE),
    BAD("foreign_keys", "maybe", NULL),
    /* string sets, canonical spellings */
    STR("journal_mode", "WAL", journal_mode, "wal"),
    STR("journal_mode", "delete", journal_mode, "delete"),
    STR("journal_mode", "Truncate", journal_mode, "truncate"),
    STR("journal_mode", "persist", journal_mode, "persist"),
    STR("journal_mode", "MEMORY", journal_mode, "memory"),
    STR("journal_mode", "off", journal_mode, "off"),
    BAD("journal_mode", "fast", "delete, truncate, persist, memory, wal, off"),
    BAD("journal_mode", "wal2", NULL),
    STR("synchronous", "NORMAL", synchronous, "normal"),
    STR("synchronous", "off", synchronous, "off"),
    STR("synchronous", "Full", synchronous, "full"),
    STR("synchronous", "extra", synchronous, "extra"),
    BAD("synchronous", "fsync", "off, normal, full, extra"),
    STR("isolation_level", "serializable", isolation_level, "SERIALIZABLE"),
    STR("isolation_level", "read uncommitted", isolation_level,
        "READ UNCOMMITTED"),
    STR("isolation_level", "READ_COMMITTED", isolation_level, "READ COMMITTED"),
    STR("isolation_level", "repeatable_read", isolation_level,
        "REPEATABLE READ"),
    STR("isolation_level", "AutoCommit", isolation_level, "AUTOCOMMIT"),
    BAD("isolation_level", "snapshot", "READ UNCOMMITTED"),
    BAD("isolation_level", "READ  COMMITTED", NULL),
    /* enums */
    INT("begin_mode", "deferred", begin_mode, DBCONN_BEGIN_DEFERRED),
    INT("begin_mode", "IMMEDIATE", begin_mode, DBCONN_BEGIN_IMMEDIATE),
    INT("begin_mode", "Exclusive", begin_mode, DBCONN_BEGIN_EXCLUSIVE),
    BAD("begin_mode", "lazy", "deferred, immediate, exclusive"),
    BAD("begin_mode", "2", NULL),
    INT("execution_policy", "inline", execution_policy, DBCONN_EXEC_INLINE),
    INT("execution_policy", "ThreadPool", execution_policy,
        DBCONN_EXEC_THREADPOOL),
    BAD("execution_policy", "fibers", "threadpool, inline"),
    /* statement_timeout: ms, "0" = no limit */
    INT("statement_timeout", "250", statement_timeout, 250),
    INT("statement_timeout", "0", statement_timeout, NONE),
    INT("statement_timeout", "86400000", statement_timeout, 86400000),
    BAD("statement_timeout", "-1", "out of range"),
    BAD("statement_timeout", "86400001", "0..86400000"),
    BAD("statement_timeout", "2s", "0 = no limit"),
    /* names that cannot be set */
    BAD("echo_pool", "true", "not supported"),
    BAD("log", "x", "pointer"), BAD("log_data", "x", "pointer"),
    BAD("loop", "x", "pointer"), BAD("scopefunc", "x", "pointer"),
    BAD("scope_data", "x", "pointer"), BAD("reserved", "0", "reserved"),
    /* unknown names (case matters, like Python keyword arguments) */
    BAD("pool", "5", "unknown engine option"),
    BAD("POOL_SIZE", "5", "unknown engine option"),
    BAD("pool_timeout_s", "5", "pool_timeout_ms"),
    /* did you mean: the nearest name within a few edits, any ASCII case */
    BAD("pool_sise", "5", "(did you mean \"pool_size\"?)"),
    BAD("POOL_SIZE", "5", "(did you mean \"pool_size\"?)"),
    BAD("max_overflw", "5", "(did you mean \"max_overflow\"?)"),
    BAD("ehco", "1", "(did you mean \"echo\"?)"),
    BAD("frobnicate", "1", "known: echo, pool_size"),
    /* and the nearest choice of a fixed set */
    BAD("isolation_level", "read comitted",
        "(did you mean \"READ COMMITTED\"?)"),
    BAD("execution_policy", "inlin", "(did you mean \"inline\"?)"),
    BAD("journal_mode", "wall", "(did you mean \"wal\"?)"),
    BAD("begin_mode", "imediate", "(did you mean \"immediate\"?)"),
    /* values that are never accepted */
    BAD("pool_size", "8\n", "control character"),
    BAD("journal_mode", "wal\x7f", "0x7F"),
    /* quoted as every message quotes user text: valid UTF-8 as it is,
     * bytes that are not UTF-8 escaped */
    BAD("journal_mode", "w\xC3\xA9", "\"w\xC3\xA9\""),
    BAD("journal_mode", "w\xC3x", "\"w\\xC3x\""),
    BAD("journal_mode", "w\"\\", "\"w\\x22\\x5C\""),
};

static void *field(dbconn_options *o, size_t off) { return (char *)o + off; }

static void test_set_by_name(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const opt_case *c = &cases[i];
        dbconn_options o, want;
        char value[64]; /* the caller's buffer: must never be kept */
        memset(&o, 0, sizeof o);
        memset(&want, 0, sizeof want);
        assert_true(strlen(c->value) < sizeof value);
        strcpy(value, c->value);
        int rc = dbconn_options_set(&o, c->key, value);
        const char *msg = dbconn_errmsg(NULL);
        if (rc != c->rc)
            fail_msg("%s=%s: got %s, expected %s (%s)", c->key, c->value,
                     dbconn_err_name(rc), dbconn_err_name(c->rc), msg);
        if (rc) {
            if (!strstr(msg, c->key) || (c->msg && !strstr(msg, c->msg)))
                fail_msg("%s=%s: message lacks \"%s\" or \"%s\": %s", c->key,
                         c->value, c->key, c->msg ? c->msg : "", msg);
            if (memcmp(&o, &want, sizeof o) != 0)
                fail_msg("%s=%s: a failed set changed the struct", c->key,
                         c->value);
            continue;
        }
        if (c->type == F_INT)
            *(int *)field(&want, c->off) = c->ival;
        else if (c->type == F_BOOL)
            *(bool *)field(&want, c->off) = c->ival != 0;
        else {
            const char *got = *(const char **)field(&o, c->off);
            if (!got || strcmp(got, c->sval) != 0)
                fail_msg("%s=%s: stored \"%s\", expected \"%s\"", c->key,
                         c->value, got ? got : "(null)", c->sval);
            assert_ptr_not_equal(got, value); /* never the caller's */
            *(const char **)field(&want, c->off) = got;
        }
        if (memcmp(&o, &want, sizeof o) != 0)
            fail_msg("%s=%s: the struct is not as expected (field %d)", c->key,
                     c->value, c->type == F_INT ? *(int *)field(&o, c->off) : -1);
    }
}

/* Different spellings store the same static pointer, which outlives the
 * caller's buffer. */
static void test_canonical_pointers(void **state) {
    (void)state;
    dbconn_options a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    char buf[16];
    strcpy(buf, "Wal");
    tu_ok(dbconn_options_set(&a, "journal_mode", buf));
    strcpy(buf, "xxx");
    tu_ok(dbconn_options_set(&b, "journal_mode", "WAL"));
    assert_ptr_equal(a.journal_mode, b.journal_mode);
    assert_string_equal(a.journal_mode, "wal");
    tu_ok(dbconn_options_set(&a, "isolation_level", "read_committed"));
    tu_ok(dbconn_options_set(&b, "isolation_level", "Read Committed"));
    assert_ptr_equal(a.isolation_level, b.isolation_level);
}

static void test_set_null_and_long(void **state) {
    (void)state;
    dbconn_options o;
    memset(&o, 0, sizeof o);
    assert_int_equal(dbconn_options_set(NULL, "echo", "1"), DBCONN_EINVAL);
    assert_non_null(strstr(dbconn_errmsg(NULL), "o is NULL"));
    assert_int_equal(dbconn_options_set(&o, NULL, "1"), DBCONN_EINVAL);
    assert_non_null(strstr(dbconn_errmsg(NULL), "key is NULL"));
    assert_int_equal(dbconn_options_set(&o, "echo", NULL), DBCONN_EINVAL);
    assert_non_null(strstr(dbconn_errmsg(NULL), "value is NULL"));

    size_t n = 5000;
    char *v = malloc(n + 1);
    assert_non_null(v);
    memset(v, 'a', n);
    v[n] = '\0';
    assert_int_equal(dbconn_options_set(&o, "journal_mode", v), DBCONN_EOPTION);
    const char *msg = dbconn_errmsg(NULL);
    assert_non_null(strstr(msg, "journal_mode"));
    assert_non_null(strstr(msg, "too long (5000 bytes, at most 4096)"));
    assert_true(strlen(msg) < 300); /* the value is shown truncated */
    v[4096] = '\0'; /* at the limit: judged by value, still truncated */
    assert_int_equal(dbconn_options_set(&o, "journal_mode", v), DBCONN_EOPTION);
    msg = dbconn_errmsg(NULL);
    assert_non_null(strstr(msg, "... (4096 bytes)"));
    assert_non_null(strstr(msg, "expected one of"));
    assert_true(strlen(msg) < 400);
    free(v);
    /* An unknown key is shown escaped and cut short too. */
    assert_int_equal(dbconn_options_set(&o, "bad\nkey", "1"), DBCONN_EOPTION);
    assert_non_null(strstr(dbconn_errmsg(NULL), "\"bad\\x0Akey\""));
    assert_non_null(strstr(dbconn_errmsg(NULL), "pool_size"));
}

static void test_option_known(void **state) {
    (void)state;
    const char *yes[] = {"echo", "pool_size", "max_overflow", "pool_timeout_ms",
                         "pool_recycle_s", "pool_pre_ping", "busy_timeout_ms",
                         "journal_mode", "isolation_level",
                         "statement_cache_size", "hide_parameters",
                         "synchronous", "foreign_keys", "begin_mode",
                         "execution_policy", "statement_timeout",
                         "pool_timeout", "pool_recycle",
                         "timeout", "echo_pool", "loop", "scopefunc"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        assert_true(dbc_option_known(yes[i]));
    assert_false(dbc_option_known("mode"));
    assert_false(dbc_option_known("uri"));
    assert_false(dbc_option_known("Echo"));
    assert_false(dbc_option_known(""));
    assert_false(dbc_option_known(NULL));
}

/* ------------------------------------------------------------------------ */
/* dbc_config_resolve                                                       */
/* ------------------------------------------------------------------------ */

static void test_resolve_defaults(void **state) {
    (void)state;
    dbc_config cfg;
    dbc_qparam *rest = (dbc_qparam *)&rest;
    size_t nrest = 99;
    tu_ok(dbc_config_resolve(&cfg, NULL, NULL, &rest, &nrest));
    assert_null(rest);
    assert_int_equal(nrest, 0);
    assert_int_equal(cfg.echo, 0);
    assert_null(cfg.log);
    assert_false(cfg.hide_parameters);
    assert_int_equal(cfg.pool_size, 5);
    assert_int_equal(cfg.max_overflow, 10);
    assert_int_equal(cfg.pool_timeout_ms, 30000);
    assert_int_equal(cfg.pool_recycle_s, 0);
    assert_false(cfg.pool_pre_ping);
    assert_int_equal(cfg.busy_timeout_ms, 5000);
    assert_null(cfg.journal_mode);
    assert_null(cfg.synchronous);
    assert_null(cfg.isolation_level);
    assert_int_equal(cfg.statement_cache_size, 64);
    assert_true(cfg.foreign_keys);
    assert_int_equal(cfg.begin_mode, DBCONN_BEGIN_DEFERRED);
    assert_int_equal(cfg.execution_policy, DBCONN_EXEC_DEFAULT);
    assert_int_equal(cfg.statement_timeout_ms, 0);
    assert_null(cfg.loop);
    /* No scopefunc: the registry keys sessions by the current task (the
     * scope layer's default; test_scope's test_tasks_get_their_own_sessions
     * and friends prove it). */
    assert_null(cfg.scopefunc);

    /* A zeroed struct is the same as NULL. */
    dbconn_options o;
    dbc_config cfg2;
    memset(&o, 0, sizeof o);
    tu_ok(dbc_config_resolve(&cfg2, &o, NULL, NULL, NULL));
    assert_memory_equal(&cfg, &cfg2, sizeof cfg);
}

static void *my_scope(void *data) { return data; }
static void my_log(void *data, int level, const char *line) {
    (void)data, (void)level, (void)line;
}

static void test_resolve_none_and_values(void **state) {
    (void)state;
    dbconn_options o;
    dbc_config cfg;
    memset(&o, 0, sizeof o);
    o.echo = DBCONN_NONE;
    o.pool_size = o.max_overflow = o.pool_timeout_ms = DBCONN_NONE;
    o.pool_recycle_s = o.busy_timeout_ms = DBCONN_NONE;
    o.statement_cache_size = o.foreign_keys = DBCONN_NONE;
    tu_ok(dbc_config_resolve(&cfg, &o, NULL, NULL, NULL));
    assert_int_equal(cfg.echo, 0);
    assert_int_equal(cfg.pool_size, -1); /* no limit */
    assert_int_equal(cfg.max_overflow, 0);
    assert_int_equal(cfg.pool_timeout_ms, 0);
    assert_int_equal(cfg.pool_recycle_s, 0);
    assert_int_equal(cfg.busy_timeout_ms, 0);
    assert_int_equal(cfg.statement_cache_size, 0);
    assert_false(cfg.foreign_keys);

    static uv_loop_t loop; /* only its address is used */
    int scope_data, log_data;
    char jm[] = "Truncate", sy[] = "EXTRA", iso[] = "read_uncommitted";
    memset(&o, 0, sizeof o);
    o = (dbconn_options){.echo = 2, .log = my_log, .log_data = &log_data,
                         .pool_size = 3, .max_overflow = -1,
                         .pool_timeout_ms = 250, .pool_recycle_s = -1,
                         .pool_pre_ping = true, .busy_timeout_ms = 77,
                         .journal_mode = jm, .isolation_level = iso,
                         .statement_cache_size = 9, .loop = &loop,
                         .scopefunc = my_scope, .scope_data = &scope_data,
                         .hide_parameters = true, .synchronous = sy,
                         .foreign_keys = 1,
                         .begin_mode = DBCONN_BEGIN_IMMEDIATE,
                         .execution_policy = DBCONN_EXEC_INLINE};
    tu_ok(dbc_config_resolve(&cfg, &o, NULL, NULL, NULL));
    assert_int_equal(cfg.echo, 2);
    assert_ptr_equal(cfg.log, my_log);
    assert_ptr_equal(cfg.log_data, &log_data);
    assert_int_equal(cfg.pool_size, 3);
    assert_int_equal(cfg.max_overflow, -1);
    assert_int_equal(cfg.pool_timeout_ms, 250);
    assert_int_equal(cfg.pool_recycle_s, 0); /* -1 = never */
    assert_true(cfg.pool_pre_ping);
    assert_int_equal(cfg.busy_timeout_ms, 77);
    /* Strings become the static canonical spellings (the caller's buffers
     * are only borrowed for the call). */
    assert_string_equal(cfg.journal_mode, "truncate");
    assert_ptr_not_equal(cfg.journal_mode, jm);
    assert_string_equal(cfg.synchronous, "extra");
    assert_string_equal(cfg.isolation_level, "READ UNCOMMITTED");
    assert_int_equal(cfg.statement_cache_size, 9);
    assert_ptr_equal(cfg.loop, &loop);
    assert_ptr_equal(cfg.scopefunc, my_scope);
    assert_ptr_equal(cfg.scope_data, &scope_data);
    assert_true(cfg.hide_parameters);
    assert_true(cfg.foreign_keys);
    assert_int_equal(cfg.begin_mode, DBCONN_BEGIN_IMMEDIATE);
    assert_int_equal(cfg.execution_policy, DBCONN_EXEC_INLINE);
    o.pool_recycle_s = 60;
    tu_ok(dbc_config_resolve(&cfg, &o, NULL, NULL, NULL));
    assert_int_equal(cfg.pool_recycle_s, 60);
}

typedef struct struct_case {
    const char *field;  /* the message must name it */
    void (*spoil)(dbconn_options *o);
} struct_case;

static void bad_pool_size(dbconn_options *o) { o->pool_size = -5; }
static void big_pool_size(dbconn_options *o) { o->pool_size = 100001; }
static void bad_overflow(dbconn_options *o) { o->max_overflow = -2; }
static void bad_timeout(dbconn_options *o) { o->pool_timeout_ms = -1; }
static void bad_recycle(dbconn_options *o) { o->pool_recycle_s = -3; }
static void bad_busy(dbconn_options *o) { o->busy_timeout_ms = -1; }
static void bad_cache(dbconn_options *o) { o->statement_cache_size = -1; }
static void bad_echo(dbconn_options *o) { o->echo = 3; }
static void bad_fk(dbconn_options *o) { o->foreign_keys = 5; }
static void bad_begin(dbconn_options *o) { o->begin_mode = 7; }
static void bad_exec(dbconn_options *o) { o->execution_policy = 4; }
static void bad_journal(dbconn_options *o) { o->journal_mode = "fast"; }
static void bad_sync(dbconn_options *o) { o->synchronous = "sometimes"; }
static void bad_iso(dbconn_options *o) { o->isolation_level = "SNAPSHOT"; }
static void bad_reserved(dbconn_options *o) {
    o->reserved[sizeof o->reserved / sizeof *o->reserved - 1] = o;
}
static void bad_stmt_timeout(dbconn_options *o) { o->statement_timeout = -2; }

static void test_resolve_rejects_bad_struct(void **state) {
    (void)state;
    static const struct_case bad[] = {
        {"pool_size", bad_pool_size}, {"pool_size", big_pool_size},
        {"max_overflow", bad_overflow}, {"pool_timeout_ms", bad_timeout},
        {"pool_recycle_s", bad_recycle}, {"busy_timeout_ms", bad_busy},
        {"statement_cache_size", bad_cache}, {"echo", bad_echo},
        {"foreign_keys", bad_fk}, {"begin_mode", bad_begin},
        {"execution_policy", bad_exec}, {"journal_mode", bad_journal},
        {"synchronous", bad_sync}, {"isolation_level", bad_iso},
        {"statement_timeout", bad_stmt_timeout},
        {"reserved fields must be zero", bad_reserved},
    };
    dbconn_url *u;
    tu_ok(dbconn_url_parse(&u, "sqlite:///x.db?mode=ro"));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        dbconn_options o;
        dbc_config cfg;
        dbc_qparam *rest = (dbc_qparam *)&rest;
        size_t nrest = 7;
        memset(&o, 0, sizeof o);
        bad[i].spoil(&o);
        int rc = dbc_config_resolve(&cfg, &o, u, &rest, &nrest);
        if (rc != DBCONN_EOPTION || !strstr(dbconn_errmsg(NULL), bad[i].field))
            fail_msg("%s: %s: %s", bad[i].field, dbconn_err_name(rc),
                     dbconn_errmsg(NULL));
        assert_null(rest);
        assert_int_equal(nrest, 0);
    }
    dbconn_url_free(u);
    assert_int_equal(dbc_config_resolve(NULL, NULL, NULL, NULL, NULL),
                     DBCONN_EINVAL);
}

static int resolve_url(dbc_config *cfg, const dbconn_options *o,
                       const char *url) {
    dbconn_url *u;
    tu_ok(dbconn_url_parse(&u, url));
    int rc = dbc_config_resolve(cfg, o, u, NULL, NULL);
    dbconn_url_free(u);
    return rc;
}

static void test_resolve_url_precedence(void **state) {
    (void)state;
    dbconn_options o;
    dbc_config cfg;
    memset(&o, 0, sizeof o);
    o.pool_size = 3;
    o.pool_timeout_ms = 100;
    o.journal_mode = "delete";
    o.echo = 1;
    tu_ok(resolve_url(&cfg, &o, "sqlite:///x.db"));
    assert_int_equal(cfg.pool_size, 3);
    /* The URL replaces the struct's value. */
    tu_ok(resolve_url(&cfg, &o, "sqlite:///x.db?pool_size=8&journal_mode=WAL"
                                "&echo=false"));
    assert_int_equal(cfg.pool_size, 8);
    assert_string_equal(cfg.journal_mode, "wal");
    assert_int_equal(cfg.echo, 0);
    assert_int_equal(cfg.pool_timeout_ms, 100); /* untouched by the URL */
    /* Repeated key: last wins; an alias and its field are the same option. */
    tu_ok(resolve_url(&cfg, &o, "sqlite:///x.db?pool_size=8&pool_size=9"));
    assert_int_equal(cfg.pool_size, 9);
    tu_ok(resolve_url(&cfg, &o, "sqlite:///x.db?pool_timeout=2.5"));
    assert_int_equal(cfg.pool_timeout_ms, 2500);
    tu_ok(resolve_url(&cfg, &o,
                      "sqlite:///x.db?pool_timeout=2.5&pool_timeout_ms=7"));
    assert_int_equal(cfg.pool_timeout_ms, 7);
    tu_ok(resolve_url(&cfg, &o, "sqlite:///x.db?pool_timeout_ms=7&pool_timeout=3"));
    assert_int_equal(cfg.pool_timeout_ms, 3000);
    /* "0" in the URL means zero, not "default". */
    tu_ok(resolve_url(&cfg, &o, "sqlite:///x.db?pool_size=0&timeout=0&"
                                "statement_cache_size=0&foreign_keys=off"));
    assert_int_equal(cfg.pool_size, -1);
    assert_int_equal(cfg.busy_timeout_ms, 0);
    assert_int_equal(cfg.statement_cache_size, 0);
    assert_false(cfg.foreign_keys);
    tu_ok(resolve_url(&cfg, NULL, "sqlite:///x.db?echo=debug&timeout=1.5&"
                                  "pool_recycle=3600&begin_mode=immediate&"
                                  "execution_policy=inline&max_overflow=-1"));
    assert_int_equal(cfg.echo, 2);
    assert_int_equal(cfg.busy_timeout_ms, 1500);
    assert_int_equal(cfg.pool_recycle_s, 3600);
    assert_int_equal(cfg.begin_mode, DBCONN_BEGIN_IMMEDIATE);
    assert_int_equal(cfg.execution_policy, DBCONN_EXEC_INLINE);
    assert_int_equal(cfg.max_overflow, -1);
    /* The struct itself is not modified. */
    assert_int_equal(o.pool_size, 3);
}

static void test_resolve_url_errors(void **state) {
    (void)state;
    static const char *const bad[][2] = {
        {"sqlite:///x.db?pool_size=lots", "URL query option \"pool_size\""},
        {"sqlite:///x.db?pool_size=1&pool_size=-4", "\"-4\""},
        {"sqlite:///x.db?echo", "URL query option \"echo\""},
        {"sqlite:///x.db?journal_mode=fast", "delete, truncate"},
        {"sqlite:///x.db?loop=1", "URL query option \"loop\" cannot be set"},
        {"sqlite:///x.db?echo_pool=true", "not supported"},
        {"sqlite:///x.db?timeout=%0A", "control character"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        dbconn_url *u;
        dbc_config cfg;
        dbc_qparam *rest = (dbc_qparam *)&rest;
        size_t nrest = 7;
        tu_ok(dbconn_url_parse(&u, bad[i][0]));
        int rc = dbc_config_resolve(&cfg, NULL, u, &rest, &nrest);
        if (rc != DBCONN_EOPTION || !strstr(dbconn_errmsg(NULL), bad[i][1]))
            fail_msg("%s: %s: %s", bad[i][0], dbconn_err_name(rc),
                     dbconn_errmsg(NULL));
        assert_null(rest);
        assert_int_equal(nrest, 0);
        dbconn_url_free(u);
    }
}

static void test_resolve_rest_pairs(void **state) {
    (void)state;
    dbconn_url *u;
    dbc_config cfg;
    dbc_qparam *rest;
    size_t nrest;
    tu_ok(dbconn_url_parse(&u, "sqlite:///file:x.db?mode=ro&pool_size=2&"
                               "uri=true&cache=shared&mode=rw&echo=1"));
    tu_ok(dbc_config_resolve(&cfg, NULL, u, &rest, &nrest));
    assert_int_equal(cfg.pool_size, 2);
    assert_int_equal(cfg.echo, 1);
    assert_int_equal(nrest, 4);
    const char *want[][2] = {
        {"mode", "ro"}, {"uri", "true"}, {"cache", "shared"}, {"mode", "rw"}};
    size_t idx[] = {0, 2, 3, 4}; /* their places in the URL query */
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(rest[i].key, want[i][0]);
        assert_string_equal(rest[i].value, want[i][1]);
        /* borrowed from the URL, not copied */
        assert_ptr_equal(rest[i].key, dbconn_url_query_key(u, idx[i]));
        assert_ptr_equal(rest[i].value, dbconn_url_query_value(u, idx[i]));
    }
    dbc_free(rest);
    /* Only engine options: no rest. */
    dbconn_url_free(u);
    tu_ok(dbconn_url_parse(&u, "sqlite:///x.db?pool_size=2"));
    rest = (dbc_qparam *)&rest;
    nrest = 5;
    tu_ok(dbc_config_resolve(&cfg, NULL, u, &rest, &nrest));
    assert_null(rest);
    assert_int_equal(nrest, 0);
    dbconn_url_free(u);
}

static int budget;
static void *lim_malloc(size_t n) { return budget-- > 0 ? malloc(n) : NULL; }
static void *lim_calloc(size_t c, size_t n) {
    return budget-- > 0 ? calloc(c, n) : NULL;
}
static void *lim_realloc(void *p, size_t n) {
    return budget-- > 0 ? realloc(p, n) : NULL;
}

/* The rest array cannot be allocated: ENOMEM, outputs reset, no leak. */
static void test_resolve_out_of_memory(void **state) {
    (void)state;
    const dbconn_allocator lim = {lim_malloc, lim_calloc, lim_realloc, free};
    dbconn_url *u;
    dbc_config cfg;
    dbc_qparam *rest = (dbc_qparam *)&rest;
    size_t nrest = 3;
    tu_ok(dbconn_url_parse(&u, "sqlite:///x.db?mode=ro&pool_size=2"));
    budget = 0;
    dbconn_set_allocator(&lim, NULL);
    int rc = dbc_config_resolve(&cfg, NULL, u, &rest, &nrest);
    dbconn_set_allocator(NULL, NULL);
    assert_int_equal(rc, DBCONN_ENOMEM);
    assert_null(rest);
    assert_int_equal(nrest, 0);
    dbconn_url_free(u);
}

/* The loop policy needs a driver with non-blocking statements: SQLite
 * has none, and says so instead of running something else. */
static void test_loop_policy_refused_on_sqlite(void **state) {
    (void)state;
    dbconn *db = NULL;
    dbconn_options o = {.execution_policy = DBCONN_EXEC_LOOP};
    assert_int_equal(dbconn_open(&db, "sqlite://", &o), DBCONN_EOPTION);
    assert_null(db);
    const char *m = dbconn_errmsg(NULL);
    assert_non_null(strstr(m, "execution_policy"));
    assert_non_null(strstr(m, "sqlite"));
    assert_int_equal(dbconn_open(&db, "sqlite://?execution_policy=loop",
                                 NULL),
                     DBCONN_EOPTION);
    /* and the default is the thread pool there */
    tu_ok(dbconn_open(&db, "sqlite://", NULL));
    tu_ok(dbconn_close(db, NULL));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_by_name),
        cmocka_unit_test(test_canonical_pointers),
        cmocka_unit_test(test_set_null_and_long),
        cmocka_unit_test(test_option_known),
        cmocka_unit_test(test_resolve_defaults),
        cmocka_unit_test(test_resolve_none_and_values),
        cmocka_unit_test(test_resolve_rejects_bad_struct),
        cmocka_unit_test(test_resolve_url_precedence),
        cmocka_unit_test(test_resolve_url_errors),
        cmocka_unit_test(test_resolve_rest_pairs),
        cmocka_unit_test(test_resolve_out_of_memory),
        cmocka_unit_test(test_loop_policy_refused_on_sqlite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
