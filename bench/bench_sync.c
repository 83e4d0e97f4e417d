/*
 * bench_sync — libdbconn sessions against hand-written SQLite, same run.
 *
 * Workloads on users(id INTEGER PRIMARY KEY, name TEXT NOT NULL,
 * email TEXT UNIQUE, age INTEGER), in memory and on a WAL file with
 * synchronous=NORMAL:
 *   insert  N inserts in one transaction
 *   select  N point selects by random primary key (one transaction; every
 *           column read: in place on the raw side -- prepared once, reset,
 *           sqlite3_column_* pointers used, no copy --, libdbconn's result
 *           holds its own copy), libdbconn through dbconn_exec
 *   first   the same point selects, libdbconn through dbconn_exec_first (no
 *           step to the end: what the raw side does); the raw side is the
 *           same as for select
 *   autocommit  N point selects each its own unit of work: raw steps the
 *           select with no BEGIN (SQLite's autocommit), libdbconn runs
 *           dbconn_exec + dbconn_commit
 *   shorttx 1000 transactions of insert + select + commit
 * Both sides use the same transaction brackets, a fixed random seed and
 * prepared statements reused (the raw side keeps them; libdbconn's come from
 * its statement cache).  Each figure is the median of RUNS interleaved runs.
 *
 * And the write-contention workload: 1000 short write transactions on a
 * synchronous=FULL file with 1, 2 and 4 threads through one dbconn, on a
 * new file and with the WAL at its working size (at least 15 rounds; the
 * ratio is the median of each round's ratio).
 *
 * usage: bench_sync [--runs R] [--n N] [--raw-memdb] [--plain-memory]
 *                   [--workload WORKLOAD] [--only raw|lib WORKLOAD MEDIUM]
 *   --workload compares one workload (both media) and skips contention;
 *     "--workload contention" runs only the contention workload;
 *   --only runs one side once (for callgrind; see bench/callgrind.sh);
 *   --raw-memdb gives the raw side the memdb VFS libdbconn uses in memory;
 *   --plain-memory gives libdbconn's in-memory engine a plain :memory:
 *     database and a pool of one connection (memdb=false).
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <dbconn.h>

static int N = 20000;
/* The raw side's in-memory database: ":memory:" (what a hand-written program
 * uses), or with --raw-memdb the memdb VFS that libdbconn's in-memory
 * engines use, to separate the library's cost from the VFS's. */
static const char *raw_memory = ":memory:";
/* libdbconn's in-memory URL: the memdb VFS (the default), or with
 * --plain-memory a plain :memory: database on a pool of one connection. */
static const char *lib_memory = "sqlite://";
static int RUNS = 5;
static const int SHORT_TX = 1000;
static char dir[512];

#define CHECK(x)                                                                \
    do {                                                                        \
        if (!(x)) {                                                             \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #x,   \
                    dbconn_errmsg(NULL));                                       \
            exit(1);                                                            \
        }                                                                       \
    } while (0)

static const char *SCHEMA =
    "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
    "email TEXT UNIQUE, age INTEGER)";
static const char *INSERT =
    "INSERT INTO users (id, name, email, age) VALUES (?, ?, ?, ?)";
static const char *SELECT =
    "SELECT id, name, email, age FROM users WHERE id = ?";

/* xorshift: the same sequence on both sides */
static uint64_t rng;
static uint64_t next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double now(void) { return (double)uv_hrtime() / 1e9; }

/* What a reader uses of a row.  The raw side reads the columns in place, as
 * hand-written code does (no copy: the row is valid until the next step);
 * libdbconn's result holds its own copy. */
static volatile int64_t sink;

/* ---------------------------------------------------------------- raw -- */

typedef struct raw {
    sqlite3 *db;
    sqlite3_stmt *ins, *sel, *begin, *commit;
} raw;

static void raw_open(raw *r, const char *path, const char *sync) {
    CHECK(sqlite3_open_v2(path, &r->db,
                          SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                              SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI,
                          NULL) == SQLITE_OK);
    if (strncmp(path, "/", 1) == 0) {
        char sql[128];
        CHECK(sqlite3_exec(r->db, "PRAGMA journal_mode=wal", 0, 0, 0) == 0);
        snprintf(sql, sizeof sql, "PRAGMA synchronous=%s", sync);
        CHECK(sqlite3_exec(r->db, sql, 0, 0, 0) == 0);
    }
    sqlite3_exec(r->db, "PRAGMA foreign_keys=ON", 0, 0, 0);
    sqlite3_exec(r->db, SCHEMA, 0, 0, 0);
    CHECK(sqlite3_prepare_v2(r->db, INSERT, -1, &r->ins, 0) == 0);
    CHECK(sqlite3_prepare_v2(r->db, SELECT, -1, &r->sel, 0) == 0);
    CHECK(sqlite3_prepare_v2(r->db, "BEGIN", -1, &r->begin, 0) == 0);
    CHECK(sqlite3_prepare_v2(r->db, "COMMIT", -1, &r->commit, 0) == 0);
}

static void raw_close(raw *r) {
    sqlite3_finalize(r->ins);
    sqlite3_finalize(r->sel);
    sqlite3_finalize(r->begin);
    sqlite3_finalize(r->commit);
    sqlite3_close(r->db);
}

static void raw_simple(sqlite3_stmt *st) {
    CHECK(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_reset(st);
}

static void raw_insert(raw *r, int64_t id) {
    char name[32], email[48];
    snprintf(name, sizeof name, "user%lld", (long long)id);
    snprintf(email, sizeof email, "user%lld@example.org", (long long)id);
    sqlite3_bind_int64(r->ins, 1, id);
    sqlite3_bind_text(r->ins, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(r->ins, 3, email, -1, SQLITE_STATIC);
    sqlite3_bind_int64(r->ins, 4, id % 90);
    CHECK(sqlite3_step(r->ins) == SQLITE_DONE);
    sqlite3_reset(r->ins);
}

static void raw_select(raw *r, int64_t id) {
    sqlite3_bind_int64(r->sel, 1, id);
    CHECK(sqlite3_step(r->sel) == SQLITE_ROW);
    int64_t a = sqlite3_column_int64(r->sel, 0);
    const unsigned char *name = sqlite3_column_text(r->sel, 1);
    const unsigned char *email = sqlite3_column_text(r->sel, 2);
    int64_t age = sqlite3_column_int64(r->sel, 3);
    sink = a + age + name[0] + email[0];
    sqlite3_reset(r->sel);
}

/* --------------------------------------------------------------- lib -- */

static void lib_insert(dbconn_session *s, int64_t id) {
    char name[32], email[48];
    snprintf(name, sizeof name, "user%lld", (long long)id);
    snprintf(email, sizeof email, "user%lld@example.org", (long long)id);
    CHECK(dbconn_exec(s, INSERT,
                      DBCONN_PARAMS(DBCONN_INT(id), DBCONN_TEXT(name),
                                    DBCONN_TEXT(email), DBCONN_INT(id % 90)),
                      NULL) == 0);
}

typedef int (*exec_fn)(dbconn_session *, const char *, const dbconn_value *,
                       size_t, dbconn_result **);

static void lib_select(dbconn_session *s, exec_fn exec, int64_t id) {
    dbconn_result *res;
    CHECK(exec(s, SELECT, DBCONN_PARAMS(DBCONN_INT(id)), &res) == 0);
    CHECK(dbconn_result_nrows(res) == 1);
    sink = dbconn_result_int(res, 0, 0) + dbconn_result_int(res, 0, 3) +
           dbconn_result_text(res, 0, 1)[0] + dbconn_result_text(res, 0, 2)[0];
    dbconn_result_free(res);
}

/* ---------------------------------------------------------- workloads -- */

enum { W_INSERT, W_SELECT, W_FIRST, W_SHORTTX, W_AUTOCOMMIT, NWORK };
static const char *const wname[] = {"insert", "select", "first", "shorttx",
                                    "autocommit"};
static const char *const mname[] = {"memory", "file"};

/* Rows preloaded for select/shorttx. */
static void raw_preload(raw *r) {
    raw_simple(r->begin);
    for (int64_t i = 1; i <= N; i++)
        raw_insert(r, i);
    raw_simple(r->commit);
}

static void lib_preload(dbconn_session *s) {
    for (int64_t i = 1; i <= N; i++)
        lib_insert(s, i);
    CHECK(dbconn_commit(s) == 0);
}

/* The timed parts: kept as functions so callgrind can count them alone. */
__attribute__((noinline)) void run_raw(raw *r, int w) {
    switch (w) {
    case W_INSERT:
        raw_simple(r->begin);
        for (int64_t i = 1; i <= N; i++)
            raw_insert(r, i);
        raw_simple(r->commit);
        break;
    case W_SELECT:
    case W_FIRST:
        raw_simple(r->begin);
        for (int i = 0; i < N; i++)
            raw_select(r, (int64_t)(next_rand() % (uint64_t)N) + 1);
        raw_simple(r->commit);
        break;
    case W_SHORTTX:
        for (int i = 0; i < SHORT_TX; i++) {
            int64_t id = N + 1 + i;
            raw_simple(r->begin);
            raw_insert(r, id);
            raw_select(r, id);
            raw_simple(r->commit);
        }
        break;
    case W_AUTOCOMMIT:
        for (int i = 0; i < N; i++)
            raw_select(r, (int64_t)(next_rand() % (uint64_t)N) + 1);
        break;
    }
}

__attribute__((noinline)) void run_lib(dbconn_session *s, int w) {
    switch (w) {
    case W_INSERT:
        for (int64_t i = 1; i <= N; i++)
            lib_insert(s, i);
        CHECK(dbconn_commit(s) == 0);
        break;
    case W_SELECT:
    case W_FIRST:
        for (int i = 0; i < N; i++)
            lib_select(s, w == W_FIRST ? dbconn_exec_first : dbconn_exec,
                       (int64_t)(next_rand() % (uint64_t)N) + 1);
        CHECK(dbconn_commit(s) == 0);
        break;
    case W_SHORTTX:
        for (int i = 0; i < SHORT_TX; i++) {
            int64_t id = N + 1 + i;
            lib_insert(s, id);
            lib_select(s, dbconn_exec, id);
            CHECK(dbconn_commit(s) == 0);
        }
        break;
    case W_AUTOCOMMIT:
        for (int i = 0; i < N; i++) {
            lib_select(s, dbconn_exec,
                       (int64_t)(next_rand() % (uint64_t)N) + 1);
            CHECK(dbconn_commit(s) == 0);
        }
        break;
    }
}

static int ops(int w) { return w == W_SHORTTX ? SHORT_TX : N; }

static void file_path(char *buf, size_t n, const char *side, int run) {
    snprintf(buf, n, "%s/%s-%d.db", dir, side, run);
}

static void remove_db(const char *path) {
    char p[700];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static double time_raw(int w, int medium, int run) {
    raw r;
    char path[600];
    if (medium)
        file_path(path, sizeof path, "raw", run);
    raw_open(&r, medium ? path : raw_memory, "NORMAL");
    if (w != W_INSERT)
        raw_preload(&r);
    rng = 88172645463325252ull;
    double t0 = now();
    run_raw(&r, w);
    double t = now() - t0;
    raw_close(&r);
    if (medium)
        remove_db(path);
    return t;
}

static double time_lib(int w, int medium, int run) {
    dbconn *db;
    dbconn_session *s;
    char path[600], url[700];
    if (medium) {
        file_path(path, sizeof path, "lib", run);
        snprintf(url, sizeof url, "sqlite:///%s?synchronous=normal", path);
    } else {
        snprintf(url, sizeof url, "%s", lib_memory);
    }
    CHECK(dbconn_open(&db, url, NULL) == 0);
    CHECK(dbconn_session_open(db, &s) == 0);
    CHECK(dbconn_exec(s, SCHEMA, NULL, 0, NULL) == 0);
    CHECK(dbconn_commit(s) == 0);
    if (w != W_INSERT)
        lib_preload(s);
    rng = 88172645463325252ull;
    double t0 = now();
    run_lib(s, w);
    double t = now() - t0;
    dbconn_session_close(s);
    CHECK(dbconn_close(db, NULL) == 0);
    if (medium)
        remove_db(path);
    return t;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ------------------------------------------------------- contention -- */

typedef struct writer {
    dbconn *db;
    int count;
    int base;
} writer;

static void *writer_main(void *arg) {
    writer *wr = arg;
    dbconn_session *s;
    CHECK(dbconn_session_open(wr->db, &s) == 0);
    for (int i = 0; i < wr->count; i++) {
        CHECK(dbconn_exec(s, "INSERT INTO w (v) VALUES (?)",
                          DBCONN_PARAMS(DBCONN_INT(wr->base + i)), NULL) == 0);
        CHECK(dbconn_commit(s) == 0);
    }
    dbconn_session_close(s);
    return NULL;
}

/* `steady`: one untimed pass of the same transactions first, so the WAL
 * has reached its working size (as in a running server) and the timed
 * commits write into it instead of growing the file. */
static double contention_rate(int threads, int run, bool steady) {
    char path[600], url[700];
    snprintf(path, sizeof path, "%s/contend-%d-%d.db", dir, threads, run);
    snprintf(url, sizeof url, "sqlite:///%s?synchronous=full", path);
    dbconn *db;
    dbconn_session *s;
    CHECK(dbconn_open(&db, url, NULL) == 0);
    CHECK(dbconn_session_open(db, &s) == 0);
    CHECK(dbconn_exec(s, "CREATE TABLE w (id INTEGER PRIMARY KEY, v INTEGER)",
                      NULL, 0, NULL) == 0);
    CHECK(dbconn_commit(s) == 0);
    dbconn_session_close(s);
    if (steady) {
        writer warm = {db, SHORT_TX, 10 * SHORT_TX};
        writer_main(&warm);
    }
    pthread_t th[4];
    writer wr[4];
    double t0 = now();
    for (int i = 0; i < threads; i++) {
        wr[i] = (writer){db, SHORT_TX / threads, i * SHORT_TX};
        pthread_create(&th[i], NULL, writer_main, &wr[i]);
    }
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    double t = now() - t0;
    dbconn_stats st;
    dbconn_pool_stats(db, &st);
    CHECK(st.busy_handler_calls == 0);
    CHECK(dbconn_close(db, NULL) == 0);
    remove_db(path);
    return SHORT_TX / t;
}

/* The same workload hand-written on raw SQLite: one connection per thread,
 * a mutex around each BEGIN .. COMMIT (writers of one process serialised
 * the simplest way; no busy handler meets them). */
typedef struct raw_writer {
    const char *path;
    pthread_mutex_t *gate;
    int count, base;
} raw_writer;

static void *raw_writer_main(void *arg) {
    raw_writer *rw = arg;
    sqlite3 *db;
    sqlite3_stmt *begin, *ins, *commit;
    CHECK(sqlite3_open_v2(rw->path, &db,
                          SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                          NULL) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "PRAGMA synchronous=FULL", 0, 0, 0) == SQLITE_OK);
    CHECK(sqlite3_prepare_v2(db, "BEGIN", -1, &begin, NULL) == SQLITE_OK);
    CHECK(sqlite3_prepare_v2(db, "INSERT INTO w (v) VALUES (?)", -1, &ins,
                             NULL) == SQLITE_OK);
    CHECK(sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL) == SQLITE_OK);
    for (int i = 0; i < rw->count; i++) {
        pthread_mutex_lock(rw->gate);
        CHECK(sqlite3_step(begin) == SQLITE_DONE);
        sqlite3_reset(begin);
        sqlite3_bind_int64(ins, 1, rw->base + i);
        CHECK(sqlite3_step(ins) == SQLITE_DONE);
        sqlite3_reset(ins);
        CHECK(sqlite3_step(commit) == SQLITE_DONE);
        sqlite3_reset(commit);
        pthread_mutex_unlock(rw->gate);
    }
    sqlite3_finalize(begin);
    sqlite3_finalize(ins);
    sqlite3_finalize(commit);
    sqlite3_close(db);
    return NULL;
}

static double raw_contention_rate(int threads, int run, bool steady) {
    char path[600];
    snprintf(path, sizeof path, "%s/raw-contend-%d-%d.db", dir, threads, run);
    sqlite3 *db; /* holds the WAL open, as libdbconn's anchor does */
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db,
                       "PRAGMA journal_mode=wal;"
                       "CREATE TABLE w (id INTEGER PRIMARY KEY, v INTEGER)",
                       0, 0, 0) == SQLITE_OK);
    pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
    if (steady) {
        raw_writer warm = {path, &gate, SHORT_TX, 10 * SHORT_TX};
        raw_writer_main(&warm);
    }
    pthread_t th[4];
    raw_writer rw[4];
    double t0 = now();
    for (int i = 0; i < threads; i++) {
        rw[i] = (raw_writer){path, &gate, SHORT_TX / threads, i * SHORT_TX};
        pthread_create(&th[i], NULL, raw_writer_main, &rw[i]);
    }
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    double t = now() - t0;
    sqlite3_close(db);
    remove_db(path);
    return SHORT_TX / t;
}

int main(int argc, char **argv) {
    const char *only = NULL;
    int only_w = 0, only_m = 0, work = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            RUNS = atoi(argv[++i]);
        else if (strcmp(argv[i], "--n") == 0 && i + 1 < argc)
            N = atoi(argv[++i]);
        else if (strcmp(argv[i], "--workload") == 0 && i + 1 < argc) {
            const char *w = argv[++i];
            only_w = -1;
            for (int k = 0; k < NWORK; k++)
                if (strcmp(w, wname[k]) == 0)
                    only_w = work = k;
            if (strcmp(w, "contention") == 0)
                only_w = work = NWORK;
        } else if (strcmp(argv[i], "--raw-memdb") == 0)
            raw_memory = "file:/dbconn-bench-raw?vfs=memdb";
        else if (strcmp(argv[i], "--plain-memory") == 0)
            lib_memory = "sqlite://?memdb=false&pool_size=1&max_overflow=0";
        else if (strcmp(argv[i], "--only") == 0 && i + 3 < argc) {
            only = argv[++i];
            const char *w = argv[++i], *m = argv[++i];
            only_w = -1;
            for (int k = 0; k < NWORK; k++)
                if (strcmp(w, wname[k]) == 0)
                    only_w = k;
            only_m = strcmp(m, "file") == 0 ? 1
                     : strcmp(m, "memory") == 0 ? 0
                                                 : -1;
        }
    }
    if (RUNS < 1 || N < 1 || only_w < 0 || only_m < 0) {
        fprintf(stderr, "usage: bench_sync [--runs R] [--n N] [--raw-memdb] "
                        "[--plain-memory] "
                        "[--workload insert|select|first|shorttx|autocommit|contention] "
                        "[--only raw|lib insert|select|first|shorttx|autocommit "
                        "memory|file]\n");
        return 2;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/dbconn-bench-XXXXXX", tmp ? tmp : "/tmp");
    CHECK(mkdtemp(dir) != NULL);

    if (only) {
        if (strcmp(only, "raw") == 0)
            time_raw(only_w, only_m, 0);
        else
            time_lib(only_w, only_m, 0);
        rmdir(dir);
        return 0;
    }

    printf("libdbconn %s vs raw SQLite %s: N=%d, %d short transactions, "
           "median of %d interleaved runs\n\n",
           dbconn_version_string(), sqlite3_libversion(), N, SHORT_TX, RUNS);
    printf("%-8s %-7s %14s %14s %8s\n", "workload", "medium", "raw ops/s",
           "dbconn ops/s", "ratio");
    for (int m = 0; m < 2 && work != NWORK; m++) {
        for (int w = 0; w < NWORK; w++) {
            if (work >= 0 && w != work)
                continue;
            double traw[64], tlib[64];
            for (int r = 0; r < RUNS && r < 64; r++) {
                traw[r] = time_raw(w, m, r);
                tlib[r] = time_lib(w, m, r);
            }
            int n = RUNS < 64 ? RUNS : 64;
            double a = median(traw, n), b = median(tlib, n);
            printf("%-8s %-7s %14.0f %14.0f %7.2fx\n", wname[w], mname[m],
                   ops(w) / a, ops(w) / b, b / a);
        }
    }
    if (work >= 0 && work < NWORK) {
        rmdir(dir);
        return 0;
    }
    /* Every commit waits for an fsync, whose time swings by +-20% here:
     * at least 15 rounds (unless a single run was asked for), and each
     * round's ratio against the one-thread run just before it (a disk's
     * fsync time drifts). */
    int nr = RUNS == 1 ? 1 : RUNS < 15 ? 15 : RUNS < 64 ? RUNS : 64;
    printf("\nwrite contention, %d short write transactions, "
           "synchronous=FULL file, median of %d interleaved round%s\n"
           "(new: a new file's WAL grows with every commit; steady: the WAL "
           "at its working size; raw: SQLite, a connection per thread and a "
           "mutex around each transaction):\n",
           SHORT_TX, nr, nr == 1 ? "" : "s");
    /* [medium][side: dbconn, raw][threads][round] */
    double rates[2][2][3][64], ratios[2][2][3][64];
    for (int r = 0; r < nr; r++)
        for (int m = 0; m < 2; m++)
            for (int side = 0; side < 2; side++)
                for (int k = 0; k < 3; k++) {
                    double rate = side ? raw_contention_rate(1 << k, r, m)
                                       : contention_rate(1 << k, r, m);
                    rates[m][side][k][r] = rate;
                    ratios[m][side][k][r] = rate / rates[m][side][0][r];
                }
    for (int m = 0; m < 2; m++) {
        printf("  %s\n", m ? "steady WAL" : "new file");
        for (int k = 0; k < 3; k++) {
            printf("    %d thread%s", 1 << k, k == 0 ? " " : "s");
            for (int side = 0; side < 2; side++)
                printf("  %-6s %6.0f tx/s %5.2fx of one thread",
                       side ? "raw" : "dbconn", median(rates[m][side][k], nr),
                       median(ratios[m][side][k], nr));
            printf("\n");
        }
    }
    rmdir(dir);
    return 0;
}
