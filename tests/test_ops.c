/* Operations (issue 17): "did you mean" for unknown URL keys, pragmas on
 * every pooled connection, logging_name in every log line, and init_db of
 * a base whose tables all exist without the write lock.  Runs on tu_url():
 * sqlite:// by default, and on the PostgreSQL test server as
 * test_ops_postgres (tests/CMakeLists.txt, DBCONN_BOTH_ENGINES).  Tables
 * are named ops_* and dropped first: the server keeps them. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

/* tu_url() with `query` ("k=v&...") added to its query. */
static const char *url_with(const char *query) {
    static char buf[8][1024];
    static int slot;
    char *b = buf[slot++ % 8];
    const char *u = tu_url();
    (void)snprintf(b, sizeof buf[0], "%s%c%s", u, strchr(u, '?') ? '&' : '?',
                   query);
    return b;
}

/* dbconn_open(url) fails with code and a message holding want. */
static void open_fails(const char *url, int code, const char *want) {
    dbconn *db = (dbconn *)1;
    int rc = dbconn_open(&db, url, NULL);
    const char *msg = dbconn_errmsg(NULL);
    if (rc != code || !strstr(msg, want))
        fail_msg("%s: got %s \"%s\", expected %s with \"%s\"", url,
                 dbconn_err_name(rc), msg, dbconn_err_name(code), want);
    assert_null(db);
}

/* ---- did you mean ---------------------------------------------------------- */

static void test_url_key_did_you_mean(void **state) {
    (void)state;
    /* an engine option misspelt in the URL: the driver's message suggests
     * it, on every engine */
    open_fails(url_with("pool_sise=3"), DBCONN_EOPTION,
               "unknown option \"pool_sise\" (did you mean \"pool_size\"?)");
    open_fails(url_with("Pool_Timeout=3"), DBCONN_EOPTION,
               "(did you mean \"pool_timeout\"?)");
    /* a value of a fixed set, from the URL */
    open_fails(url_with("isolation_level=serialisable"), DBCONN_EOPTION,
               "(did you mean \"SERIALIZABLE\"?)");
    /* and the driver's own keys */
    if (tu_is_sqlite())
        open_fails(url_with("mdoe=ro"), DBCONN_EOPTION,
                   "(did you mean \"mode\"?)");
    else
        open_fails(url_with("sslmdoe=disable"), DBCONN_EOPTION,
                   "(did you mean \"sslmode\"?)");
    /* nothing near: no suggestion */
    dbconn *db;
    assert_int_equal(dbconn_open(&db, url_with("frobnicate=1"), NULL),
                     DBCONN_EOPTION);
    assert_null(strstr(dbconn_errmsg(NULL), "did you mean"));
}


/* ---- pragmas --------------------------------------------------------------- */

/* The first column of the first row of `sql` on s. */
static int64_t one_int(dbconn_session *s, const char *sql) {
    dbconn_result *r;
    tu_ok(dbconn_exec(s, sql, NULL, 0, &r));
    assert_int_equal(dbconn_result_nrows(r), 1);
    int64_t v = dbconn_result_int(r, 0, 0);
    dbconn_result_free(r);
    return v;
}

/* Two sessions in transactions at once hold two pooled connections: each
 * must show the pragmas. */
static void check_two_connections(dbconn *db, int64_t cache, int64_t temp,
                                  int64_t recursive) {
    dbconn_session *a, *b;
    tu_ok(dbconn_session_open(db, &a));
    tu_ok(dbconn_session_open(db, &b));
    tu_ok(dbconn_begin(a, DBCONN_BEGIN_DEFERRED));
    tu_ok(dbconn_begin(b, DBCONN_BEGIN_DEFERRED));
    assert_int_equal(one_int(a, "SELECT 1"), 1); /* checked out now */
    assert_int_equal(one_int(b, "SELECT 1"), 1);
    dbconn_stats st;
    tu_ok(dbconn_pool_stats(db, &st));
    assert_true(st.checked_out >= 2);
    dbconn_session *both[] = {a, b};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(one_int(both[i], "PRAGMA cache_size"), cache);
        assert_int_equal(one_int(both[i], "PRAGMA temp_store"), temp);
        assert_int_equal(one_int(both[i], "PRAGMA recursive_triggers"),
                         recursive);
    }
    dbconn_session_close(a);
    dbconn_session_close(b);
}

static void test_pragmas_on_every_connection(void **state) {
    (void)state;
    dbconn_options o = {0};
    tu_ok(dbconn_options_set(&o, "pragma.cache_size", "-20000"));
    tu_ok(dbconn_options_set(&o, "pragma.temp_store", "MEMORY"));
    assert_string_equal(o.pragmas, "cache_size=-20000;temp_store=MEMORY");
    if (!tu_is_sqlite()) {
        /* no pragmas on postgresql: refused, naming the key and driver */
        dbconn *db = (dbconn *)1;
        assert_int_equal(dbconn_open(&db, tu_url(), &o), DBCONN_EOPTION);
        assert_null(db);
        const char *msg = dbconn_errmsg(NULL);
        assert_non_null(strstr(msg, "\"pragma.cache_size\""));
        assert_non_null(strstr(msg, "postgresql"));
        open_fails(url_with("pragma.mmap_size=0"), DBCONN_EOPTION,
                   "option \"pragma.mmap_size\" does not apply to postgresql");
        dbconn_options_clear(&o);
        return;
    }
    const char *dir = tu_tmpdir();
    char url[1200];
    /* a file (WAL: the anchor connection too) and memdb; the URL's
     * pragma.NAME keys add to the struct's */
    const char *urls[] = {tu_file_url(dir, "p.db"), "sqlite://"};
    for (int i = 0; i < 2; i++) {
        dbconn *db;
        (void)snprintf(url, sizeof url, "%s?pragma.recursive_triggers=on",
                       urls[i]);
        tu_ok(dbconn_open(&db, url, &o));
        check_two_connections(db, -20000, 2, 1);
        tu_ok(dbconn_close(db, NULL));
    }
    /* the URL's value of a pragma wins over the struct's (last wins) */
    dbconn *db;
    (void)snprintf(url, sizeof url, "%s?pragma.cache_size=-30000", urls[0]);
    tu_ok(dbconn_open(&db, url, &o));
    check_two_connections(db, -30000, 2, 0);
    tu_ok(dbconn_close(db, NULL));
    dbconn_options_clear(&o);
    /* the struct's list, spaces and empty entries allowed */
    o.pragmas = " cache_size = -100 ; temp_store=file;;recursive_triggers=1;";
    tu_ok(dbconn_open(&db, urls[1], &o));
    check_two_connections(db, -100, 1, 1);
    tu_ok(dbconn_close(db, NULL));
    tu_rmdir(dir);
}

typedef struct bad_pragma {
    const char *query;  /* URL query */
    const char *msg;    /* in the message (sqlite) */
} bad_pragma;

static void test_pragma_refusals(void **state) {
    (void)state;
    static const bad_pragma cases[] = {
        /* the ones the library manages name its option */
        {"pragma.journal_mode=wal", "use the journal_mode option"},
        {"pragma.synchronous=off", "use the synchronous option"},
        {"pragma.foreign_keys=off", "use the foreign_keys option"},
        {"pragma.busy_timeout=10", "use the busy_timeout_ms option"},
        {"pragma.locking_mode=exclusive", "managed by the library"},
        {"pragma.read_uncommitted=1", "isolation_level"},
        {"pragma.page_size=8192", "property of the database file"},
        {"pragma.soft_heap_limit=1000", "process-wide"},
        {"pragma.writable_schema=1", "corrupt"},
        /* unknown: the nearest allowed one */
        {"pragma.cache_sise=10", "(did you mean \"pragma.cache_size\"?)"},
        {"pragma.frobnicate=1", "allowed: analysis_limit"},
        /* values: what the pragma takes, never pasted */
        {"pragma.cache_size=big", "expected an integer"},
        {"pragma.cache_size=99999999999", "expected an integer"},
        {"pragma.mmap_size=-1", "expected an integer"},
        {"pragma.mmap_size=99999999999999999999", "expected an integer"},
        {"pragma.temp_store=disk", "default, file, memory or 0..2"},
        {"pragma.temp_store=3", "default, file, memory or 0..2"},
        {"pragma.automatic_index=2", "a boolean"},
        /* what the engine refuses for every driver */
        {"pragma.cache_size=1%3BDROP+TABLE+t", "expected an integer or a "
                                                "keyword"},
        {"pragma.cache_size='1'", "expected an integer or a keyword"},
        {"pragma.cache_size=", "expected an integer or a keyword"},
        {"pragma.=1", "invalid pragma name"},
        {"pragma.cache%20size=1", "invalid pragma name"},
        {"pragmas=cache_size%3D1", "set each pragma as \"pragma.NAME\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        dbconn *db = (dbconn *)1;
        const char *url = url_with(cases[i].query);
        int rc = dbconn_open(&db, url, NULL);
        const char *msg = dbconn_errmsg(NULL);
        char key[128];
        (void)snprintf(key, sizeof key, "\"%.*s", (int)strcspn(
                           cases[i].query, "="), cases[i].query);
        if (strstr(key, "%20"))
            strcpy(key, "pragma.cache");
        if (rc != DBCONN_EOPTION || !strstr(msg, key))
            fail_msg("%s: %s: %s (expected EOPTION naming %s)", url,
                     dbconn_err_name(rc), msg, key);
        /* sqlite's reasons; postgresql refuses every pragma (after the
         * engine's own checks) */
        if ((tu_is_sqlite() || strstr(cases[i].msg, "expected an integer or")
             || strstr(cases[i].msg, "pragma name") ||
             strstr(cases[i].msg, "pragma.NAME")) &&
            !strstr(msg, cases[i].msg))
            fail_msg("%s: message lacks \"%s\": %s", url, cases[i].msg, msg);
        if (!tu_is_sqlite() && !strstr(cases[i].msg, "expected an integer or")
            && !strstr(cases[i].msg, "pragma name") &&
            !strstr(cases[i].msg, "pragma.NAME") &&
            !strstr(msg, "does not apply to postgresql"))
            fail_msg("%s: %s", url, msg);
        assert_null(db);
    }
    /* by name: the same checks of name and value; a failed set changes
     * nothing */
    dbconn_options o = {0}, zero = {0};
    assert_int_equal(dbconn_options_set(&o, "pragma.cache_size", "1 OR 1"),
                     DBCONN_EOPTION);
    assert_non_null(strstr(dbconn_errmsg(NULL), "\"pragma.cache_size\""));
    assert_int_equal(dbconn_options_set(&o, "pragma.x;y", "1"),
                     DBCONN_EOPTION);
    assert_int_equal(dbconn_options_set(&o, "pragma.", "1"), DBCONN_EOPTION);
    assert_memory_equal(&o, &zero, sizeof o);
    /* the struct's list: name=value entries */
    o.pragmas = "cache_size";
    assert_int_equal(dbconn_open(&(dbconn *){NULL}, tu_url(), &o),
                     DBCONN_EOPTION);
    assert_non_null(strstr(dbconn_errmsg(NULL), "is not name=value"));
    o.pragmas = "cache_size=1;temp_store=x y";
    assert_int_equal(dbconn_open(&(dbconn *){NULL}, tu_url(), &o),
                     DBCONN_EOPTION);
    assert_non_null(strstr(dbconn_errmsg(NULL), "\"pragma.temp_store\""));
}

/* The password of the URL never shows in a pragma's message. */
static void test_pragma_message_hides_password(void **state) {
    (void)state;
    dbconn_url *u;
    tu_ok(dbconn_url_parse(&u, tu_url()));
    const char *pw = dbconn_url_password(u);
    char url[1024];
    if (tu_is_sqlite())
        (void)snprintf(url, sizeof url, "%s", "sqlite://user:s3cr3t@/"
                       "?pragma.journal_mode=wal");
    else
        (void)snprintf(url, sizeof url, "%s", url_with("pragma.cache_size=1"));
    dbconn *db;
    assert_int_equal(dbconn_open(&db, url, NULL),
                     tu_is_sqlite() ? DBCONN_EURL : DBCONN_EOPTION);
    const char *msg = dbconn_errmsg(NULL);
    assert_null(strstr(msg, "s3cr3t"));
    if (pw && *pw)
        assert_null(strstr(msg, pw));
    dbconn_url_free(u);
}

static void test_options_clear(void **state) {
    (void)state;
    dbconn_options o = {0};
    char value[32];
    strcpy(value, "app");
    tu_ok(dbconn_options_set(&o, "logging_name", value));
    strcpy(value, "XXX"); /* the caller's buffer is not kept */
    assert_string_equal(o.logging_name, "app");
    tu_ok(dbconn_options_set(&o, "logging_name", "app2")); /* replaces */
    assert_string_equal(o.logging_name, "app2");
    o.pragmas = "threads=2"; /* the caller's own: kept, then copied */
    tu_ok(dbconn_options_set(&o, "pragma.cache_size", "-20000"));
    tu_ok(dbconn_options_set(&o, "pragma.mmap_size", "268435456"));
    assert_string_equal(o.pragmas,
                        "threads=2;cache_size=-20000;mmap_size=268435456");
    assert_non_null(o.owned);
    o.pool_size = 3;
    dbconn_options_clear(&o);
    dbconn_options zero = {0};
    assert_memory_equal(&o, &zero, sizeof o);
    dbconn_options_clear(&o); /* twice: nothing left */
    dbconn_options_clear(NULL);
    /* owned cannot be set by name, and the struct must not carry a
     * pointer there the library did not make -- only NULL or its own */
    assert_int_equal(dbconn_options_set(&o, "owned", "1"), DBCONN_EOPTION);
}

/* ---- logging_name ---------------------------------------------------------- */

typedef struct lines {
    int n, bad;
    char first_bad[256];
} lines;

static void count_line(void *data, int level, const char *line) {
    (void)level;
    lines *l = data;
    const char *want = getenv("OPS_PREFIX");
    l->n++;
    if (strncmp(line, want, strlen(want)) != 0 && l->bad++ == 0)
        (void)snprintf(l->first_bad, sizeof l->first_bad, "%s", line);
}

static void some_work(dbconn *db) {
    dbconn_session *s;
    tu_ok(dbconn_session_open(db, &s));
    assert_int_equal(one_int(s, "SELECT 1"), 1);
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    /* a scoped session left open: close's WARN line */
    tu_ok(dbconn_scoped_session(db, &s));
    assert_int_equal(one_int(s, "SELECT 2"), 2);
}

static void test_logging_name_in_every_line(void **state) {
    (void)state;
    lines l = {0};
    dbconn_options o = {.echo = 2, .log = count_line, .log_data = &l};
    tu_ok(dbconn_options_set(&o, "logging_name", "app-1"));
    setenv("OPS_PREFIX", "[app-1] ", 1);
    dbconn *db;
    tu_ok(dbconn_open(&db, tu_url(), &o));
    some_work(db);
    tu_ok(dbconn_close(db, NULL));
    if (l.bad)
        fail_msg("%d of %d lines lack the name, e.g. \"%s\"", l.bad, l.n,
                 l.first_bad);
    assert_true(l.n >= 8);
    /* the URL's value wins */
    l = (lines){0};
    setenv("OPS_PREFIX", "[from.url] ", 1);
    tu_ok(dbconn_open(&db, url_with("logging_name=from.url"), &o));
    some_work(db);
    tu_ok(dbconn_close(db, NULL));
    assert_int_equal(l.bad, 0);
    assert_true(l.n >= 8);
    dbconn_options_clear(&o);
    /* without one, lines are as they always were */
    l = (lines){0};
    setenv("OPS_PREFIX", "BEGIN", 1);
    o = (dbconn_options){.echo = 1, .log = count_line, .log_data = &l};
    tu_ok(dbconn_open(&db, tu_url(), &o));
    some_work(db);
    tu_ok(dbconn_close(db, NULL));
    assert_string_equal(l.first_bad, "SELECT 1"); /* the 2nd line */
    unsetenv("OPS_PREFIX");
}

/* The default sink: the logger name becomes dbconn.engine.<name>. */
static void test_logging_name_on_stderr(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    char path[1100], buf[8192];
    (void)snprintf(path, sizeof path, "%s/stderr.txt", dir);
    dbconn_options o = {.echo = 1, .logging_name = "svc"};
    fflush(stderr);
    int saved = dup(2), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    assert_true(dup2(fd, 2) == 2);
    dbconn *db;
    int rc = dbconn_open(&db, tu_url(), &o);
    if (rc == 0) {
        some_work(db);
        rc = dbconn_close(db, NULL);
    }
    fflush(stderr);
    assert_true(dup2(saved, 2) == 2);
    close(saved);
    close(fd);
    tu_ok(rc);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int n = 0;
    while (fgets(buf, sizeof buf, f)) {
        n++;
        if (strncmp(buf, "dbconn.engine.svc INFO ", 23) != 0 &&
            strncmp(buf, "dbconn.engine.svc WARNING ", 26) != 0)
            fail_msg("line %d: %s", n, buf);
    }
    fclose(f);
    assert_true(n >= 6);
    tu_rmdir(dir);
}

static void test_logging_name_validated(void **state) {
    (void)state;
    /* 65 characters: one too many */
    static const char too_long[] = "x2345678901234567890123456789012"
                                   "345678901234567890123456789012345";
    static const char *const bad[] = {"", "two words", "tab\there",
                                      "caf\xC3\xA9", too_long};
    assert_int_equal(strlen(too_long), 65);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        dbconn_options o = {0}, zero = {0};
        int rc = dbconn_options_set(&o, "logging_name", bad[i]);
        if (rc != DBCONN_EOPTION ||
            !strstr(dbconn_errmsg(NULL), "logging_name"))
            fail_msg("\"%s\": %s: %s", bad[i], dbconn_err_name(rc),
                     dbconn_errmsg(NULL));
        assert_memory_equal(&o, &zero, sizeof o);
        /* in the struct, checked at open */
        o.logging_name = bad[i];
        dbconn *db = (dbconn *)1;
        assert_int_equal(dbconn_open(&db, tu_url(), &o), DBCONN_EOPTION);
        assert_non_null(strstr(dbconn_errmsg(NULL),
                               "dbconn_options.logging_name"));
        assert_null(db);
    }
    /* 64 characters are fine */
    dbconn_options o = {0};
    static const char longest[] = "x2345678901234567890123456789012"
                                  "34567890123456789012345678901234";
    assert_int_equal(strlen(longest), 64);
    tu_ok(dbconn_options_set(&o, "logging_name", longest));
    dbconn_options_clear(&o);
    open_fails(url_with("logging_name=a+b"), DBCONN_EOPTION,
               "\"logging_name\"");
    open_fails(url_with("loging_name=a"), DBCONN_EOPTION,
               "(did you mean \"logging_name\"?)");
}

/* ---- init_db of a complete schema ---------------------------------------- */

typedef struct ops_row {
    int64_t id;
    char *name;
} ops_row;

static const dbconn_column ops_columns[] = {
    {.name = "id", .type = DBCONN_TYPE_INTEGER, .flags = DBCONN_PRIMARY_KEY,
     .offset = offsetof(ops_row, id)},
    {.name = "name", .type = DBCONN_TYPE_TEXT, .flags = DBCONN_INDEXED,
     .offset = offsetof(ops_row, name)},
};
static const dbconn_model ops_a = {.table = "ops_a", .columns = ops_columns,
                                   .ncolumns = 2,
                                   .struct_size = sizeof(ops_row)};
static const dbconn_model ops_b = {.table = "ops_b", .columns = ops_columns,
                                   .ncolumns = 2,
                                   .struct_size = sizeof(ops_row)};

static void run(dbconn *db, const char *sql) {
    dbconn_session *s;
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, sql, NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
}

static void drop_ops(dbconn *db) {
    run(db, "DROP TABLE IF EXISTS ops_a");
    run(db, "DROP TABLE IF EXISTS ops_b");
    run(db, "DROP TABLE IF EXISTS ops_other");
}

/* Another session of the same engine is in the middle of a write (on
 * sqlite it holds the write gate and the file's write lock): init_db of a
 * base whose tables exist returns at once, without waiting for either. */
static void test_init_db_complete_schema_takes_no_write_lock(void **state) {
    (void)state;
    dbconn *db;
    dbconn_options o = {.busy_timeout_ms = 3000, .pool_timeout_ms = 3000};
    /* a file: an in-memory database has no WAL, so there a writer keeps
     * every reader out (init_db then fails like any reader would) */
    const char *dir = tu_is_sqlite() ? tu_tmpdir() : NULL;
    tu_ok(dbconn_open(&db, dir ? tu_file_url(dir, "w.db") : tu_url(), &o));
    drop_ops(db);
    run(db, "CREATE TABLE ops_other (x INTEGER)");
    dbconn_base *b;
    tu_ok(dbconn_base_new(&b));
    tu_ok(dbconn_base_add(b, &ops_a));
    tu_ok(dbconn_init_db(db, b));
    dbconn_session *w;
    tu_ok(dbconn_session_open(db, &w));
    tu_ok(dbconn_exec(w, "INSERT INTO ops_other VALUES (1)", NULL, 0, NULL));
    dbconn_stats before, after;
    tu_ok(dbconn_pool_stats(db, &before));
    /* the write path would wait busy_timeout_ms for the gate and fail: a
     * success and no gate wait prove the look was all */
    tu_ok(dbconn_init_db(db, b));
    tu_ok(dbconn_init_db(db, b)); /* idempotent */
    tu_ok(dbconn_pool_stats(db, &after));
    assert_int_equal(after.gate_waits, before.gate_waits);
    assert_int_equal(after.busy_handler_calls, before.busy_handler_calls);
    tu_ok(dbconn_commit(w));
    dbconn_session_close(w);
    /* a model added later: created, in the one write transaction */
    tu_ok(dbconn_base_add(b, &ops_b));
    tu_ok(dbconn_init_db(db, b));
    tu_ok(dbconn_init_db(db, b));
    assert_int_equal(tu_count_rows(db, "ops_b", NULL), 0);
    dbconn_session *s;
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, "INSERT INTO ops_b (name) VALUES ('x')", NULL, 0,
                      NULL));
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    tu_ok(dbconn_init_db(db, b)); /* keeps the rows */
    assert_int_equal(tu_count_rows(db, "ops_b", NULL), 1);
    drop_ops(db);
    tu_ok(dbconn_close(db, NULL));
    tu_ok(dbconn_base_free(b));
    if (dir)
        tu_rmdir(dir);
}

/* The async form: the same look first, on the thread pool. */
static void test_init_db_async_complete_schema(void **state) {
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    const char *dir = tu_is_sqlite() ? tu_tmpdir() : NULL;
    dbconn_options o = {.busy_timeout_ms = 3000, .pool_timeout_ms = 3000,
                        .loop = &loop};
    dbconn *db;
    tu_ok(dbconn_open(&db, dir ? tu_file_url(dir, "a.db") : tu_url(), &o));
    drop_ops(db);
    run(db, "CREATE TABLE ops_other (x INTEGER)");
    dbconn_base *b;
    tu_ok(dbconn_base_new(&b));
    tu_ok(dbconn_base_add(b, &ops_a));
    tu_rec rec = {0};
    tu_ok(dbconn_init_db_async(db, b, tu_on_done, &rec));
    while (rec.calls == 0)
        uv_run(&loop, UV_RUN_ONCE);
    tu_ok(rec.status);
    assert_true(dbconn_base_bound(b) == db);
    /* another session mid-write: the complete base is bound at once */
    dbconn_session *w;
    tu_ok(dbconn_session_open(db, &w));
    tu_ok(dbconn_exec(w, "INSERT INTO ops_other VALUES (1)", NULL, 0, NULL));
    dbconn_stats before, after;
    tu_ok(dbconn_pool_stats(db, &before));
    rec = (tu_rec){0};
    tu_ok(dbconn_init_db_async(db, b, tu_on_done, &rec));
    while (rec.calls == 0)
        uv_run(&loop, UV_RUN_ONCE);
    tu_ok(rec.status);
    tu_ok(dbconn_pool_stats(db, &after));
    assert_int_equal(after.gate_waits, before.gate_waits);
    assert_int_equal(after.busy_handler_calls, before.busy_handler_calls);
    tu_ok(dbconn_commit(w));
    dbconn_session_close(w);
    /* a missing table: the write transaction follows the look */
    tu_ok(dbconn_base_add(b, &ops_b));
    rec = (tu_rec){0};
    tu_ok(dbconn_init_db_async(db, b, tu_on_done, &rec));
    while (rec.calls == 0)
        uv_run(&loop, UV_RUN_ONCE);
    tu_ok(rec.status);
    assert_int_equal(rec.calls, 1);
    assert_int_equal(tu_count_rows(db, "ops_b", NULL), 0);
    /* closing with the look queued: the callback gets DBCONN_ECANCELED
     * or its result, once */
    rec = (tu_rec){0};
    tu_ok(dbconn_init_db_async(db, b, tu_on_done, &rec));
    drop_ops(db);
    tu_ok(dbconn_close(db, NULL));
    while (uv_run(&loop, UV_RUN_ONCE))
        ;
    assert_int_equal(rec.calls, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
    tu_ok(dbconn_base_free(b));
    if (dir)
        tu_rmdir(dir);
}

/* sqlite: another process holds the file's write lock.  init_db of the
 * complete base succeeds at once and meets no busy handler; one with a
 * table missing must write, so it waits and fails with DBCONN_EBUSY. */
static void test_init_db_while_another_process_writes(void **state) {
    (void)state;
    if (!tu_is_sqlite())
        skip();
    const char *dir = tu_tmpdir();
    const char *url = tu_file_url(dir, "i.db");
    char path[1100];
    (void)snprintf(path, sizeof path, "%s/i.db", dir);
    dbconn_base *b;
    tu_ok(dbconn_base_new(&b));
    tu_ok(dbconn_base_add(b, &ops_a));
    dbconn *db;
    tu_ok(dbconn_open(&db, url, NULL));
    run(db, "CREATE TABLE ops_other (x INTEGER)");
    tu_ok(dbconn_init_db(db, b));
    tu_ok(dbconn_close(db, b));
    int fd;
    long long seen;
    pid_t pid = tu_hold_in_child(path, "INSERT INTO ops_other VALUES (1)",
                                 &fd, &seen);
    dbconn_options o = {.busy_timeout_ms = 300};
    tu_ok(dbconn_open(&db, url, &o));
    /* a write would meet the busy handler and fail after 300 ms */
    dbconn_stats st;
    tu_ok(dbconn_init_db(db, b));
    tu_ok(dbconn_pool_stats(db, &st));
    assert_int_equal(st.busy_handler_calls, 0);
    /* something missing: the write transaction, which must wait */
    tu_ok(dbconn_base_add(b, &ops_b));
    assert_int_equal(dbconn_init_db(db, b), DBCONN_EBUSY);
    tu_release_child(pid, fd);
    tu_ok(dbconn_init_db(db, b));
    assert_int_equal(tu_count_rows(db, "ops_b", NULL), 0);
    tu_ok(dbconn_close(db, b));
    tu_ok(dbconn_base_free(b));
    tu_rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        /* first: it forks, before anything may have started a thread */
        cmocka_unit_test(test_init_db_while_another_process_writes),
        cmocka_unit_test(test_url_key_did_you_mean),
        cmocka_unit_test(test_pragmas_on_every_connection),
        cmocka_unit_test(test_pragma_refusals),
        cmocka_unit_test(test_pragma_message_hides_password),
        cmocka_unit_test(test_options_clear),
        cmocka_unit_test(test_logging_name_in_every_line),
        cmocka_unit_test(test_logging_name_on_stderr),
        cmocka_unit_test(test_logging_name_validated),
        cmocka_unit_test(test_init_db_complete_schema_takes_no_write_lock),
        cmocka_unit_test(test_init_db_async_complete_schema),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
