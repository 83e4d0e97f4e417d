/* The PostgreSQL driver against the ctest fixture's server: URLs and
 * options, placeholders end to end, SQLSTATE mapping, every type
 * conversion both ways, counts, streaming, the server-side statement
 * cache, stale plans, DDL and init_db, transactions, password masking.
 * Tables are named drv_* and dropped first (the server keeps them between
 * runs; test_engines_postgres uses eng_* at the same time). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "pgutil.h"

#include "engine/engine.h"

/* ---- helpers ------------------------------------------------------------ */

typedef struct capture {
    char lines[64][512];
    int n;
} capture;

static void capture_log(void *data, int level, const char *line) {
    capture *c = data;
    (void)level;
    if (c->n < 64)
        snprintf(c->lines[c->n++], sizeof c->lines[0], "%s", line);
}

static bool contains(const char *s, const char *part) {
    return s && strstr(s, part) != NULL;
}

#define assert_msg_has(part)                                                   \
    do {                                                                       \
        if (!contains(dbconn_errmsg(NULL), (part)))                            \
            fail_msg("message \"%s\" lacks \"%s\"", dbconn_errmsg(NULL),       \
                     (part));                                                  \
    } while (0)

/* The fixture URL with its scheme replaced and `extra` appended to the
 * query ("" for none), in a static slot. */
static const char *url_with(const char *scheme, const char *extra) {
    static char slots[4][2048];
    static int next;
    char *u = slots[next++ % 4];
    const char *base = tu_pg_url();
    const char *rest = strstr(base, "://");
    snprintf(u, sizeof slots[0], "%s%s%s%s", scheme, rest,
             *extra ? "&" : "", extra);
    return u;
}

static const char *url_q(const char *extra) {
    return url_with("postgresql", extra);
}

static int64_t q_int(dbconn_session *s, const char *sql) {
    dbconn_result *r;
    tu_ok(dbconn_exec(s, sql, NULL, 0, &r));
    assert_int_equal(dbconn_result_nrows(r), 1);
    int64_t v = dbconn_result_int(r, 0, 0);
    dbconn_result_free(r);
    return v;
}

/* The first cell of sql as text, copied to a static buffer. */
static const char *q_text(dbconn_session *s, const char *sql) {
    static char buf[512];
    dbconn_result *r;
    tu_ok(dbconn_exec(s, sql, NULL, 0, &r));
    const char *t = dbconn_result_text(r, 0, 0);
    snprintf(buf, sizeof buf, "%s", t ? t : "(null)");
    dbconn_result_free(r);
    return buf;
}

typedef struct fx {
    dbconn *db;
    dbconn_session *s;
} fx;

static const char *const tables[] = {"drv_child", "drv_parent", "drv_t",
                                     "drv_q",     "drv_alt",    "drv_lock",
                                     "drv_ser",   "drv_types",  NULL};

static void drop_all(dbconn *db) {
    dbconn_session *s;
    char sql[128];
    tu_ok(dbconn_session_open(db, &s));
    for (const char *const *t = tables; *t; t++) {
        snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s CASCADE", *t);
        tu_ok(dbconn_exec(s, sql, NULL, 0, NULL));
    }
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
}

static int setup(void **state) {
    fx *f = test_calloc(1, sizeof *f);
    /* Lock waits end (lock_timeout): a failed test that leaves a
     * transaction open cannot hang the next one's DROP TABLE. */
    dbconn_options o = {.busy_timeout_ms = 10000};
    tu_ok(dbconn_open(&f->db, tu_pg_url(), &o));
    drop_all(f->db);
    tu_ok(dbconn_session_open(f->db, &f->s));
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    dbconn_session_close(f->s);
    drop_all(f->db);
    tu_ok(dbconn_close(f->db, NULL));
    test_free(f);
    return 0;
}

static void expect_open_fails(const char *url, const dbconn_options *o,
                              int code, const char *part) {
    dbconn *db = (dbconn *)1;
    int rc = dbconn_open(&db, url, o);
    if (rc != code)
        fail_msg("dbconn_open(\"%s\") -> %s (%s), want %s", url,
                 dbconn_err_name(rc), dbconn_errmsg(NULL),
                 dbconn_err_name(code));
    assert_null(db);
    assert_msg_has(part);
}

/* ---- URLs and options --------------------------------------------------- */

static void test_dialect_names_and_aliases(void **state) {
    (void)state;
    static const char *const schemes[] = {
        "postgresql", "postgres", "postgresql+asyncpg", "postgresql+psycopg",
        "postgresql+psycopg2", "postgres+asyncpg"};
    for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++) {
        dbconn *db;
        tu_ok(dbconn_open(&db, url_with(schemes[i], ""), NULL));
        assert_string_equal(dbconn_dialect(db), "postgresql");
        tu_ok(dbconn_close(db, NULL));
    }
    expect_open_fails(url_with("postgresql+pg8000", ""), NULL,
                      DBCONN_ENODRIVER, "+asyncpg");
}

static void test_tcp_password_decoded_and_never_shown(void **state) {
    (void)state;
    capture c = {0};
    dbconn *db;
    dbconn_session *s;
    dbconn_options o = {.echo = 2, .log = capture_log, .log_data = &c};
    const char *url = tu_pg_tcp_url();
    /* scram-sha-256 over TCP: the decoded password is what the server
     * checked */
    tu_ok(dbconn_open(&db, url, &o));
    assert_null(strstr(dbconn_url_string(db), "p%40ss"));
    assert_true(contains(dbconn_url_string(db), ":***@127.0.0.1"));
    tu_ok(dbconn_session_open(db, &s));
    assert_int_equal(q_int(s, "SELECT inet_server_port() IS NOT NULL"), 1);
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
    for (int i = 0; i < c.n; i++)
        assert_null(strstr(c.lines[i], "p@ss"));
    /* a wrong password and a port nobody listens on: neither password in
     * the message */
    char bad[1024];
    const char *at = strchr(url + 13, '@');
    snprintf(bad, sizeof bad, "postgresql://postgres:wr0ng%%2Fpw%s", at);
    expect_open_fails(bad, NULL, DBCONN_ECONNLOST, "password authentication");
    assert_null(strstr(dbconn_errmsg(NULL), "wr0ng"));
    assert_msg_has("postgres:***@");
    expect_open_fails("postgresql://postgres:p%40ss%3Aw%2Frd%20%25x@"
                      "127.0.0.1:1/postgres",
                      NULL, DBCONN_ECONNLOST, "cannot connect");
    assert_null(strstr(dbconn_errmsg(NULL), "p@ss"));
    assert_null(strstr(dbconn_errmsg(NULL), "p%40ss"));
}

static void test_hosts_ports_and_ipv6(void **state) {
    (void)state;
    dbconn *db;
    dbconn_session *s;
    char url[1024];
    /* an IPv6 host reaches libpq without its brackets (nothing listens
     * on ::1 here: the message names it) */
    expect_open_fails("postgresql://postgres@[::1]:1/postgres", NULL,
                      DBCONN_ECONNLOST, "::1");
    /* several hosts: the first one is down, the second answers */
    const char *tcp = tu_pg_tcp_url();
    const char *at = strrchr(tcp, '@');
    int port = atoi(strrchr(at, ':') + 1);
    snprintf(url, sizeof url,
             "postgresql://postgres:p%%40ss%%3Aw%%2Frd%%20%%25x@/postgres?"
             "host=127.0.0.1:1,127.0.0.1:%d&target_session_attrs=read-write",
             port);
    tu_ok(dbconn_open(&db, url, NULL));
    tu_ok(dbconn_session_open(db, &s));
    assert_int_equal(q_int(s, "SELECT inet_server_port()"), port);
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
    /* the same with the hosts as repeated keys, [v4-in-brackets] forms */
    snprintf(url, sizeof url,
             "postgresql://postgres:p%%40ss%%3Aw%%2Frd%%20%%25x@/postgres?"
             "host=127.0.0.1:1&host=127.0.0.1:%d",
             port);
    tu_ok(dbconn_open(&db, url, NULL));
    tu_ok(dbconn_close(db, NULL));
    expect_open_fails("postgresql://u@h/db?host=a", NULL, DBCONN_EOPTION,
                      "?host=");
    expect_open_fails("postgresql://u@/db?host=::1", NULL, DBCONN_EOPTION,
                      "brackets");
    expect_open_fails("postgresql://u@/db?host=a:0", NULL, DBCONN_EOPTION,
                      "1-65535");
    expect_open_fails("postgresql://u@/db?host=a:5432x", NULL, DBCONN_EOPTION,
                      "1-65535");
    expect_open_fails("postgresql://u@/db?host=[::1", NULL, DBCONN_EOPTION,
                      "unterminated");
    expect_open_fails("postgresql://u@/db?host=a,,b", NULL, DBCONN_EOPTION,
                      "empty host");
    expect_open_fails("postgresql://u@h:5/db?port=6", NULL, DBCONN_EOPTION,
                      "twice");
}

static void test_options_refused(void **state) {
    (void)state;
    static const struct {
        const char *query, *part;
    } cases[] = {
        {"journal_mode=wal", "journal_mode\" does not apply to postgresql"},
        {"synchronous=off", "synchronous\" does not apply to postgresql"},
        {"foreign_keys=off", "always enforces foreign keys"},
        {"mode=ro", "sqlite option \"mode\" does not apply to postgresql"},
        {"uri=true", "sqlite option \"uri\""},
        {"vfs=memdb", "sqlite option \"vfs\""},
        {"check_same_thread=false", "check_same_thread"},
        {"frobnicate=1", "unknown option \"frobnicate\""},
        {"password=x", "\"password\" is refused"},
        {"sslpassword=x", "\"sslpassword\" is refused"},
        {"sslmode=sometimes", "verify-full"},
        {"target_session_attrs=writable", "read-write"},
        {"connect_timeout=soon", "connect_timeout"},
        {"client_encoding=LATIN1", "only UTF8"},
        {"replication=database", "replication"},
        {"isolation_level=SNAPSHOT", "isolation_level"},
        {"user=other", "given twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        expect_open_fails(url_q(cases[i].query), NULL, DBCONN_EOPTION,
                          cases[i].part);
    dbconn_options o = {.journal_mode = "wal"};
    expect_open_fails(tu_pg_url(), &o, DBCONN_EOPTION, "journal_mode");
}

static void test_options_applied(void **state) {
    (void)state;
    dbconn *db;
    dbconn_session *s;
    tu_ok(dbconn_open(&db,
                      url_q("application_name=drvtest&options=-c%20"
                            "statement_timeout%3D1234&busy_timeout_ms=250"
                            "&connect_timeout=5&sslmode=disable"),
                      NULL));
    tu_ok(dbconn_session_open(db, &s));
    assert_string_equal(q_text(s, "SELECT current_setting('application_name')"),
                        "drvtest");
    assert_string_equal(q_text(s, "SHOW statement_timeout"), "1234ms");
    assert_string_equal(q_text(s, "SHOW lock_timeout"), "250ms");
    assert_string_equal(q_text(s, "SHOW TimeZone"), "UTC");
    assert_string_equal(q_text(s, "SHOW DateStyle"), "ISO, YMD");
    assert_string_equal(q_text(s, "SHOW client_encoding"), "UTF8");
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
    /* defaults: the server's lock_timeout, its isolation level */
    tu_ok(dbconn_open(&db, tu_pg_url(), NULL));
    tu_ok(dbconn_session_open(db, &s));
    assert_string_equal(q_text(s, "SHOW lock_timeout"), "0");
    assert_string_equal(q_text(s, "SHOW transaction_isolation"),
                        "read committed");
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
    dbconn_options o = {.isolation_level = "REPEATABLE READ",
                        .busy_timeout_ms = DBCONN_NONE};
    tu_ok(dbconn_open(&db, tu_pg_url(), &o));
    tu_ok(dbconn_session_open(db, &s));
    assert_string_equal(q_text(s, "SHOW transaction_isolation"),
                        "repeatable read");
    assert_string_equal(q_text(s, "SHOW lock_timeout"), "1ms");
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
}

/* AUTOCOMMIT: every statement commits by itself (no BEGIN is sent). */
static void test_autocommit_isolation(void **state) {
    fx *f = *state;
    dbconn *db;
    dbconn_session *s;
    tu_ok(dbconn_exec(f->s, "CREATE TABLE drv_t (x int)", NULL, 0, NULL));
    tu_ok(dbconn_commit(f->s));
    dbconn_options o = {.isolation_level = "AUTOCOMMIT"};
    tu_ok(dbconn_open(&db, tu_pg_url(), &o));
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, "INSERT INTO drv_t VALUES (1)", NULL, 0, NULL));
    /* two statements, two transactions */
    int64_t xid = q_int(s, "SELECT txid_current()");
    assert_true(q_int(s, "SELECT txid_current()") > xid);
    /* seen by another session before any commit of ours */
    assert_int_equal(q_int(f->s, "SELECT count(*) FROM drv_t"), 1);
    tu_ok(dbconn_rollback(s)); /* nothing to undo */
    tu_ok(dbconn_commit(f->s));
    assert_int_equal(q_int(f->s, "SELECT count(*) FROM drv_t"), 1);
    tu_ok(dbconn_commit(f->s));
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
}

/* ---- placeholders end to end -------------------------------------------- */

static void test_placeholders_in_context(void **state) {
    fx *f = *state;
    dbconn_result *r;
    tu_ok(dbconn_exec(f->s, "CREATE TABLE drv_q (\"why?\" int, \"semi;\" "
                            "text)",
                      NULL, 0, NULL));
    tu_ok(dbconn_exec(f->s, "INSERT INTO drv_q (\"why?\", \"semi;\") VALUES "
                            "(?, ?) -- a ? here is a comment",
                      DBCONN_PARAMS(DBCONN_INT(7), DBCONN_TEXT("it's ?")),
                      NULL));
    tu_ok(dbconn_exec(f->s,
                      "SELECT \"why?\", \"semi;\", '?', $$?;$$, /* ? */ ? "
                      "FROM drv_q WHERE \"why?\" = ?",
                      DBCONN_PARAMS(DBCONN_TEXT("p"), DBCONN_INT(7)), &r));
    assert_int_equal(dbconn_result_nrows(r), 1);
    assert_int_equal(dbconn_result_int(r, 0, 0), 7);
    assert_string_equal(dbconn_result_text(r, 0, 1), "it's ?");
    assert_string_equal(dbconn_result_text(r, 0, 2), "?");
    assert_string_equal(dbconn_result_text(r, 0, 3), "?;");
    assert_string_equal(dbconn_result_text(r, 0, 4), "p");
    dbconn_result_free(r);
    tu_ok(dbconn_exec(f->s, "SELECT $2 - $1, ?2::text",
                      DBCONN_PARAMS(DBCONN_INT(2), DBCONN_INT(10)), NULL));
    assert_int_equal(dbconn_exec(f->s, "SELECT $2 - $1",
                                 DBCONN_PARAMS(DBCONN_INT(2)), NULL),
                     DBCONN_EINVAL);
    assert_msg_has("expects 2 parameters, 1 given");
    tu_ok(dbconn_rollback(f->s));
    tu_ok(dbconn_exec(f->s, "SELECT '{\"a\": 1}'::jsonb ?? ?",
                      DBCONN_PARAMS(DBCONN_TEXT("a")), &r));
    assert_int_equal(dbconn_result_int(r, 0, 0), 1);
    dbconn_result_free(r);
    tu_ok(dbconn_commit(f->s));
}

/* ---- errors ------------------------------------------------------------- */

static void expect_exec(dbconn_session *s, const char *sql, int code,
                        const char *state5, const char *part) {
    int rc = dbconn_exec(s, sql, NULL, 0, NULL);
    if (rc != code)
        fail_msg("\"%s\" -> %s (%s), want %s", sql, dbconn_err_name(rc),
                 dbconn_errmsg(NULL), dbconn_err_name(code));
    assert_string_equal(dbconn_sqlstate(NULL), state5);
    assert_string_equal(dbconn_session_sqlstate(s), state5);
    assert_int_equal(dbconn_db_errcode(NULL),
                     DBCONN_SQLSTATE(state5[0], state5[1], state5[2],
                                     state5[3], state5[4]));
    assert_msg_has(part);
    assert_int_equal(dbconn_rollback(s), 0);
}

static void test_sqlstate_mapping(void **state) {
    fx *f = *state;
    tu_ok(dbconn_exec_script(
        f->s, "CREATE TABLE drv_parent (id int PRIMARY KEY, "
              "v int CONSTRAINT v_small CHECK (v < 10), n text NOT NULL);"
              "CREATE TABLE drv_child (p int REFERENCES drv_parent(id));"
              "INSERT INTO drv_parent VALUES (1, 1, 'a')"));
    tu_ok(dbconn_commit(f->s));
    expect_exec(f->s, "INSERT INTO drv_parent VALUES (1, 1, 'b')",
                DBCONN_ECONSTRAINT, "23505", "drv_parent_pkey");
    expect_exec(f->s, "INSERT INTO drv_parent VALUES (2, 1, NULL)",
                DBCONN_ECONSTRAINT, "23502", "[SQLSTATE 23502]");
    expect_exec(f->s, "INSERT INTO drv_child VALUES (9)", DBCONN_ECONSTRAINT,
                "23503", "drv_child_p_fkey");
    expect_exec(f->s, "INSERT INTO drv_parent VALUES (3, 99, 'c')",
                DBCONN_ECONSTRAINT, "23514", "constraint \"v_small\"");
    expect_exec(f->s, "SELEC 1", DBCONN_EDB, "42601", "syntax error");
    expect_exec(f->s, "SELECT 1/0", DBCONN_EDB, "22012", "division by zero");
    expect_exec(f->s, "SELECT * FROM drv_nothing", DBCONN_EDB, "42P01",
                "drv_nothing");
    /* EABORTED quotes the failure that aborted, and keeps its SQLSTATE */
    assert_int_equal(dbconn_exec(f->s, "SELECT 1/0", NULL, 0, NULL),
                     DBCONN_EDB);
    assert_int_equal(dbconn_exec(f->s, "SELECT 1", NULL, 0, NULL),
                     DBCONN_EABORTED);
    assert_string_equal(dbconn_session_sqlstate(f->s), "22012");
    assert_string_equal(dbconn_sqlstate(NULL), "22012");
    assert_int_equal(dbconn_commit(f->s), DBCONN_EABORTED);
    tu_ok(dbconn_rollback(f->s));
    /* the library's own failures have no SQLSTATE */
    assert_int_equal(dbconn_exec(f->s, "SELECT ?", NULL, 0, NULL),
                     DBCONN_EINVAL);
    assert_string_equal(dbconn_sqlstate(NULL), "");
    tu_ok(dbconn_rollback(f->s));
}

static void test_statement_timeout(void **state) {
    (void)state;
    dbconn *db;
    dbconn_session *s;
    tu_ok(dbconn_open(&db, url_q("options=-c%20statement_timeout%3D50"),
                      NULL));
    tu_ok(dbconn_session_open(db, &s));
    expect_exec(s, "SELECT pg_sleep(5)", DBCONN_ESTMTTIMEOUT, "57014",
                "statement timeout");
    /* the session goes on after the rollback */
    assert_int_equal(q_int(s, "SELECT 2"), 2);
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
}

typedef struct canceller {
    dbconn *db;
    int how; /* 0: the driver's interrupt, 1: pg_cancel_backend */
    int64_t pid;
} canceller;

static void cancel_soon(void *arg) {
    canceller *c = arg;
    struct timespec ts = {0, 300 * 1000000L};
    nanosleep(&ts, NULL);
    if (c->how == 0) {
        dbc_pool_interrupt_all(c->db->pool);
        return;
    }
    dbconn_session *s;
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT pg_cancel_backend(%lld)",
             (long long)c->pid);
    if (dbconn_session_open(c->db, &s) == 0) {
        (void)dbconn_exec(s, sql, NULL, 0, NULL);
        dbconn_session_close(s);
    }
}

static void test_cancel_is_interrupted(void **state) {
    fx *f = *state;
    for (int how = 0; how < 2; how++) {
        canceller c = {.db = f->db, .how = how};
        c.pid = q_int(f->s, "SELECT pg_backend_pid()");
        uv_thread_t t;
        assert_int_equal(uv_thread_create(&t, cancel_soon, &c), 0);
        expect_exec(f->s, "SELECT pg_sleep(20)", DBCONN_EINTERRUPTED, "57014",
                    "canceling statement");
        uv_thread_join(&t);
    }
}

static void test_lock_timeout_is_busy(void **state) {
    fx *f = *state;
    dbconn *db;
    dbconn_session *s;
    tu_ok(dbconn_exec_script(f->s, "CREATE TABLE drv_lock (id int PRIMARY "
                                   "KEY, v int); INSERT INTO drv_lock VALUES "
                                   "(1, 0)"));
    tu_ok(dbconn_commit(f->s));
    tu_ok(dbconn_exec(f->s, "UPDATE drv_lock SET v = 1 WHERE id = 1", NULL, 0,
                      NULL));
    dbconn_options o = {.busy_timeout_ms = 100};
    tu_ok(dbconn_open(&db, tu_pg_url(), &o));
    tu_ok(dbconn_session_open(db, &s));
    expect_exec(s, "UPDATE drv_lock SET v = 2 WHERE id = 1", DBCONN_EBUSY,
                "55P03", "lock timeout");
    tu_ok(dbconn_rollback(f->s));
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
}

static void test_serialization_failure_is_busy(void **state) {
    fx *f = *state;
    dbconn *db;
    dbconn_session *a, *b;
    tu_ok(dbconn_exec(f->s, "CREATE TABLE drv_ser (v int)", NULL, 0, NULL));
    tu_ok(dbconn_commit(f->s));
    dbconn_options o = {.isolation_level = "SERIALIZABLE"};
    tu_ok(dbconn_open(&db, tu_pg_url(), &o));
    tu_ok(dbconn_session_open(db, &a));
    tu_ok(dbconn_session_open(db, &b));
    /* each reads what the other writes: one of them must fail */
    assert_int_equal(q_int(a, "SELECT count(*) FROM drv_ser"), 0);
    assert_int_equal(q_int(b, "SELECT count(*) FROM drv_ser"), 0);
    tu_ok(dbconn_exec(a, "INSERT INTO drv_ser VALUES (1)", NULL, 0, NULL));
    tu_ok(dbconn_exec(b, "INSERT INTO drv_ser VALUES (2)", NULL, 0, NULL));
    tu_ok(dbconn_commit(a));
    assert_int_equal(dbconn_commit(b), DBCONN_EBUSY);
    assert_string_equal(dbconn_sqlstate(NULL), "40001");
    tu_ok(dbconn_rollback(b));
    dbconn_session_close(a);
    dbconn_session_close(b);
    tu_ok(dbconn_close(db, NULL));
}

typedef struct deadlocker {
    dbconn *db;
    int rc;
} deadlocker;

/* Locks row 2, then row 1 (the main thread does 1, then 2). */
static void lock_2_then_1(void *arg) {
    deadlocker *d = arg;
    dbconn_session *s;
    struct timespec ts = {0, 200 * 1000000L};
    if (dbconn_session_open(d->db, &s) != 0)
        return;
    d->rc = dbconn_exec(s, "UPDATE drv_lock SET v = v + 1 WHERE id = 2", NULL,
                        0, NULL);
    nanosleep(&ts, NULL);
    if (d->rc == 0)
        d->rc = dbconn_exec(s, "UPDATE drv_lock SET v = v + 1 WHERE id = 1",
                            NULL, 0, NULL);
    dbconn_rollback(s);
    dbconn_session_close(s);
}

static void test_deadlock_is_busy(void **state) {
    fx *f = *state;
    tu_ok(dbconn_exec_script(f->s, "CREATE TABLE drv_lock (id int PRIMARY "
                                   "KEY, v int); INSERT INTO drv_lock VALUES "
                                   "(1, 0), (2, 0)"));
    tu_ok(dbconn_commit(f->s));
    deadlocker d = {.db = f->db};
    uv_thread_t t;
    tu_ok(dbconn_exec(f->s, "UPDATE drv_lock SET v = v + 1 WHERE id = 1", NULL,
                      0, NULL));
    assert_int_equal(uv_thread_create(&t, lock_2_then_1, &d), 0);
    struct timespec ts = {0, 100 * 1000000L};
    nanosleep(&ts, NULL);
    int rc = dbconn_exec(f->s, "UPDATE drv_lock SET v = v + 1 WHERE id = 2",
                         NULL, 0, NULL);
    dbconn_rollback(f->s);
    uv_thread_join(&t);
    /* the server picks one victim: 40P01 there, success for the other */
    assert_true((rc == DBCONN_EBUSY) != (d.rc == DBCONN_EBUSY));
    assert_true(rc == 0 || d.rc == 0);
}

static void test_connection_lost_then_fresh(void **state) {
    fx *f = *state;
    dbconn_session *killer;
    char sql[96];
    int64_t pid = q_int(f->s, "SELECT pg_backend_pid()");
    tu_ok(dbconn_session_open(f->db, &killer));
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%lld)",
             (long long)pid);
    assert_int_equal(q_int(killer, sql), 1);
    tu_ok(dbconn_commit(killer));
    dbconn_session_close(killer);
    int rc = dbconn_exec(f->s, "SELECT 1", NULL, 0, NULL);
    assert_int_equal(rc, DBCONN_ECONNLOST);
    assert_msg_has("connection was lost");
    tu_ok(dbconn_rollback(f->s));
    /* the next transaction runs on a new server session */
    assert_true(q_int(f->s, "SELECT pg_backend_pid()") != pid);
    tu_ok(dbconn_commit(f->s));
}

/* ---- types -------------------------------------------------------------- */

typedef struct want {
    int type;
    int64_t i;
    double r;
    const char *text;
} want;

static void check_cell(const dbconn_result *r, size_t col, const want *w) {
    const char *name = dbconn_result_colname(r, col);
    int t = dbconn_result_type(r, 0, col);
    if (t != w->type)
        fail_msg("column %s: type %d, want %d", name, t, w->type);
    if (t == DBCONN_TYPE_INTEGER && dbconn_result_int(r, 0, col) != w->i)
        fail_msg("column %s: %lld, want %lld", name,
                 (long long)dbconn_result_int(r, 0, col), (long long)w->i);
    if (t == DBCONN_TYPE_REAL) {
        double got = dbconn_result_real(r, 0, col);
        if (!(got == w->r || (isnan(got) && isnan(w->r))))
            fail_msg("column %s: %.17g, want %.17g", name, got, w->r);
    }
    if (t == DBCONN_TYPE_TEXT &&
        strcmp(dbconn_result_text(r, 0, col), w->text) != 0)
        fail_msg("column %s: \"%s\", want \"%s\"", name,
                 dbconn_result_text(r, 0, col), w->text);
}

static void test_result_types(void **state) {
    fx *f = *state;
    dbconn_result *r;
    tu_ok(dbconn_exec(
        f->s,
        "SELECT 12::int2 AS i2, 2147483647::int4 AS i4, "
        "(-9223372036854775807 - 1)::int8 AS i8, 42::oid AS o, "
        "1.5::float4 AS f4, 1e300::float8 AS f8, 'NaN'::float8 AS nan, "
        "'-Infinity'::float8 AS ninf, 123::numeric AS n_int, "
        "12.50::numeric AS n_frac, 99999999999999999999::numeric AS n_big, "
        "true AS t, false AS f, 'txt'::text AS tx, 'v'::varchar(5) AS vc, "
        "'c'::char(3) AS ch, '2024-01-02 03:04:05.5'::timestamp AS ts, "
        "'2024-01-02 03:04:05+02'::timestamptz AS tstz, "
        "'2024-01-02'::date AS d, "
        "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u, "
        "'{\"a\": [1, 2]}'::json AS j, '{\"b\":  true}'::jsonb AS jb, "
        "'1 day 02:00'::interval AS iv, ARRAY[1, 2] AS arr, "
        "NULL::int AS n1, NULL::text AS n2, NULL::bytea AS n3, "
        "NULL::bool AS n4, NULL::timestamptz AS n5",
        NULL, 0, &r));
    const want w[] = {
        {DBCONN_TYPE_INTEGER, 12, 0, NULL},
        {DBCONN_TYPE_INTEGER, 2147483647, 0, NULL},
        {DBCONN_TYPE_INTEGER, INT64_MIN, 0, NULL},
        {DBCONN_TYPE_INTEGER, 42, 0, NULL},
        {DBCONN_TYPE_REAL, 0, 1.5, NULL},
        {DBCONN_TYPE_REAL, 0, 1e300, NULL},
        {DBCONN_TYPE_REAL, 0, NAN, NULL},
        {DBCONN_TYPE_REAL, 0, -INFINITY, NULL},
        {DBCONN_TYPE_INTEGER, 123, 0, NULL},
        {DBCONN_TYPE_REAL, 0, 12.5, NULL},
        {DBCONN_TYPE_REAL, 0, 1e20, NULL},
        {DBCONN_TYPE_INTEGER, 1, 0, NULL},
        {DBCONN_TYPE_INTEGER, 0, 0, NULL},
        {DBCONN_TYPE_TEXT, 0, 0, "txt"},
        {DBCONN_TYPE_TEXT, 0, 0, "v"},
        {DBCONN_TYPE_TEXT, 0, 0, "c  "},
        {DBCONN_TYPE_TEXT, 0, 0, "2024-01-02 03:04:05.5"},
        {DBCONN_TYPE_TEXT, 0, 0, "2024-01-02 01:04:05"},
        {DBCONN_TYPE_TEXT, 0, 0, "2024-01-02"},
        {DBCONN_TYPE_TEXT, 0, 0, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
        {DBCONN_TYPE_TEXT, 0, 0, "{\"a\": [1, 2]}"},
        {DBCONN_TYPE_TEXT, 0, 0, "{\"b\": true}"},
        {DBCONN_TYPE_TEXT, 0, 0, "1 day 02:00:00"},
        {DBCONN_TYPE_TEXT, 0, 0, "{1,2}"},
        {DBCONN_TYPE_NULL, 0, 0, NULL},
        {DBCONN_TYPE_NULL, 0, 0, NULL},
        {DBCONN_TYPE_NULL, 0, 0, NULL},
        {DBCONN_TYPE_NULL, 0, 0, NULL},
        {DBCONN_TYPE_NULL, 0, 0, NULL},
    };
    size_t n = sizeof w / sizeof *w;
    assert_int_equal(dbconn_result_ncols(r), n);
    for (size_t i = 0; i < n; i++)
        check_cell(r, i, &w[i]);
    assert_null(dbconn_result_text(r, 0, 24));
    dbconn_result_free(r);
    /* bytea: every byte value, and the empty one */
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    tu_ok(dbconn_exec(f->s, "SELECT ?::bytea, ''::bytea, "
                            "decode('00ff41', 'hex')",
                      DBCONN_PARAMS(DBCONN_BLOB(all, sizeof all)), &r));
    size_t len;
    const void *b = dbconn_result_blob(r, 0, 0, &len);
    assert_int_equal(dbconn_result_type(r, 0, 0), DBCONN_TYPE_BLOB);
    assert_int_equal(len, 256);
    assert_memory_equal(b, all, 256);
    assert_int_equal(dbconn_result_type(r, 0, 1), DBCONN_TYPE_BLOB);
    (void)dbconn_result_blob(r, 0, 1, &len);
    assert_int_equal(len, 0);
    b = dbconn_result_blob(r, 0, 2, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(b, "\0\xff" "A", 3);
    dbconn_result_free(r);
    tu_ok(dbconn_commit(f->s));
}

static void test_parameter_types(void **state) {
    fx *f = *state;
    dbconn_result *r;
    tu_ok(dbconn_exec(f->s,
                      "CREATE TABLE drv_types (i4 int4, i8 int8, f8 float8, "
                      "n numeric, b bool, t text, by bytea, tz timestamptz, "
                      "d date, u uuid, j jsonb)",
                      NULL, 0, NULL));
    dbconn_value yes = {.type = DBCONN_TYPE_BOOLEAN, .u.i = 1};
    dbconn_value ts = {.type = DBCONN_TYPE_TIMESTAMP,
                       .u.b = {"2024-03-04 05:06:07.25", DBCONN_NTS}};
    const char text[] = "abcdef";
    const char *ins = "INSERT INTO drv_types VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
                      "?, ?, ?)";
    tu_ok(dbconn_exec(f->s, ins,
                      DBCONN_PARAMS(DBCONN_INT(-2147483648), DBCONN_INT(INT64_MAX),
                                    DBCONN_REAL(-0.1), DBCONN_REAL(2.5), yes,
                                    DBCONN_TEXTN(text, 3),
                                    DBCONN_BLOB("\0\0\x80", 3), ts,
                                    DBCONN_TEXT("2024-02-29"),
                                    DBCONN_TEXT("A0EEBC99-9C0B-4EF8-BB6D-"
                                                "6BB9BD380A11"),
                                    DBCONN_TEXT("{\"k\": [true, null]}")),
                      NULL));
    /* the same statement with every value NULL, and NaN / infinities */
    tu_ok(dbconn_exec(f->s, ins,
                      DBCONN_PARAMS(DBCONN_NULL, DBCONN_NULL, DBCONN_REAL(NAN),
                                    DBCONN_REAL(INFINITY), DBCONN_NULL,
                                    DBCONN_TEXT(NULL), DBCONN_NULL,
                                    DBCONN_NULL, DBCONN_NULL, DBCONN_NULL,
                                    DBCONN_NULL),
                      NULL));
    tu_ok(dbconn_exec(f->s, "SELECT * FROM drv_types ORDER BY i4 NULLS LAST",
                      NULL, 0, &r));
    assert_int_equal(dbconn_result_nrows(r), 2);
    assert_int_equal(dbconn_result_int(r, 0, 0), -2147483648LL);
    assert_int_equal(dbconn_result_int(r, 0, 1), INT64_MAX);
    assert_true(dbconn_result_real(r, 0, 2) == -0.1);
    assert_true(dbconn_result_real(r, 0, 3) == 2.5);
    assert_int_equal(dbconn_result_int(r, 0, 4), 1);
    assert_string_equal(dbconn_result_text(r, 0, 5), "abc");
    size_t len;
    assert_memory_equal(dbconn_result_blob(r, 0, 6, &len), "\0\0\x80", 3);
    assert_int_equal(len, 3);
    /* written as UTC text without a zone, read back the same */
    assert_string_equal(dbconn_result_text(r, 0, 7), "2024-03-04 05:06:07.25");
    assert_string_equal(dbconn_result_text(r, 0, 8), "2024-02-29");
    assert_string_equal(dbconn_result_text(r, 0, 9),
                        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    assert_string_equal(dbconn_result_text(r, 0, 10),
                        "{\"k\": [true, null]}");
    assert_true(isnan(dbconn_result_real(r, 1, 2)));
    assert_true(isinf(dbconn_result_real(r, 1, 3)));
    for (size_t c = 0; c < 11; c++)
        if (c != 2 && c != 3)
            assert_int_equal(dbconn_result_type(r, 1, c), DBCONN_TYPE_NULL);
    dbconn_result_free(r);
    tu_ok(dbconn_commit(f->s));
    /* postgresql text holds no NUL byte */
    assert_int_equal(dbconn_exec(f->s, "SELECT ?",
                                 DBCONN_PARAMS(DBCONN_TEXTN("a\0b", 3)), NULL),
                     DBCONN_EINVAL);
    assert_msg_has("bind it as a BLOB");
    tu_ok(dbconn_rollback(f->s));
    /* an INTEGER is a bigint: a boolean column wants DBCONN_TYPE_BOOLEAN */
    assert_int_equal(dbconn_exec(f->s, "UPDATE drv_types SET b = ?",
                                 DBCONN_PARAMS(DBCONN_INT(1)), NULL),
                     DBCONN_EDB);
    assert_msg_has("DBCONN_TYPE_BOOLEAN");
    tu_ok(dbconn_rollback(f->s));
}

/* ---- counts, streaming, the statement cache ----------------------------- */

static void test_counts_and_last_insert_id(void **state) {
    fx *f = *state;
    dbconn_result *r;
    tu_ok(dbconn_exec(f->s, "CREATE TABLE drv_t (id bigint GENERATED BY "
                            "DEFAULT AS IDENTITY PRIMARY KEY, v text)",
                      NULL, 0, NULL));
    tu_ok(dbconn_exec(f->s, "INSERT INTO drv_t (v) VALUES ('a') RETURNING id",
                      NULL, 0, &r));
    assert_int_equal(dbconn_result_last_insert_id(r), 1);
    assert_int_equal(dbconn_result_changes(r), 1);
    dbconn_result_free(r);
    tu_ok(dbconn_exec(f->s, "INSERT INTO drv_t (v) VALUES ('b'), ('c') "
                            "RETURNING id, v",
                      NULL, 0, &r));
    assert_int_equal(dbconn_result_last_insert_id(r), 3); /* the last row */
    assert_int_equal(dbconn_result_changes(r), 2);
    dbconn_result_free(r);
    tu_ok(dbconn_exec(f->s, "INSERT INTO drv_t (v) VALUES ('d')", NULL, 0,
                      &r));
    assert_int_equal(dbconn_result_last_insert_id(r), 0); /* no RETURNING */
    assert_int_equal(dbconn_result_changes(r), 1);
    dbconn_result_free(r);
    tu_ok(dbconn_exec(f->s, "INSERT INTO drv_t (v) VALUES ('e') RETURNING v",
                      NULL, 0, &r));
    assert_int_equal(dbconn_result_last_insert_id(r), 0); /* not a key */
    dbconn_result_free(r);
    tu_ok(dbconn_exec(f->s, "UPDATE drv_t SET v = v || '!' WHERE id > 2",
                      NULL, 0, &r));
    assert_int_equal(dbconn_result_changes(r), 3);
    dbconn_result_free(r);
    tu_ok(dbconn_exec(f->s, "DELETE FROM drv_t WHERE id < 3", NULL, 0, &r));
    assert_int_equal(dbconn_result_changes(r), 2);
    dbconn_result_free(r);
    tu_ok(dbconn_exec(f->s, "SELECT * FROM drv_t", NULL, 0, &r));
    assert_int_equal(dbconn_result_changes(r), 0);
    assert_int_equal(dbconn_result_nrows(r), 3);
    dbconn_result_free(r);
    tu_ok(dbconn_commit(f->s));
}

typedef struct tally {
    int64_t rows, sum;
    int64_t stop;
} tally;

static int count_row(void *data, const dbconn_result *row) {
    tally *t = data;
    assert_int_equal(dbconn_result_nrows(row), 1);
    t->rows++;
    t->sum += dbconn_result_int(row, 0, 0);
    return t->stop && t->rows == t->stop;
}

static void test_streaming(void **state) {
    fx *f = *state;
    tally all = {0}, few = {.stop = 5};
    const char *big = "SELECT g, repeat('x', 100) FROM generate_series(1, ?) g";
    tu_ok(dbconn_exec_each(f->s, big, DBCONN_PARAMS(DBCONN_INT(200000)),
                           count_row, &all));
    assert_int_equal(all.rows, 200000);
    assert_int_equal(all.sum, (int64_t)200000 * 200001 / 2);
    tu_ok(dbconn_exec_each(f->s, big, DBCONN_PARAMS(DBCONN_INT(200000)),
                           count_row, &few));
    assert_int_equal(few.rows, 5);
    /* what the stopped run left was read and dropped */
    assert_int_equal(q_int(f->s, "SELECT 41 + 1"), 42);
    dbconn_result *r;
    tu_ok(dbconn_exec_first(f->s, big, DBCONN_PARAMS(DBCONN_INT(1000)), &r));
    assert_int_equal(dbconn_result_nrows(r), 1);
    assert_int_equal(dbconn_result_int(r, 0, 0), 1);
    dbconn_result_free(r);
    /* a failure in the middle of a stream is reported */
    tally t = {0};
    assert_int_equal(dbconn_exec_each(f->s, "SELECT 1 / (3 - g) FROM "
                                            "generate_series(1, 5) g",
                                      NULL, 0, count_row, &t),
                     DBCONN_EDB);
    assert_string_equal(dbconn_sqlstate(NULL), "22012");
    tu_ok(dbconn_rollback(f->s));
}

static int64_t prepared_count(dbconn_session *s, const char *text) {
    dbconn_result *r;
    tu_ok(dbconn_exec(s, "SELECT count(*) FROM pg_prepared_statements WHERE "
                         "statement = ?",
                      DBCONN_PARAMS(DBCONN_TEXT(text)), &r));
    int64_t n = dbconn_result_int(r, 0, 0);
    dbconn_result_free(r);
    return n;
}

static void test_server_side_statement_cache(void **state) {
    (void)state;
    dbconn *db;
    dbconn_session *s;
    dbconn_options o = {.pool_size = 1, .statement_cache_size = 2};
    tu_ok(dbconn_open(&db, tu_pg_url(), &o));
    tu_ok(dbconn_session_open(db, &s));
    /* prepared on the server at its second run */
    tu_ok(dbconn_exec(s, "SELECT 1 AS a", NULL, 0, NULL));
    assert_int_equal(prepared_count(s, "SELECT 1 AS a"), 0);
    tu_ok(dbconn_exec(s, "SELECT 1 AS a", NULL, 0, NULL));
    assert_int_equal(prepared_count(s, "SELECT 1 AS a"), 1);
    tu_ok(dbconn_commit(s));
    /* evicted from the cache: deallocated before the next transaction */
    tu_ok(dbconn_exec(s, "SELECT 2 AS b", NULL, 0, NULL));
    tu_ok(dbconn_exec(s, "SELECT 2 AS b", NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    assert_int_equal(prepared_count(s, "SELECT 1 AS a"), 0);
    assert_int_equal(prepared_count(s, "SELECT 2 AS b"), 1);
    dbconn_stats st;
    tu_ok(dbconn_pool_stats(db, &st));
    assert_true(st.cache_hits >= 3);
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
}

static void add_column(const char *name) {
    char sql[96];
    snprintf(sql, sizeof sql, "ALTER TABLE drv_alt ADD COLUMN %s int DEFAULT 7",
             name);
    tu_pg_admin(tu_pg_url(), sql);
}

static void test_stale_plan_after_alter(void **state) {
    fx *f = *state;
    dbconn *db;
    dbconn_session *s;
    dbconn_result *r;
    const char *q = "SELECT * FROM drv_alt";
    tu_ok(dbconn_exec_script(f->s, "CREATE TABLE drv_alt (id int); INSERT "
                                   "INTO drv_alt VALUES (1)"));
    tu_ok(dbconn_commit(f->s));
    dbconn_options o = {.pool_size = 1};
    tu_ok(dbconn_open(&db, tu_pg_url(), &o));
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, q, NULL, 0, NULL));
    tu_ok(dbconn_exec(s, q, NULL, 0, NULL)); /* now prepared */
    tu_ok(dbconn_commit(s));
    /* the first statement of a transaction: prepared again unseen */
    add_column("b");
    tu_ok(dbconn_exec(s, q, NULL, 0, &r));
    assert_int_equal(dbconn_result_ncols(r), 2);
    assert_string_equal(dbconn_result_colname(r, 1), "b");
    assert_int_equal(dbconn_result_int(r, 0, 1), 7);
    dbconn_result_free(r);
    tu_ok(dbconn_exec(s, q, NULL, 0, NULL)); /* prepared anew */
    tu_ok(dbconn_commit(s));
    /* later in a transaction: reported; the next transaction works */
    assert_int_equal(q_int(s, "SELECT 5"), 5);
    add_column("c");
    assert_int_equal(dbconn_exec(s, q, NULL, 0, NULL), DBCONN_EDB);
    assert_msg_has("run the transaction again");
    tu_ok(dbconn_rollback(s));
    tu_ok(dbconn_exec(s, q, NULL, 0, &r));
    assert_int_equal(dbconn_result_ncols(r), 3);
    dbconn_result_free(r);
    tu_ok(dbconn_exec(s, q, NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    /* a script ran first: starting over would lose its row, so the stale
     * statement is reported, not retried */
    add_column("d");
    tu_ok(dbconn_exec_script(s, "INSERT INTO drv_alt (id) VALUES (2)"));
    assert_int_equal(dbconn_exec(s, q, NULL, 0, NULL), DBCONN_EDB);
    tu_ok(dbconn_rollback(s));
    assert_int_equal(q_int(s, "SELECT count(*) FROM drv_alt"), 1);
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
    /* no transaction (AUTOCOMMIT): prepared again and run, unseen */
    dbconn_options ao = {.pool_size = 1, .isolation_level = "AUTOCOMMIT"};
    tu_ok(dbconn_open(&db, tu_pg_url(), &ao));
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, q, NULL, 0, NULL));
    tu_ok(dbconn_exec(s, q, NULL, 0, NULL));
    tu_ok(dbconn_exec(s, "SELECT 1", NULL, 0, NULL)); /* not the first */
    add_column("e");
    tu_ok(dbconn_exec(s, q, NULL, 0, &r));
    assert_int_equal(dbconn_result_ncols(r), 5);
    assert_string_equal(dbconn_result_colname(r, 4), "e");
    dbconn_result_free(r);
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
}

/* ---- DDL, init_db, transactions ----------------------------------------- */

typedef struct parent {
    int64_t id;
    char *name;
} parent;

typedef struct child {
    int64_t id;
    int64_t parent_id;
    double weight;
    void *data;
    int64_t flag;
    char *at;
} child;

static const dbconn_column parent_cols[] = {
    {.name = "id", .type = DBCONN_TYPE_INTEGER, .flags = DBCONN_PRIMARY_KEY,
     .offset = offsetof(parent, id)},
    {.name = "name", .type = DBCONN_TYPE_TEXT, .flags = DBCONN_UNIQUE,
     .default_literal = "it's", .offset = offsetof(parent, name)},
};

static const dbconn_column child_cols[] = {
    {.name = "id", .type = DBCONN_TYPE_INTEGER,
     .flags = DBCONN_PRIMARY_KEY | DBCONN_AUTOINCREMENT,
     .offset = offsetof(child, id)},
    {.name = "parent_id", .type = DBCONN_TYPE_INTEGER,
     .flags = DBCONN_NOT_NULL | DBCONN_INDEXED, .references = "drv_parent",
     .on_delete = DBCONN_FK_CASCADE, .on_update = DBCONN_FK_SET_NULL,
     .offset = offsetof(child, parent_id)},
    {.name = "weight", .type = DBCONN_TYPE_REAL, .default_sql = "1.5",
     .offset = offsetof(child, weight)},
    {.name = "data", .type = DBCONN_TYPE_BLOB, .offset = offsetof(child, data)},
    {.name = "flag", .type = DBCONN_TYPE_BOOLEAN, .default_sql = "0",
     .offset = offsetof(child, flag)},
    {.name = "at", .type = DBCONN_TYPE_TIMESTAMP,
     .default_sql = "datetime('now')", .offset = offsetof(child, at)},
};

static const dbconn_model parent_model = {
    .table = "drv_parent", .columns = parent_cols, .ncolumns = 2,
    .struct_size = sizeof(parent)};
static const dbconn_model child_model = {
    .table = "drv_child", .columns = child_cols, .ncolumns = 6,
    .struct_size = sizeof(child)};

static void test_ddl_and_init_db(void **state) {
    fx *f = *state;
    dbconn_base *b;
    char *ddl;
    tu_ok(dbconn_base_new(&b));
    tu_ok(dbconn_base_add(b, &child_model));
    tu_ok(dbconn_base_add(b, &parent_model));
    tu_ok(dbconn_base_ddl(f->db, b, &ddl));
    assert_string_equal(
        ddl,
        "CREATE TABLE IF NOT EXISTS \"drv_parent\" (\"id\" BIGINT GENERATED "
        "BY DEFAULT AS IDENTITY PRIMARY KEY, \"name\" TEXT UNIQUE DEFAULT "
        "'it''s');\n"
        "CREATE TABLE IF NOT EXISTS \"drv_child\" (\"id\" BIGINT GENERATED BY "
        "DEFAULT AS IDENTITY PRIMARY KEY, \"parent_id\" BIGINT NOT NULL, "
        "\"weight\" DOUBLE PRECISION DEFAULT (1.5), \"data\" BYTEA, \"flag\" "
        "BOOLEAN DEFAULT (FALSE), \"at\" TIMESTAMPTZ DEFAULT "
        "(CURRENT_TIMESTAMP), FOREIGN KEY (\"parent_id\") REFERENCES "
        "\"drv_parent\"(\"id\") ON DELETE CASCADE ON UPDATE SET NULL);\n"
        "CREATE INDEX IF NOT EXISTS \"ix_drv_child_parent_id\" ON "
        "\"drv_child\" (\"parent_id\");\n");
    dbconn_free(ddl);
    tu_ok(dbconn_init_db(f->db, b));
    tu_ok(dbconn_init_db(f->db, b)); /* idempotent */
    tu_ok(dbconn_exec(f->s, "INSERT INTO drv_parent DEFAULT VALUES RETURNING "
                            "id",
                      NULL, 0, NULL));
    tu_ok(dbconn_exec(f->s, "INSERT INTO drv_child (parent_id) VALUES (1)",
                      NULL, 0, NULL));
    assert_int_equal(q_int(f->s, "SELECT count(*) FROM drv_child WHERE NOT "
                                 "flag AND weight = 1.5 AND at <= now()"),
                     1);
    tu_ok(dbconn_commit(f->s));
    tu_ok(dbconn_close(f->db, NULL)); /* unbinds b */
    f->db = NULL;
    tu_ok(dbconn_base_free(b));
    tu_ok(dbconn_open(&f->db, tu_pg_url(), NULL));
    dbconn_session_close(f->s);
    tu_ok(dbconn_session_open(f->db, &f->s));
}

/* A failing statement in the middle: nothing of the schema is left. */
static void test_init_db_is_atomic(void **state) {
    fx *f = *state;
    static const dbconn_column bad_cols[] = {
        {.name = "id", .type = DBCONN_TYPE_INTEGER,
         .flags = DBCONN_PRIMARY_KEY, .offset = 0},
        {.name = "v", .type = DBCONN_TYPE_INTEGER, .default_sql = "nonsense(",
         .offset = 8},
    };
    static const dbconn_model bad = {.table = "drv_t", .columns = bad_cols,
                                     .ncolumns = 2, .struct_size = 16};
    dbconn_base *b;
    tu_ok(dbconn_base_new(&b));
    tu_ok(dbconn_base_add(b, &parent_model));
    tu_ok(dbconn_base_add(b, &bad));
    assert_int_equal(dbconn_init_db(f->db, b), DBCONN_EDB);
    assert_msg_has("drv_t");
    assert_string_equal(dbconn_sqlstate(NULL), "42601");
    assert_int_equal(q_int(f->s, "SELECT count(*) FROM pg_class WHERE relname "
                                 "IN ('drv_parent', 'drv_t')"),
                     0);
    tu_ok(dbconn_commit(f->s));
    tu_ok(dbconn_base_free(b));
}

static void test_transactions_scripts_savepoints(void **state) {
    fx *f = *state;
    tu_ok(dbconn_begin(f->s, DBCONN_BEGIN_IMMEDIATE));
    tu_ok(dbconn_exec_script(f->s, "CREATE TABLE drv_t (x int); INSERT INTO "
                                   "drv_t VALUES (1), (2)"));
    tu_ok(dbconn_savepoint(f->s, "sp1"));
    tu_ok(dbconn_exec(f->s, "INSERT INTO drv_t VALUES (3)", NULL, 0, NULL));
    tu_ok(dbconn_savepoint_rollback(f->s, "sp1"));
    tu_ok(dbconn_commit(f->s));
    assert_int_equal(q_int(f->s, "SELECT sum(x) FROM drv_t"), 3);
    tu_ok(dbconn_commit(f->s));
    tu_ok(dbconn_begin(f->s, DBCONN_BEGIN_EXCLUSIVE));
    assert_int_equal(dbconn_exec_script(f->s, "INSERT INTO drv_t VALUES (4); "
                                              "SELECT 1/0"),
                     DBCONN_EDB);
    assert_int_equal(dbconn_exec(f->s, "SELECT 1", NULL, 0, NULL),
                     DBCONN_EABORTED);
    tu_ok(dbconn_rollback(f->s));
    assert_int_equal(q_int(f->s, "SELECT count(*) FROM drv_t"), 2);
    assert_int_equal(dbconn_exec(f->s, "COPY drv_t FROM STDIN", NULL, 0, NULL),
                     DBCONN_EINVAL);
    tu_ok(dbconn_rollback(f->s));
    assert_int_equal(dbconn_exec(f->s, "COPY drv_t TO STDOUT", NULL, 0, NULL),
                     DBCONN_EINVAL);
    tu_ok(dbconn_rollback(f->s));
    assert_int_equal(q_int(f->s, "SELECT count(*) FROM drv_t"), 2);
    tu_ok(dbconn_commit(f->s));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_dialect_names_and_aliases),
        T(test_tcp_password_decoded_and_never_shown),
        T(test_hosts_ports_and_ipv6),
        T(test_options_refused),
        T(test_options_applied),
        T(test_autocommit_isolation),
        T(test_placeholders_in_context),
        T(test_sqlstate_mapping),
        T(test_statement_timeout),
        T(test_cancel_is_interrupted),
        T(test_lock_timeout_is_busy),
        T(test_serialization_failure_is_busy),
        T(test_deadlock_is_busy),
        T(test_connection_lost_then_fresh),
        T(test_result_types),
        T(test_parameter_types),
        T(test_counts_and_last_insert_id),
        T(test_streaming),
        T(test_server_side_statement_cache),
        T(test_stale_plan_after_alter),
        T(test_ddl_and_init_db),
        T(test_init_db_is_atomic),
        T(test_transactions_scripts_savepoints),
    };
    (void)tu_pg_url(); /* skips the whole program without a server */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
