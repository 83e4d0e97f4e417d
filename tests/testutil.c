#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static char slots[8][4096];
static unsigned slot;

static char *next_slot(void) { return slots[slot++ % 8]; }

const char *tu_tmpdir(void) {
    const char *base = getenv("TMPDIR");
    char *d = next_slot();
    snprintf(d, 4096, "%s/dbconn-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(d))
        fail_msg("mkdtemp failed");
    return d;
}

void tu_rmdir(const char *dir) {
    char cmd[4200];
    if (!dir || strncmp(dir, "/", 1) != 0 || !strstr(dir, "dbconn-test-"))
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* No server for a test that needs one: a visible skip (ctest's
 * SKIP_RETURN_CODE 77), or a failure under CI=true. */
static void no_server(const char *file) {
    char why[512] = "no reason recorded";
    char path[4096];
    const char *slash = strrchr(file, '/');
    snprintf(path, sizeof path, "%.*s/unavailable",
             slash ? (int)(slash - file) : 1, slash ? file : ".");
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(why, sizeof why, f))
            why[0] = '\0';
        why[strcspn(why, "\n")] = '\0';
        fclose(f);
    }
    const char *ci = getenv("CI");
    bool fail = ci && strcmp(ci, "true") == 0;
    fprintf(stderr, "%s: no PostgreSQL test server (%s has no URL: %s)\n",
            fail ? "FAIL (CI=true)" : "SKIP", file, why);
    fflush(NULL);
    exit(fail ? 1 : 77);
}

const char *tu_url(void) {
    static char from_file[4096];
    const char *u = getenv("DBCONN_TEST_URL");
    if (u && *u)
        return u;
    const char *file = getenv("DBCONN_TEST_URL_FILE");
    if (!file || !*file)
        return "sqlite://";
    if (!from_file[0]) {
        FILE *f = fopen(file, "r");
        if (!f || !fgets(from_file, sizeof from_file, f))
            no_server(file);
        fclose(f);
        from_file[strcspn(from_file, "\r\n")] = '\0';
        if (!from_file[0])
            no_server(file);
    }
    return from_file;
}

bool tu_is_sqlite(void) { return strncmp(tu_url(), "sqlite", 6) == 0; }

/* The program's schema: tu_ and its name, lower case, [a-z0-9_] only. */
static const char *schema_name(void) {
    static char name[64];
    if (!name[0]) {
        const char *p = program_invocation_short_name;
        size_t n = snprintf(name, sizeof name, "tu_");
        for (; *p && n + 1 < sizeof name; p++) {
            char c = *p;
            if (c >= 'A' && c <= 'Z')
                c = (char)(c - 'A' + 'a');
            name[n++] = ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
                            ? c
                            : '_';
        }
        name[n] = '\0';
    }
    return name;
}

int tu_fresh(void **state) {
    (void)state;
    if (tu_is_sqlite())
        return 0;
    static bool pointed;
    const char *schema = schema_name();
    if (!pointed) {
        char opts[512];
        const char *old = getenv("PGOPTIONS");
        snprintf(opts, sizeof opts, "%s%s-c search_path=%s",
                 old && *old ? old : "", old && *old ? " " : "", schema);
        if (setenv("PGOPTIONS", opts, 1) != 0 ||
            setenv("PGAPPNAME", schema, 1) != 0)
            fail_msg("setenv PGOPTIONS, PGAPPNAME failed");
        pointed = true;
    }
    /* A test that failed half way may have left a connection holding a
     * lock on the schema: wait 10 s at most, not forever. */
    dbconn_options o = {.busy_timeout_ms = 10000};
    dbconn *db;
    dbconn_session *s;
    char sql[256];
    tu_ok(dbconn_open(&db, tu_url(), &o));
    tu_ok(dbconn_session_open(db, &s));
    /* A test that failed half way (CMocka jumps out of it) leaves its
     * connections open, maybe in a transaction holding locks on the
     * schema: end them (this program's own, by application_name), so one
     * failure does not fail every test after it. */
    snprintf(sql, sizeof sql,
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
             "WHERE application_name = '%s' AND pid <> pg_backend_pid()",
             schema);
    tu_ok(dbconn_exec(s, sql, NULL, 0, NULL));
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", schema);
    tu_ok(dbconn_exec(s, sql, NULL, 0, NULL));
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
    tu_ok(dbconn_exec(s, sql, NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    dbconn_close(db, NULL);
    return 0;
}

const char *tu_file_url(const char *dir, const char *name) {
    char *u = next_slot();
    snprintf(u, 4096, "sqlite:///%s/%s", dir, name);
    return u;
}

const char *tu_db_url(const char *dir, const char *name, const char *query) {
    char *u = next_slot();
    const char *base = tu_is_sqlite() ? tu_file_url(dir, name) : tu_url();
    const char *sep = "";
    if (!query)
        query = "";
    if (query[0] == '?' && strchr(base, '?')) {
        query++;
        sep = "&";
    }
    snprintf(u, 4096, "%s%s%s", base, sep, query);
    return u;
}

/* Appends src[0..n) to dst (cap bytes, always terminated). */
static void put(char *dst, size_t cap, size_t *len, const char *src, size_t n) {
    if (*len + n >= cap)
        n = cap - 1 - *len;
    memcpy(dst + *len, src, n);
    *len += n;
    dst[*len] = '\0';
}

const char *tu_ddl(const char *sql) {
    static const char *const from[] = {" INTEGER PRIMARY KEY", " BLOB",
                                       " INTEGER", " REAL"};
    static const char *const to[] = {
        " BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", " BYTEA",
        " BIGINT", " DOUBLE PRECISION"};
    char *u = next_slot();
    size_t len = 0;
    u[0] = '\0';
    if (tu_is_sqlite()) {
        put(u, 4096, &len, sql, strlen(sql));
        return u;
    }
    while (*sql) {
        size_t k = 0;
        while (k < 4 && strncmp(sql, from[k], strlen(from[k])) != 0)
            k++;
        if (k < 4) {
            put(u, 4096, &len, to[k], strlen(to[k]));
            sql += strlen(from[k]);
        } else {
            put(u, 4096, &len, sql++, 1);
        }
    }
    return u;
}

/* A child that runs `sql` on the file and holds the transaction open until
 * told; it reports the first column of the last row it read. */
pid_t tu_hold_in_child(const char *path, const char *sql, int *release_fd,
                       long long *seen) {
    int ready[2], release[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(release), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sqlite3 *db;
        sqlite3_stmt *st;
        long long v = -1;
        char c;
        close(ready[0]);
        close(release[1]);
        if (sqlite3_open(path, &db) != SQLITE_OK ||
            sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
            _exit(1);
        while (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        if (write(ready[1], &v, sizeof v) != (ssize_t)sizeof v ||
            read(release[0], &c, 1) != 1)
            _exit(2);
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            _exit(3);
        sqlite3_close(db);
        _exit(0);
    }
    close(ready[1]);
    close(release[0]);
    assert_int_equal(read(ready[0], seen, sizeof *seen), (ssize_t)sizeof *seen);
    close(ready[0]);
    *release_fd = release[1];
    return pid;
}

void tu_release_child(pid_t pid, int fd) {
    char c = 'x';
    assert_int_equal(write(fd, &c, 1), 1);
    close(fd);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static int tu_seq;

static void stamp(tu_rec *r, int status) {
    r->calls++;
    r->status = status;
    r->thread = uv_thread_self();
    r->task = dbconn_current_task();
    r->order = ++tu_seq;
}

void tu_on_exec(int status, dbconn_result *res, void *data) {
    tu_rec *r = data;
    stamp(r, status);
    r->had_result = res != NULL;
    if (res && dbconn_result_nrows(res) > 0) {
        r->value = dbconn_result_int(res, 0, 0);
        const char *t = dbconn_result_text(res, 0, 0);
        snprintf(r->text, sizeof r->text, "%s", t ? t : "");
    }
    dbconn_result_free(res);
}

void tu_on_done(int status, void *data) { stamp(data, status); }

int64_t tu_count_rows(dbconn *db, const char *table, const char *where) {
    dbconn_session *s;
    dbconn_result *r;
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s%s%s", table,
             where ? " WHERE " : "", where ? where : "");
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, sql, NULL, 0, &r));
    int64_t n = dbconn_result_int(r, 0, 0);
    dbconn_result_free(r);
    dbconn_session_close(s);
    return n;
}

dbconn_stats tu_run_until_gate_waits(uv_loop_t *loop, dbconn *db, uint64_t n) {
    dbconn_stats st;
    for (int i = 0; i < 1000; i++) {
        tu_ok(dbconn_pool_stats(db, &st));
        if (st.gate_waits >= n)
            break;
        uv_run(loop, UV_RUN_ONCE);
    }
    return st;
}

void tu_open_on_loop_with_t(uv_loop_t *loop, const char *url, dbconn **db) {
    dbconn_options o = {.loop = loop};
    tu_ok(dbconn_open(db, url, &o));
    dbconn_session *s;
    tu_ok(dbconn_session_open(*db, &s));
    tu_ok(dbconn_exec(s, tu_ddl("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"),
                      NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
}

void tu_open_with_t(const char *url, int busy_ms, dbconn **db,
                    dbconn_session **s) {
    dbconn_options o = {.busy_timeout_ms = busy_ms};
    tu_ok(dbconn_open(db, url, &o));
    tu_ok(dbconn_session_open(*db, s));
    tu_ok(dbconn_exec(*s, "CREATE TABLE t (x INTEGER)", NULL, 0, NULL));
    tu_ok(dbconn_exec(*s, "INSERT INTO t VALUES (1)", NULL, 0, NULL));
    tu_ok(dbconn_commit(*s));
}
