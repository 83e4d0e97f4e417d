/* Allocation-failure injection over a whole program's life: open, add a
 * model to a custom base, init_db, a scoped session's insert + select +
 * commit, close.  One counting allocator serves libdbconn
 * (dbconn_set_allocator), SQLite (SQLITE_CONFIG_MALLOC) and libuv
 * (uv_replace_allocator); run k fails allocation number k (or, in the
 * "from" variants, k and every later one), for k = 1, 2, ... until a run
 * meets no injected failure.  Every run must end in success (with the right
 * data) or in a clean error -- DBCONN_ENOMEM for libdbconn's own
 * allocations, ENOMEM or EDB for one SQLite turned into an error -- and
 * leave no block outstanding: the allocator counts live blocks per source
 * and SQLite's global allocations are released with sqlite3_shutdown()
 * between runs.  ASan (detect_leaks) checks the rest.
 *
 * On a server (tu_url() a PostgreSQL URL) the scenario is the same
 * program against the server.  libpq's own allocations (the PGconn, its
 * buffers, PGresults) are plain malloc and do not go through these hooks,
 * so no failure is injected into libpq; libdbconn's are (the engine, the
 * pool, the driver's connection and statement wrappers, parameter and
 * result copies, the URL and options), and failing each of those numbers
 * must still end in success or DBCONN_ENOMEM with no block of ours live
 * (ASan's leak check covers libpq's: a PGconn never finished would show).
 * Between runs the checker waits until none of this program's connections
 * is left on the server (one the library failed to finish would stay) and
 * drops the table, so every run starts as on an empty sqlite://.  Every
 * allocation number is swept there too (see pg_sweep for the cost).
 *
 * Must own the process's allocators: SQLite and libuv accept a new
 * allocator only before they are first used, so main() installs them
 * before anything else runs. */
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

/* ---- the counting, failing allocator ---------------------------------------- */

enum { SRC_DBCONN, SRC_SQLITE, SRC_UV, NSRC };
static const char *const src_name[NSRC] = {"libdbconn", "sqlite", "libuv"};

/* Every block carries its size and source; 16 bytes keep the alignment
 * malloc gives (SQLite needs 8). */
typedef struct hdr {
    size_t size;
    uint32_t magic;
    uint32_t src;
} hdr;
#define MAGIC 0xdbc0a110u

static atomic_long calls;           /* allocation calls this run */
static atomic_long fail_at;         /* 0 = never fail */
static atomic_bool fail_onward;     /* fail every call >= fail_at */
static atomic_long injected[NSRC];  /* failures handed out this run */
static atomic_long live[NSRC];      /* blocks outstanding, by source */
static atomic_long cross_frees;     /* freed through another source's hook */

static bool should_fail(int src) {
    long n = atomic_fetch_add(&calls, 1) + 1;
    long at = atomic_load(&fail_at);
    if (at == 0 || n < at || (n > at && !atomic_load(&fail_onward)))
        return false;
    atomic_fetch_add(&injected[src], 1);
    return true;
}

static void *block_new(int src, size_t size, bool zero) {
    if (should_fail(src))
        return NULL;
    hdr *h = zero ? calloc(1, sizeof *h + size) : malloc(sizeof *h + size);
    if (!h)
        return NULL;
    *h = (hdr){size, MAGIC, (uint32_t)src};
    atomic_fetch_add(&live[src], 1);
    return h + 1;
}

static hdr *header_of(void *p) {
    hdr *h = (hdr *)p - 1;
    if (h->magic != MAGIC) {
        fprintf(stderr, "test_alloc_fail: a block not from this allocator\n");
        abort();
    }
    return h;
}

static void block_free(int src, void *p) {
    if (!p)
        return;
    hdr *h = header_of(p);
    if (h->src != (uint32_t)src)
        atomic_fetch_add(&cross_frees, 1);
    atomic_fetch_sub(&live[h->src], 1);
    h->magic = 0;
    free(h);
}

static void *block_realloc(int src, void *p, size_t size) {
    if (!p)
        return block_new(src, size, false);
    if (should_fail(src))
        return NULL; /* the old block stays valid, as realloc promises */
    hdr *h = header_of(p);
    hdr *n = realloc(h, sizeof *n + size);
    if (!n)
        return NULL;
    n->size = size;
    return n + 1;
}

/* libdbconn's hooks */
static void *d_malloc(size_t n) { return block_new(SRC_DBCONN, n, false); }
static void *d_calloc(size_t c, size_t n) {
    return c && n > SIZE_MAX / c ? NULL : block_new(SRC_DBCONN, c * n, true);
}
static void *d_realloc(void *p, size_t n) {
    return block_realloc(SRC_DBCONN, p, n);
}
static void d_free(void *p) { block_free(SRC_DBCONN, p); }

/* libuv's */
static void *u_malloc(size_t n) { return block_new(SRC_UV, n, false); }
static void *u_calloc(size_t c, size_t n) {
    return c && n > SIZE_MAX / c ? NULL : block_new(SRC_UV, c * n, true);
}
static void *u_realloc(void *p, size_t n) { return block_realloc(SRC_UV, p, n); }
static void u_free(void *p) { block_free(SRC_UV, p); }

/* SQLite's (sqlite3_mem_methods) */
static void *s_malloc(int n) {
    return n <= 0 ? NULL : block_new(SRC_SQLITE, (size_t)n, false);
}
static void s_free(void *p) { block_free(SRC_SQLITE, p); }
static void *s_realloc(void *p, int n) {
    return n <= 0 ? NULL : block_realloc(SRC_SQLITE, p, (size_t)n);
}
static int s_size(void *p) { return p ? (int)header_of(p)->size : 0; }
static int s_roundup(int n) { return (n + 7) & ~7; }
static int s_init(void *arg) {
    (void)arg;
    return SQLITE_OK;
}
static void s_shutdown(void *arg) { (void)arg; }

static const sqlite3_mem_methods sqlite_methods = {
    s_malloc, s_free, s_realloc, s_size, s_roundup, s_init, s_shutdown, NULL};
static const dbconn_allocator dbconn_methods = {d_malloc, d_calloc, d_realloc,
                                                d_free};

static long total_injected(void) {
    long n = 0;
    for (int i = 0; i < NSRC; i++)
        n += atomic_load(&injected[i]);
    return n;
}

/* Arms the allocator for one run: fail call `at` (0 = none). */
static void arm(long at, bool onward) {
    atomic_store(&calls, 0);
    for (int i = 0; i < NSRC; i++)
        atomic_store(&injected[i], 0);
    atomic_store(&fail_onward, onward);
    atomic_store(&fail_at, at);
}

static void disarm(void) { atomic_store(&fail_at, 0); }

/* SQLite's memdb VFS keeps a process-wide array of shared databases that
 * only its last close frees; when the allocation after growing it fails,
 * the (empty) array stays until the next memdb open/close.  Not a leak of
 * libdbconn's: one shared memdb opened and closed here releases it. */
static void flush_memdb_registry(void) {
    sqlite3 *h = NULL;
    int rc = sqlite3_open_v2("file:/dbconn-alloc-fail-flush?vfs=memdb", &h,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                 SQLITE_OPEN_URI,
                             NULL);
    sqlite3_close(h);
    assert_int_equal(rc, SQLITE_OK);
}

/* After a run: SQLite releases its globals, then nothing may be live. */
static void assert_nothing_live(long at, const char *what) {
    flush_memdb_registry();
    assert_int_equal(sqlite3_shutdown(), SQLITE_OK);
    for (int i = 0; i < NSRC; i++) {
        long n = atomic_load(&live[i]);
        if (n != 0)
            fail_msg("%s, failing allocation %ld: %ld %s block%s leaked", what,
                     at, n, src_name[i], n == 1 ? "" : "s");
    }
    assert_int_equal(atomic_load(&cross_frees), 0);
}

/* ---- the scenario ------------------------------------------------------------ */

typedef struct note {
    int64_t id;
    char *body;
} note;

static const dbconn_column note_columns[] = {
    {.name = "id", .type = DBCONN_TYPE_INTEGER, .flags = DBCONN_PRIMARY_KEY,
     .offset = offsetof(note, id)},
    {.name = "body", .type = DBCONN_TYPE_TEXT,
     .flags = DBCONN_NOT_NULL | DBCONN_INDEXED,
     .offset = offsetof(note, body)},
};
static const dbconn_model note_model = {
    .table = "notes", .columns = note_columns, .ncolumns = 2,
    .struct_size = sizeof(note)};

static void quiet(void *data, int level, const char *line) {
    (void)data;
    (void)level;
    (void)line;
}

typedef struct outcome {
    long after_init_db; /* allocation calls at the end of init_db's step */
    long calls;         /* allocation calls of the whole run */
    int rc;            /* 0 or the first failure */
    const char *step;  /* where it failed */
    char msg[1024];    /* dbconn_errmsg at that point */
    int close_rc;
} outcome;

/* Runs the scenario; every step's failure must be clean (out-parameters
 * NULL, a message), and the cleanup runs whatever happened. */
static void scenario(const char *url, outcome *o) {
    dbconn *db = NULL;
    dbconn_base *base = NULL;
    dbconn_session *s = NULL;
    dbconn_result *res = NULL;
    const dbconn_options opts = {.log = quiet};
    *o = (outcome){0};
#define STEP(name, call, outp)                                                  \
    do {                                                                        \
        int rc_ = (call);                                                       \
        if (rc_ != 0) {                                                         \
            o->rc = rc_;                                                        \
            o->step = (name);                                                   \
            snprintf(o->msg, sizeof o->msg, "%s", dbconn_errmsg(NULL));         \
            if ((outp) != NULL)                                                 \
                fail_msg("%s failed but left its out-parameter set", name);     \
            goto cleanup;                                                       \
        }                                                                       \
    } while (0)
    STEP("dbconn_open", dbconn_open(&db, url, &opts), db);
    STEP("dbconn_base_new", dbconn_base_new(&base), base);
    STEP("dbconn_base_add", dbconn_base_add(base, &note_model), NULL);
    STEP("dbconn_init_db", dbconn_init_db(db, base), NULL);
    o->after_init_db = atomic_load(&calls);
    STEP("dbconn_scoped_session", dbconn_scoped_session(db, &s), s);
    STEP("insert",
         dbconn_exec(s, "INSERT INTO notes (body) VALUES (?)",
                     DBCONN_PARAMS(DBCONN_TEXT("'); DROP TABLE notes; --")),
                     NULL),
         NULL);
    STEP("select",
         dbconn_exec(s, "SELECT id, body FROM notes WHERE body LIKE ?",
                     DBCONN_PARAMS(DBCONN_TEXT("%DROP%")), &res),
         res);
    STEP("commit", dbconn_commit(s), NULL);
    /* Whatever was injected, a successful run has the right data. */
    assert_int_equal(dbconn_result_nrows(res), 1);
    assert_int_equal(dbconn_result_int(res, 0, 0), 1);
    assert_string_equal(dbconn_result_text(res, 0, 1),
                        "'); DROP TABLE notes; --");
    STEP("dbconn_scoped_remove", dbconn_scoped_remove(db), NULL);
#undef STEP
cleanup:
    dbconn_result_free(res);
    /* close(db, base) for a base init_db did not get to bind would be
     * EINVAL (and rightly so); close unbinds every bound base either way. */
    o->close_rc = dbconn_close(db, base && dbconn_base_bound(base) == db
                                       ? base
                                       : NULL); /* db NULL: a no-op */
    /* A failure inside close must still unbind: base_free then works. */
    if (base)
        assert_int_equal(dbconn_base_free(base), 0);
}

/* ---- the drivers ---------------------------------------------------------------- */

/* Codes a run may end with: ENOMEM always; when SQLite met the failure it
 * may report it as a generic database error (an I/O path that could not
 * allocate). */
static void check_code(const outcome *o, long at, const char *what) {
    bool from_sqlite = atomic_load(&injected[SRC_SQLITE]) > 0;
    if (o->rc == DBCONN_ENOMEM ||
        (from_sqlite && o->rc == DBCONN_EDB))
        return;
    fail_msg("%s, failing allocation %ld (%s%s%s): %s returned %s: %s", what,
             at, atomic_load(&injected[SRC_DBCONN]) ? "libdbconn " : "",
             from_sqlite ? "sqlite " : "",
             atomic_load(&injected[SRC_UV]) ? "libuv " : "", o->step,
             dbconn_err_name(o->rc), o->msg);
}

typedef struct stats {
    long runs, ok_despite, by_code[16];
} stats;

static void remove_db_files(const char *dir) {
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    char path[4200];
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/af.db%s", dir, suffix[i]);
        unlink(path);
    }
}

/* One run failing allocation `at` (and, `onward`, every later one); checks
 * its ending.  Returns true when nothing was injected and it succeeded: the
 * run went to its end below the failure point. */
static bool run_one(const char *url, long at, bool onward, const char *what,
                    stats *st, outcome *o) {
    arm(at, onward);
    scenario(url, o);
    disarm();
    o->calls = atomic_load(&calls);
    long inj = total_injected();
    st->runs++;
    if (o->rc == 0 && inj == 0) {
        assert_int_equal(o->close_rc, 0);
        assert_nothing_live(at, what);
        return true;
    }
    if (o->rc == 0)
        st->ok_despite++; /* the failure was absorbed (SQLite's benign
                             allocations, retries): data was checked */
    else {
        check_code(o, at, what);
        /* The message says what happened (and for SQLite's, where). */
        if (o->rc == DBCONN_ENOMEM && !strstr(o->msg, "memory"))
            fail_msg("%s, failing allocation %ld: %s: ENOMEM with the "
                     "message \"%s\"", what, at, o->step, o->msg);
        assert_true(o->msg[0] != '\0');
        st->by_code[-o->rc & 15]++;
    }
    if (o->close_rc != 0 && o->close_rc != DBCONN_ENOMEM &&
        o->close_rc != DBCONN_EDB)
        fail_msg("%s, failing allocation %ld: dbconn_close returned %s",
                 what, at, dbconn_err_name(o->close_rc));
    assert_nothing_live(at, what);
    return false;
}

static void sweep(const char *url, const char *dir, bool onward,
                  const char *what) {
    stats st = {0};
    outcome o;
    long at;
    for (at = 1; at < 200000; at++) {
        if (dir)
            remove_db_files(dir);
        if (run_one(url, at, onward, what, &st, &o))
            break; /* ran to the end below the failure point */
    }
    print_message("%s: %ld runs, %ld allocations in a clean run; %ld ENOMEM, "
                  "%ld EDB, %ld succeeded despite a failure\n",
                  what, st.runs, at - 1, st.by_code[-DBCONN_ENOMEM],
                  st.by_code[-DBCONN_EDB], st.ok_despite);
    /* The sweep really went through the whole program. */
    assert_true(at > 200);
    assert_true(at < 200000);
}

/* ---- on a server --------------------------------------------------------------- */

/* Before a run on the server: no connection of this program's is left
 * (waits 5 s at most: a backend ends a moment after its client finished
 * it; one still there after that is a connection the library never
 * finished), and table notes is gone.  The checker's allocations happen
 * disarmed and are all freed by its close. */
static void pg_reset(long at, const char *what) {
    dbconn *db;
    dbconn_session *s;
    dbconn_result *r;
    tu_ok(dbconn_open(&db, tu_url(), NULL));
    tu_ok(dbconn_session_open(db, &s));
    int64_t n = 0;
    for (int i = 0; i < 500; i++) {
        tu_ok(dbconn_exec(s,
                          "SELECT count(*) FROM pg_stat_activity WHERE "
                          "application_name = current_setting("
                          "'application_name') AND pid <> pg_backend_pid()",
                          NULL, 0, &r));
        n = dbconn_result_int(r, 0, 0);
        dbconn_result_free(r);
        tu_ok(dbconn_rollback(s));
        if (n == 0)
            break;
        usleep(10000);
    }
    if (n != 0)
        fail_msg("%s, after failing allocation %ld: %lld connection%s of "
                 "the run still open on the server", what, at, (long long)n,
                 n == 1 ? "" : "s");
    tu_ok(dbconn_exec(s, "DROP TABLE IF EXISTS notes", NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    assert_int_equal(dbconn_close(db, NULL), 0);
    assert_nothing_live(at, what);
}

/* The server's sweep: every allocation number of libdbconn's from 1 to the
 * last of a clean run (~150: open and its connection, the base, init_db,
 * the insert, select, commit, scoped remove and close), as the SQLite
 * sweeps do.  A run costs a connection and a few round trips, ~6 ms: the
 * whole sweep takes about a second natively, and under valgrind only the
 * client side is slowed, so no subset is needed. */
static void pg_sweep(bool onward, const char *what) {
    stats st = {0};
    outcome o;
    pg_reset(0, what);
    assert_true(run_one(tu_url(), 0, false, what, &st, &o));
    long total = o.calls;
    st = (stats){0};
    long at;
    for (at = 1; at < 200000; at++) {
        pg_reset(at, what);
        if (run_one(tu_url(), at, onward, what, &st, &o))
            break;
    }
    pg_reset(at, what); /* the last run left nothing either */
    print_message("%s: %ld runs, %ld allocations of libdbconn in a clean "
                  "run (%ld to init_db's end); %ld ENOMEM, %ld succeeded "
                  "despite a failure\n",
                  what, st.runs, at - 1, o.after_init_db,
                  st.by_code[-DBCONN_ENOMEM], st.ok_despite);
    /* The same program as the clean run, every number of it failed once. */
    assert_int_equal(at - 1, total);
    assert_true(o.after_init_db > 0 && o.after_init_db < total);
    /* libpq's allocations are not ours to fail: no EDB can come of one. */
    assert_int_equal(st.by_code[-DBCONN_EDB], 0);
}

static void test_server_fail_one(void **state) {
    (void)state;
    if (tu_is_sqlite())
        skip(); /* the server's sweep: the memory and file ones are SQLite's */
    pg_sweep(false, "server, fail one");
}

static void test_server_fail_onward(void **state) {
    (void)state;
    if (tu_is_sqlite())
        skip();
    pg_sweep(true, "server, fail from N on");
}

/* The SQLite sweeps run in the program's SQLite run; its server run
 * (test_alloc_fail_postgres) sweeps the server instead of repeating them. */
#define SQLITE_RUN_ONLY()                                                       \
    do {                                                                        \
        if (!tu_is_sqlite())                                                    \
            skip();                                                             \
    } while (0)

static void test_memory_fail_one(void **state) {
    (void)state;
    SQLITE_RUN_ONLY();
    sweep("sqlite://", NULL, false, "memory, fail one");
}

static void test_memory_fail_onward(void **state) {
    (void)state;
    SQLITE_RUN_ONLY();
    sweep("sqlite://", NULL, true, "memory, fail from N on");
}

static void file_sweep(bool onward, const char *what) {
    const char *dir = tu_tmpdir();
    char url[4200];
    snprintf(url, sizeof url, "%s", tu_file_url(dir, "af.db"));
    sweep(url, dir, onward, what);
    remove_db_files(dir);
    tu_rmdir(dir);
}

static void test_file_fail_one(void **state) {
    (void)state;
    SQLITE_RUN_ONLY();
    file_sweep(false, "file, fail one");
}

static void test_file_fail_onward(void **state) {
    (void)state;
    SQLITE_RUN_ONLY();
    file_sweep(true, "file, fail from N on");
}

/* The allocator is really in the path of all three libraries. */
static void test_allocator_sees_everything(void **state) {
    (void)state;
    outcome o;
    arm(0, false);
    scenario("sqlite://", &o);
    assert_int_equal(o.rc, 0);
    assert_true(atomic_load(&calls) > 0);
    assert_nothing_live(0, "clean run");
    /* libuv's hook is live: its allocations are counted too. */
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_true(atomic_load(&live[SRC_UV]) > 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(atomic_load(&live[SRC_UV]), 0);
}

/* A result may outlive its dbconn; freed after the last close, nothing of
 * it stays behind (a thread keeps its last freed result for the next one
 * only while an engine is alive), and the next engine under other hooks
 * never sees a block of these. */
static void test_result_freed_after_close_keeps_nothing(void **state) {
    (void)state;
    arm(0, false);
    dbconn *db;
    dbconn_session *s;
    dbconn_result *r1, *r2;
    tu_ok(dbconn_open(&db, "sqlite://", NULL));
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, "SELECT 1", NULL, 0, &r1));
    tu_ok(dbconn_exec(s, "SELECT 2", NULL, 0, &r2));
    dbconn_result_free(r1); /* kept for the next result: an engine is open */
    dbconn_session_close(s);
    assert_int_equal(dbconn_close(db, NULL), 0);
    assert_int_equal(dbconn_result_int(r2, 0, 0), 2);
    dbconn_result_free(r2); /* after the close: straight back */
    assert_int_equal(atomic_load(&live[SRC_DBCONN]), 0);
    assert_nothing_live(0, "result freed after close");
}

int main(void) {
    /* Before anything touches SQLite or libuv (see the top of the file). */
    if (uv_replace_allocator(u_malloc, u_realloc, u_calloc, u_free) != 0 ||
        sqlite3_shutdown() != SQLITE_OK ||
        sqlite3_config(SQLITE_CONFIG_MALLOC, &sqlite_methods) != SQLITE_OK) {
        fprintf(stderr, "cannot install the counting allocator\n");
        return 1;
    }
    dbconn_set_allocator(&dbconn_methods, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allocator_sees_everything),
        cmocka_unit_test(test_result_freed_after_close_keeps_nothing),
        cmocka_unit_test(test_memory_fail_one),
        cmocka_unit_test(test_memory_fail_onward),
        cmocka_unit_test(test_file_fail_one),
        cmocka_unit_test(test_file_fail_onward),
        tu_test(test_server_fail_one),
        tu_test(test_server_fail_onward),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
