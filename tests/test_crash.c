/* Crash safety: a writer process is SIGKILLed at random points and the
 * database it leaves behind is checked: on SQLite with raw SQLite, on a
 * server (tu_url() a PostgreSQL URL) through a connection of this process
 * once the killed client's backend has gone.
 *
 *   - integrity_check says "ok" (SQLite: the file);
 *   - every transaction the writer reported committed is there, whole
 *     (committed data is never lost);
 *   - no transaction is there in part;
 *   - nothing newer than the last acknowledged transaction + 1 (the one
 *     that may have committed before its acknowledgement was written).
 *
 * Modes: the synchronous API (WAL, the default, and a rollback journal);
 * dbconn_init_db of a base with several tables and indexes (the schema is
 * all or nothing: every table and index exists, or none); and the async
 * API, whose child runs a libuv loop.
 *
 * On a server the killed process is the CLIENT: the sync and async writers
 * and init_db run there too (an open transaction of a killed client is the
 * server's to roll back; a COMMIT in flight may land, hence "+ 1").  What
 * stays SQLite-only: the rollback-journal variant (journal_mode is
 * SQLite's file format; a server refuses the option) and integrity_check
 * of a file (the server's storage is not the client's to damage: a killed
 * client writes no file).  The WAL variants run on a server as the plain
 * sync and async writers.
 *
 * Each test forks at its start: this process never starts a thread (the
 * async child's libuv thread pool lives in the child), so fork is safe.
 * Children never return into CMocka: they report through the pipe and
 * _exit.  The random points come from a fixed seed, so a failure names a
 * round that can be rerun. */
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define ROWS_PER_TX 5
#define ROUNDS 24

/* ---- shared helpers -------------------------------------------------------- */

static uint64_t rng_state = 0x5eed2024dbc0ffeeULL;

static uint64_t rnd(void) { /* xorshift64*: fixed seed, same points each run */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static uint64_t rnd_below(uint64_t n) { return n ? rnd() % n : 0; }

static void sleep_us(uint64_t us) {
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Messages through the pipe: a positive number is an acknowledgement, a
 * negative one is a dbconn error code (the child wrote the message to
 * stderr and exits). */
static void child_send(int fd, int64_t v) {
    if (write(fd, &v, sizeof v) != (ssize_t)sizeof v)
        _exit(90);
}

static void child_die(int fd, const char *what, int rc) {
    fprintf(stderr, "crash child: %s: %s: %s\n", what, dbconn_err_name(rc),
            dbconn_errmsg(NULL));
    child_send(fd, rc < 0 ? rc : -1000);
    _exit(91);
}

/* Reads one message; 0 at EOF (the child is gone). */
static int parent_recv(int fd, int64_t *v) {
    size_t got = 0;
    while (got < sizeof *v) {
        ssize_t n = read(fd, (char *)v + got, sizeof *v - got);
        if (n == 0)
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        assert_true(n > 0);
        got += (size_t)n;
    }
    if (*v < 0)
        fail_msg("the child failed with %s (its message is on stderr)",
                 dbconn_err_name((int)*v));
    return 1;
}

/* SIGKILLs the child (it may have exited on its own already: `done_ok`
 * says whether that is allowed), reaps it and drains the pipe; returns the
 * last acknowledgement seen (or `last` if none came). */
static int64_t kill_and_drain(pid_t pid, int fd, int64_t last, bool done_ok) {
    kill(pid, SIGKILL);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        assert_int_equal(errno, EINTR);
    int64_t v;
    while (parent_recv(fd, &v))
        last = v;
    close(fd);
    if (WIFEXITED(status)) {
        if (!done_ok || WEXITSTATUS(status) != 0)
            fail_msg("the child exited with status %d before it was killed",
                     WEXITSTATUS(status));
    } else {
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGKILL);
    }
    return last;
}

static void path_in(char *buf, size_t n, const char *dir, const char *name) {
    snprintf(buf, n, "%s/%s", dir, name);
}

static void remove_db(const char *path) {
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    char p[4300];
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
    }
}

/* Opens the file the way a recovering application would, checks its
 * integrity and returns the handle. */
static sqlite3 *open_checked(const char *path) {
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, NULL),
                     SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st,
                                        NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    return h;
}

static int64_t scalar(sqlite3 *h, const char *sql) {
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* ---- the writer (sync and async) ----------------------------------------- */

/* Row k of transaction txn carries a payload of a length and content that
 * follow from (txn, k), 100 bytes to 6 KB: transactions span several pages,
 * the WAL grows past its checkpoint threshold, commits take a while. */
static size_t payload(int64_t txn, int k, char *buf, size_t cap) {
    size_t len = 100 + (size_t)((txn * 7919 + k * 104729) % 6000);
    if (len >= cap)
        len = cap - 1;
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)('a' + (size_t)(txn + k + (int64_t)i) % 26);
    buf[len] = '\0';
    return len;
}

#define CREATE_T                                                                \
    "CREATE TABLE IF NOT EXISTS t (txn INTEGER NOT NULL, k INTEGER NOT NULL, " \
    "payload TEXT NOT NULL, PRIMARY KEY (txn, k))"
#define INSERT_T "INSERT INTO t (txn, k, payload) VALUES (?, ?, ?)"

/* Kills itself at the COMMIT of transaction `die_at` (0 = never): a kill at
 * a known point, between the last statement and the commit. */
typedef struct writer_log {
    int64_t cur, die_at;
} writer_log;

static void writer_log_fn(void *data, int level, const char *line) {
    (void)level;
    writer_log *w = data;
    if (w->die_at && w->cur == w->die_at && strcmp(line, "COMMIT") == 0)
        raise(SIGKILL);
}

static void child_sync_writer(const char *url, const char *journal,
                              int64_t next, int64_t die_at, int fd) {
    static char buf[8192];
    writer_log wl = {0, die_at};
    dbconn_options o = {.journal_mode = journal, .echo = die_at ? 1 : 0,
                        .log = writer_log_fn, .log_data = &wl};
    dbconn *db;
    dbconn_session *s;
    int rc = dbconn_open(&db, url, &o);
    if (rc)
        child_die(fd, "dbconn_open", rc);
    if ((rc = dbconn_session_open(db, &s)) ||
        (rc = dbconn_exec(s, CREATE_T, NULL, 0, NULL)) ||
        (rc = dbconn_commit(s)))
        child_die(fd, "create", rc);
    for (int64_t txn = next;; txn++) {
        wl.cur = txn;
        for (int k = 0; k < ROWS_PER_TX; k++) {
            size_t n = payload(txn, k, buf, sizeof buf);
            rc = dbconn_exec(s, INSERT_T,
                             DBCONN_PARAMS(DBCONN_INT(txn), DBCONN_INT(k),
                                           DBCONN_TEXTN(buf, n)),
                             NULL);
            if (rc)
                child_die(fd, "insert", rc);
        }
        if ((rc = dbconn_commit(s)))
            child_die(fd, "commit", rc);
        child_send(fd, txn);
    }
}

/* Verifies the rows of t in (txn, k) order, whichever engine read them. */
typedef struct tx_checker {
    int64_t expect_txn;
    int expect_k;
    const char *what;
    int round;
} tx_checker;

static void tx_row(tx_checker *c, int64_t txn, int k, const char *text,
                   size_t len) {
    char buf[8192];
    if (txn != c->expect_txn || k != c->expect_k)
        fail_msg("%s round %d: found row (%lld, %d) where (%lld, %d) "
                 "belongs: a transaction is missing or partial",
                 c->what, c->round, (long long)txn, k,
                 (long long)c->expect_txn, c->expect_k);
    size_t n = payload(txn, k, buf, sizeof buf);
    if (len != n || memcmp(text, buf, n) != 0)
        fail_msg("%s round %d: row (%lld, %d) has a damaged payload",
                 c->what, c->round, (long long)txn, k);
    if (++c->expect_k == ROWS_PER_TX) {
        c->expect_k = 0;
        c->expect_txn++;
    }
}

static int64_t tx_finish(tx_checker *c, int64_t last_ack) {
    if (c->expect_k != 0)
        fail_msg("%s round %d: transaction %lld has only %d of %d rows",
                 c->what, c->round, (long long)c->expect_txn, c->expect_k,
                 ROWS_PER_TX);
    int64_t max = c->expect_txn - 1;
    if (max < last_ack)
        fail_msg("%s round %d: acknowledged transaction %lld is lost (the "
                 "database ends at %lld)", c->what, c->round,
                 (long long)last_ack, (long long)max);
    if (max > last_ack + 1)
        fail_msg("%s round %d: transaction %lld is there, but the last "
                 "acknowledged one is %lld", c->what, c->round,
                 (long long)max, (long long)last_ack);
    return max;
}

/* ---- on a server ------------------------------------------------------------- */

/* Waits (10 s at most) until no backend of this program but the checker's
 * own is left: a killed client's backend finishes what it had read (a
 * COMMIT in flight may still commit) before it sees the closed socket and
 * ends, and only then is the database final.  The children share the
 * parent's application_name (tu_fresh's PGAPPNAME). */
static void pg_wait_clients_gone(dbconn_session *s) {
    for (int i = 0; i < 1000; i++) {
        dbconn_result *r;
        tu_ok(dbconn_exec(s,
                          "SELECT count(*) FROM pg_stat_activity WHERE "
                          "application_name = current_setting("
                          "'application_name') AND pid <> pg_backend_pid()",
                          NULL, 0, &r));
        int64_t n = dbconn_result_int(r, 0, 0);
        dbconn_result_free(r);
        tu_ok(dbconn_rollback(s));
        if (n == 0)
            return;
        sleep_us(10000);
    }
    fail_msg("a killed client's backend is still there after 10 s");
}

/* Opens a checker connection (the caller closes db) after the clients'
 * backends are gone. */
static dbconn_session *pg_checker(dbconn **db) {
    dbconn_session *s;
    tu_ok(dbconn_open(db, tu_url(), NULL));
    tu_ok(dbconn_session_open(*db, &s));
    pg_wait_clients_gone(s);
    return s;
}

static int64_t pg_scalar(dbconn_session *s, const char *sql) {
    dbconn_result *r;
    tu_ok(dbconn_exec(s, sql, NULL, 0, &r));
    assert_int_equal(dbconn_result_nrows(r), 1);
    int64_t v = dbconn_result_int(r, 0, 0);
    dbconn_result_free(r);
    return v;
}

static int64_t check_transactions_pg(int64_t last_ack, const char *what,
                                     int round) {
    dbconn *db;
    dbconn_session *s = pg_checker(&db);
    tx_checker c = {1, 0, what, round};
    if (pg_scalar(s, "SELECT count(*) FROM pg_tables WHERE schemaname = "
                     "current_schema() AND tablename = 't'") == 0) {
        dbconn_session_close(s);
        assert_int_equal(dbconn_close(db, NULL), 0);
        if (last_ack > 0)
            fail_msg("%s round %d: table t is gone after transaction %lld "
                     "was acknowledged", what, round, (long long)last_ack);
        return 0;
    }
    dbconn_result *r;
    tu_ok(dbconn_exec(s, "SELECT txn, k, payload FROM t ORDER BY txn, k",
                      NULL, 0, &r));
    for (size_t i = 0; i < dbconn_result_nrows(r); i++)
        tx_row(&c, dbconn_result_int(r, i, 0), (int)dbconn_result_int(r, i, 1),
               dbconn_result_text(r, i, 2), dbconn_result_text_len(r, i, 2));
    dbconn_result_free(r);
    dbconn_session_close(s);
    assert_int_equal(dbconn_close(db, NULL), 0);
    return tx_finish(&c, last_ack);
}

/* The transactions in the database: 1..max, each whole and with its own
 * payloads.  Returns max (0 when the table does not exist yet). */
static int64_t check_transactions(const char *path, int64_t last_ack,
                                  const char *what, int round) {
    if (!tu_is_sqlite())
        return check_transactions_pg(last_ack, what, round);
    sqlite3 *h = open_checked(path);
    if (scalar(h, "SELECT count(*) FROM sqlite_master WHERE name = 't'") == 0) {
        sqlite3_close(h);
        if (last_ack > 0)
            fail_msg("%s round %d: table t is gone after transaction %lld "
                     "was acknowledged", what, round, (long long)last_ack);
        return 0;
    }
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(h,
                                        "SELECT txn, k, payload FROM t ORDER "
                                        "BY txn, k",
                                        -1, &st, NULL),
                     SQLITE_OK);
    tx_checker c = {1, 0, what, round};
    while (sqlite3_step(st) == SQLITE_ROW)
        tx_row(&c, sqlite3_column_int64(st, 0), sqlite3_column_int(st, 1),
               (const char *)sqlite3_column_text(st, 2),
               (size_t)sqlite3_column_bytes(st, 2));
    sqlite3_finalize(st);
    sqlite3_close(h);
    return tx_finish(&c, last_ack);
}

typedef void (*writer_fn)(const char *url, const char *journal, int64_t next,
                          int64_t die_at, int fd);

/* ROUNDS rounds on one file: each child continues where the file ends,
 * runs until a random number of acknowledgements and a random delay have
 * passed (or kills itself before a chosen commit), and is killed. */
static void writer_rounds(writer_fn child, const char *journal,
                          const char *what) {
    const char *dir = tu_tmpdir();
    char path[4200];
    path_in(path, sizeof path, dir, "crash.db");
    char url[4300];
    /* On a server: the test's schema (tu_fresh), emptied before the test. */
    snprintf(url, sizeof url, "%s", tu_db_url(dir, "crash.db", NULL));
    int64_t committed = 0; /* transactions in the file: 1..committed */
    int self_kills = 0;
    for (int round = 0; round < ROUNDS; round++) {
        int64_t next = committed + 1;
        /* Every sixth round the child dies just before a COMMIT. */
        int64_t die_at = round % 6 == 5 ? next + (int64_t)rnd_below(4) : 0;
        int64_t acks_wanted = (int64_t)rnd_below(25);
        uint64_t delay_us = rnd_below(4000);
        int p[2];
        assert_int_equal(pipe(p), 0);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            child(url, journal, next, die_at, p[1]);
            _exit(92); /* not reached */
        }
        close(p[1]);
        int64_t last = committed, v;
        bool alive = true;
        if (die_at) {
            while (parent_recv(p[0], &v)) /* until it kills itself */
                last = v;
            alive = false;
            self_kills++;
        } else {
            for (int64_t i = 0; i < acks_wanted; i++) {
                if (!parent_recv(p[0], &v)) {
                    alive = false;
                    break;
                }
                last = v;
            }
            assert_true(alive);
            sleep_us(delay_us);
        }
        last = kill_and_drain(pid, p[0], last, false);
        if (die_at)
            assert_int_equal(last, die_at - 1);
        committed = check_transactions(path, last, what, round);
        if (die_at)
            assert_int_equal(committed, die_at - 1); /* not committed */
    }
    print_message("%s: %d rounds (%d killed before a COMMIT), %lld "
                  "transactions of %d rows survived\n",
                  what, ROUNDS, self_kills, (long long)committed, ROWS_PER_TX);
    assert_true(committed > ROUNDS); /* the writers really wrote */
    remove_db(path);
    tu_rmdir(dir);
}

static void test_sync_writer_wal(void **state) {
    (void)state;
    writer_rounds(child_sync_writer, NULL,
                  tu_is_sqlite() ? "sync, WAL" : "sync, server");
}

static void test_sync_writer_rollback_journal(void **state) {
    (void)state;
    if (!tu_is_sqlite()) /* journal_mode is SQLite's file format */
        skip();
    writer_rounds(child_sync_writer, "delete", "sync, rollback journal");
}

/* ---- async writer ---------------------------------------------------------- */

/* The same transactions through dbconn_exec_async / dbconn_commit_async,
 * five inserts and the commit pipelined in one submission burst; each
 * commit callback acknowledges its transaction and submits the next. */
typedef struct awriter {
    dbconn *db;
    dbconn_session *s;
    int fd;
    int64_t txn;
    writer_log *log; /* its current transaction: the one submitted */
    char buf[ROWS_PER_TX][8192];
} awriter;

static void awriter_submit(awriter *w);

static void awriter_exec_cb(int status, dbconn_result *res, void *data) {
    awriter *w = data;
    dbconn_result_free(res);
    if (status)
        child_die(w->fd, "async insert", status);
}

static void awriter_commit_cb(int status, void *data) {
    awriter *w = data;
    if (status)
        child_die(w->fd, "async commit", status);
    child_send(w->fd, w->txn);
    w->txn++;
    awriter_submit(w);
}

static void awriter_submit(awriter *w) {
    /* One transaction in flight at a time: the log's current one is the
     * one submitted now (the queue orders this write before the worker's
     * read). */
    w->log->cur = w->txn;
    for (int k = 0; k < ROWS_PER_TX; k++) {
        size_t n = payload(w->txn, k, w->buf[k], sizeof w->buf[k]);
        int rc = dbconn_exec_async(w->s, INSERT_T,
                                   DBCONN_PARAMS(DBCONN_INT(w->txn),
                                                 DBCONN_INT(k),
                                                 DBCONN_TEXTN(w->buf[k], n)),
                                   awriter_exec_cb, w);
        if (rc)
            child_die(w->fd, "dbconn_exec_async", rc);
    }
    int rc = dbconn_commit_async(w->s, awriter_commit_cb, w);
    if (rc)
        child_die(w->fd, "dbconn_commit_async", rc);
}

static void child_async_writer(const char *url, const char *journal,
                               int64_t next, int64_t die_at, int fd) {
    static awriter w;
    writer_log wl = {0, die_at};
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0)
        child_die(fd, "uv_loop_init", -1000);
    dbconn_options o = {.journal_mode = journal, .loop = &loop,
                        .echo = die_at ? 1 : 0, .log = writer_log_fn,
                        .log_data = &wl};
    int rc = dbconn_open(&w.db, url, &o);
    if (rc)
        child_die(fd, "dbconn_open", rc);
    if ((rc = dbconn_session_open(w.db, &w.s)) ||
        (rc = dbconn_exec(w.s, CREATE_T, NULL, 0, NULL)) ||
        (rc = dbconn_commit(w.s)))
        child_die(fd, "create", rc);
    w.fd = fd;
    w.txn = next;
    w.log = &wl;
    awriter_submit(&w);
    uv_run(&loop, UV_RUN_DEFAULT);
    child_die(fd, "the loop stopped", -1000);
}

static void test_async_writer_wal(void **state) {
    (void)state;
    writer_rounds(child_async_writer, NULL,
                  tu_is_sqlite() ? "async, WAL" : "async, server");
}

/* ---- init_db ---------------------------------------------------------------- */

#define NTABLES 8
#define COL(n, t, f) {.name = (n), .type = (t), .flags = (f)}
#define FK(n, ref) {.name = (n), .type = DBCONN_TYPE_INTEGER, .references = (ref)}
#define MODEL(tbl, cols)                                                        \
    {.table = (tbl), .columns = (cols),                                         \
     .ncolumns = sizeof(cols) / sizeof *(cols), .struct_size = 64}

static const dbconn_column org_cols[] = {
    COL("id", DBCONN_TYPE_INTEGER, DBCONN_PRIMARY_KEY),
    COL("name", DBCONN_TYPE_TEXT, DBCONN_NOT_NULL | DBCONN_UNIQUE |
                                      DBCONN_INDEXED)};
static const dbconn_column team_cols[] = {
    COL("id", DBCONN_TYPE_INTEGER, DBCONN_PRIMARY_KEY), FK("org_id", "orgs"),
    COL("name", DBCONN_TYPE_TEXT, DBCONN_NOT_NULL)};
static const dbconn_column user_cols[] = {
    COL("id", DBCONN_TYPE_INTEGER, DBCONN_PRIMARY_KEY), FK("team_id", "teams"),
    COL("email", DBCONN_TYPE_TEXT, DBCONN_UNIQUE | DBCONN_INDEXED)};
static const dbconn_column project_cols[] = {
    COL("id", DBCONN_TYPE_INTEGER, DBCONN_PRIMARY_KEY), FK("org_id", "orgs"),
    COL("title", DBCONN_TYPE_TEXT, DBCONN_INDEXED)};
static const dbconn_column task_cols[] = {
    COL("id", DBCONN_TYPE_INTEGER, DBCONN_PRIMARY_KEY),
    FK("project_id", "projects"), FK("owner_id", "users"),
    COL("done", DBCONN_TYPE_BOOLEAN, 0)};
static const dbconn_column comment_cols[] = {
    COL("id", DBCONN_TYPE_INTEGER, DBCONN_PRIMARY_KEY), FK("task_id", "tasks"),
    FK("author_id", "users"), COL("body", DBCONN_TYPE_TEXT, 0)};
static const dbconn_column tag_cols[] = {
    COL("id", DBCONN_TYPE_INTEGER, DBCONN_PRIMARY_KEY),
    COL("label", DBCONN_TYPE_TEXT, DBCONN_UNIQUE | DBCONN_INDEXED)};
static const dbconn_column task_tag_cols[] = {
    {.name = "task_id", .type = DBCONN_TYPE_INTEGER,
     .flags = DBCONN_PRIMARY_KEY, .references = "tasks"},
    {.name = "tag_id", .type = DBCONN_TYPE_INTEGER,
     .flags = DBCONN_PRIMARY_KEY | DBCONN_INDEXED, .references = "tags"}};
static const dbconn_model schema_models[NTABLES] = {
    MODEL("comments", comment_cols), MODEL("task_tags", task_tag_cols),
    MODEL("tasks", task_cols),       MODEL("users", user_cols),
    MODEL("teams", team_cols),       MODEL("projects", project_cols),
    MODEL("tags", tag_cols),         MODEL("orgs", org_cols)};
#define NINDEXES 5 /* the DBCONN_INDEXED columns */

/* Kills itself just before the n-th statement of init_db's transaction
 * (the n-th CREATE, or its COMMIT when n is past them); 0 = never. */
typedef struct initdb_log {
    int n, seen;
} initdb_log;

static void initdb_log_fn(void *data, int level, const char *line) {
    (void)level;
    initdb_log *l = data;
    if (l->n && (strncmp(line, "CREATE", 6) == 0 ||
                 strcmp(line, "COMMIT") == 0) &&
        ++l->seen == l->n)
        raise(SIGKILL);
}

static void child_init_db(const char *url, int die_before, int fd) {
    initdb_log l = {die_before, 0};
    dbconn_options o = {.echo = die_before ? 1 : 0, .log = initdb_log_fn,
                        .log_data = &l};
    dbconn_base *base;
    dbconn *db;
    int rc = dbconn_base_new(&base);
    for (int i = 0; !rc && i < NTABLES; i++)
        rc = dbconn_base_add(base, &schema_models[i]);
    if (rc)
        child_die(fd, "dbconn_base_add", rc);
    if ((rc = dbconn_open(&db, url, &o)))
        child_die(fd, "dbconn_open", rc);
    if ((rc = dbconn_init_db(db, base)))
        child_die(fd, "dbconn_init_db", rc);
    child_send(fd, 1);
    /* Clean up like a real program (and for valgrind's leak check, which
     * also runs in a child that exits). */
    if ((rc = dbconn_close(db, base)) || (rc = dbconn_base_free(base)))
        child_die(fd, "close", rc);
    _exit(0);
}

#define SCHEMA_TABLES                                                           \
    "('orgs', 'teams', 'users', 'projects', 'tasks', 'comments', 'tags', "    \
    "'task_tags')"

/* Tables and indexes of the schema on the server (the test's schema, after
 * the client's backend is gone); the server's own indexes of keys and
 * unique columns (*_pkey, *_key) go with their tables. */
static void schema_counts_pg(int64_t *tables, int64_t *indexes,
                             int64_t *others) {
    dbconn *db;
    dbconn_session *s = pg_checker(&db);
    *tables = pg_scalar(s, "SELECT count(*) FROM pg_tables WHERE schemaname "
                           "= current_schema() AND tablename IN "
                           SCHEMA_TABLES);
    *indexes = pg_scalar(s, "SELECT count(*) FROM pg_indexes WHERE "
                            "schemaname = current_schema() AND indexname "
                            "LIKE 'ix\\_%'");
    *others = pg_scalar(s, "SELECT count(*) FROM pg_class c JOIN "
                           "pg_namespace n ON n.oid = c.relnamespace WHERE "
                           "n.nspname = current_schema() AND c.relkind IN "
                           "('r', 'p', 'v', 'm', 'f') AND c.relname NOT IN "
                           SCHEMA_TABLES);
    dbconn_session_close(s);
    assert_int_equal(dbconn_close(db, NULL), 0);
}

/* Tables and indexes of the schema in the file. */
static void schema_counts_sqlite(const char *path, int64_t *tables,
                                 int64_t *indexes, int64_t *others) {
    sqlite3 *h = open_checked(path);
    *tables = scalar(h, "SELECT count(*) FROM sqlite_master WHERE "
                        "type = 'table' AND name IN " SCHEMA_TABLES);
    *indexes = scalar(h, "SELECT count(*) FROM sqlite_master WHERE "
                         "type = 'index' AND name LIKE 'ix_%'");
    *others = scalar(h, "SELECT count(*) FROM sqlite_master WHERE "
                        "name NOT LIKE 'sqlite_%' AND name NOT LIKE "
                        "'ix_%' AND name NOT IN " SCHEMA_TABLES);
    sqlite3_close(h);
}

/* The schema in the file (or on the server); all or nothing. */
static bool check_schema(const char *path, bool acked, const char *what) {
    int64_t tables, indexes, others;
    if (tu_is_sqlite())
        schema_counts_sqlite(path, &tables, &indexes, &others);
    else
        schema_counts_pg(&tables, &indexes, &others);
    if (others != 0 || !((tables == 0 && indexes == 0) ||
                         (tables == NTABLES && indexes == NINDEXES)))
        fail_msg("%s: %lld of %d tables and %lld of %d indexes (and %lld "
                 "others): the schema is not all or nothing", what,
                 (long long)tables, NTABLES, (long long)indexes, NINDEXES,
                 (long long)others);
    if (acked && tables == 0)
        fail_msg("%s: init_db returned 0 but no table exists", what);
    return tables != 0;
}

/* Forks an init_db child on a fresh file; kills it after delay_us (or
 * lets it kill itself before statement die_before); checks the schema. */
static bool initdb_round(const char *dir, int die_before, uint64_t delay_us,
                         const char *what, uint64_t *elapsed_us) {
    char path[4200];
    path_in(path, sizeof path, dir, "schema.db");
    remove_db(path);
    if (!tu_is_sqlite())
        tu_fresh(NULL); /* an empty schema on the server */
    int p[2];
    assert_int_equal(pipe(p), 0);
    fflush(NULL);
    uint64_t t0 = uv_hrtime();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        child_init_db(tu_db_url(dir, "schema.db", NULL), die_before, p[1]);
        _exit(92);
    }
    close(p[1]);
    int64_t ack = 0;
    if (delay_us == UINT64_MAX) { /* run to completion or to its own kill */
        int64_t v;
        while (parent_recv(p[0], &v))
            ack = v;
    } else {
        sleep_us(delay_us);
    }
    if (elapsed_us)
        *elapsed_us = (uv_hrtime() - t0) / 1000;
    ack = kill_and_drain(pid, p[0], ack, true);
    if (tu_is_sqlite() && access(path, F_OK) != 0) {
        /* killed before the file existed */
        assert_int_equal(ack, 0);
        return false;
    }
    return check_schema(path, ack == 1, what);
}

static void test_init_db_all_or_nothing(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    char what[64];
    /* How long a whole init_db child takes here. */
    uint64_t full_us = 0;
    assert_true(initdb_round(dir, 0, UINT64_MAX, "calibration", &full_us));
    /* A kill at every statement boundary of the transaction: each CREATE
     * (8 tables + 5 indexes), then the COMMIT.  None may leave a trace. */
    for (int n = 1; n <= NTABLES + NINDEXES + 1; n++) {
        snprintf(what, sizeof what, "killed before statement %d", n);
        assert_false(initdb_round(dir, n, UINT64_MAX, what, NULL));
    }
    /* Random points over the whole child's life (and a bit past it).  A
     * server's DDL time varies by a factor of 2-3 from run to run (its
     * catalog writes and fsyncs), so there the points span twice the
     * calibration run: kills after the COMMIT are drawn too. */
    uint64_t span = tu_is_sqlite() ? full_us + full_us / 4 + 1
                                   : 2 * full_us + 1;
    int complete = 0, empty = 0;
    for (int round = 0; round < ROUNDS; round++) {
        uint64_t delay = rnd_below(span);
        snprintf(what, sizeof what, "random round %d (%llu us)", round,
                 (unsigned long long)delay);
        if (initdb_round(dir, 0, delay, what, NULL))
            complete++;
        else
            empty++;
    }
    print_message("init_db: a full run takes %llu us; %d random kills left "
                  "the whole schema, %d left none\n",
                  (unsigned long long)full_us, complete, empty);
    char path[4200];
    path_in(path, sizeof path, dir, "schema.db");
    remove_db(path);
    tu_rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        tu_test(test_sync_writer_wal),
        tu_test(test_sync_writer_rollback_journal),
        tu_test(test_init_db_all_or_nothing),
        tu_test(test_async_writer_wal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
