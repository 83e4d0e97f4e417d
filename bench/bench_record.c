/*
 * bench_record — the active-record layer against hand-written SQLite doing
 * the same statements, in the same run.
 *
 * Model: users(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT
 * UNIQUE, age INTEGER indexed, created_at, updated_at) -- the
 * TimestampMixin columns included, so the library formats and parses
 * timestamps where the raw side binds one constant text and reads text in
 * place.  The raw side prepares every statement once, binds, steps and
 * reads columns in place (sqlite3_column_*: no copies).  libdbconn goes
 * through the default base's bound session, the active-record way.
 *
 *   get        N lookups by random key, one transaction
 *   get_tx     N/10 lookups, each its own transaction (BEGIN, SELECT, COMMIT)
 *   create     N creates (INSERT ... RETURNING id), one transaction
 *   create_tx  N/10 creates, each its own transaction (BEGIN IMMEDIATE)
 *   update     N updates of two columns + updated_at by random key, one tx
 *   update_tx  N/10 updates, each its own transaction
 *   bulk       insert_many of N structs vs N inserts in one transaction
 *              (both with RETURNING id written back)
 *   bulk_noret the raw side without RETURNING (keys not read back): for
 *              scale only, it does less than the library
 *   query      N/20 queries "age BETWEEN ? AND ? ORDER BY age, id LIMIT
 *              100" (a band of ages holding at least 100 rows: 100 rows
 *              each), one transaction; libdbconn builds each query
 *              (dbconn_query_new .. _all .. _free)
 * In memory (both sides on SQLite's memdb VFS, which libdbconn uses for
 * in-memory URLs) and on a WAL file with synchronous=NORMAL.  Each figure
 * is the median of RUNS interleaved runs.
 *
 * usage: bench_record [--runs R] [--n N>=1000] [--medium memory|file]
 *                     [--workload NAME] [--only raw|lib WORKLOAD MEDIUM]
 *   --only runs one side once (for callgrind: bench/record_callgrind.sh).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <dbconn.h>

static int N = 20000;
static int RUNS = 7;
static char dir[512];

#define CHECK(x)                                                                \
    do {                                                                        \
        if (!(x)) {                                                             \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #x,   \
                    dbconn_errmsg(NULL));                                       \
            exit(1);                                                            \
        }                                                                       \
    } while (0)

typedef struct buser {
    int64_t id;
    const char *name;
    const char *email;
    int64_t age;
    dbconn_timestamp created_at;
    dbconn_timestamp updated_at;
} buser;

static const dbconn_column buser_columns[] = {
    {.name = "id", .type = DBCONN_TYPE_INTEGER, .flags = DBCONN_PRIMARY_KEY,
     .offset = offsetof(buser, id)},
    {.name = "name", .type = DBCONN_TYPE_TEXT, .flags = DBCONN_NOT_NULL,
     .offset = offsetof(buser, name)},
    {.name = "email", .type = DBCONN_TYPE_TEXT, .flags = DBCONN_UNIQUE,
     .offset = offsetof(buser, email)},
    {.name = "age", .type = DBCONN_TYPE_INTEGER, .flags = DBCONN_INDEXED,
     .offset = offsetof(buser, age)},
    DBCONN_TIMESTAMP_COLUMNS(buser),
};
static const dbconn_model buser_model = {
    .table = "users", .columns = buser_columns,
    .ncolumns = sizeof buser_columns / sizeof *buser_columns,
    .struct_size = sizeof(buser)};

static const char *SCHEMA =
    "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
    "email TEXT UNIQUE, age INTEGER, "
    "created_at TIMESTAMP NOT NULL DEFAULT (CURRENT_TIMESTAMP), "
    "updated_at TIMESTAMP NOT NULL DEFAULT (CURRENT_TIMESTAMP));"
    "CREATE INDEX ix_users_age ON users (age)";
static const char *GET = "SELECT id, name, email, age, created_at, "
                         "updated_at FROM users WHERE id = ?";
static const char *INSERT = "INSERT INTO users (name, email, age, created_at, "
                            "updated_at) VALUES (?, ?, ?, ?, ?) RETURNING id";
static const char *INSERT_NORET = "INSERT INTO users (name, email, age, "
                                  "created_at, updated_at) VALUES (?, ?, ?, "
                                  "?, ?)";
static const char *UPDATE = "UPDATE users SET name = ?, age = ?, "
                            "updated_at = ? WHERE id = ?";
static const char *QUERY = "SELECT id, name, email, age, created_at, "
                           "updated_at FROM users WHERE age BETWEEN ? AND ? "
                           "ORDER BY age, id LIMIT ?";

enum { W_GET, W_GET_TX, W_CREATE, W_CREATE_TX, W_UPDATE, W_UPDATE_TX,
       W_BULK, W_BULK_NORET, W_QUERY, NWORK };
static const char *const wname[] = {"get", "get_tx", "create", "create_tx",
                                    "update", "update_tx", "bulk",
                                    "bulk_noret", "query"};
static const char *const target[] = {"1.2", "1.2", "1.2", "1.2", "1.2",
                                     "1.2", "1.2", "-", "1.3"};
static const char *const mname[] = {"memory", "file"};

static int ops(int w) {
    switch (w) {
    case W_GET_TX:
    case W_CREATE_TX:
    case W_UPDATE_TX:
        return N / 10;
    case W_QUERY:
        return N / 20;
    default:
        return N;
    }
}

static bool preloaded(int w) {
    return w != W_CREATE && w != W_CREATE_TX && w != W_BULK &&
           w != W_BULK_NORET;
}

/* The same inputs on both sides, made before the clock starts. */
static char (*names)[24], (*emails)[40];
static buser *objs;
static char stamp[DBCONN_TIMESTAMP_LEN];
static uint64_t rng;
static uint64_t next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static int64_t rand_id(void) { return (int64_t)(next_rand() % (uint64_t)N) + 1; }
static volatile int64_t sink;

static void make_inputs(void) {
    names = calloc((size_t)N, sizeof *names);
    emails = calloc((size_t)N, sizeof *emails);
    objs = calloc((size_t)N, sizeof *objs);
    CHECK(names && emails && objs);
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "user%d", i);
        snprintf(emails[i], sizeof emails[i], "user%d@example.org", i);
    }
    CHECK(dbconn_timestamp_format(dbconn_timestamp_now(), stamp,
                                  sizeof stamp) == 0);
}

static void reset_objs(void) {
    for (int i = 0; i < N; i++)
        objs[i] = (buser){.name = names[i], .email = emails[i],
                          .age = i % 90};
}

static double now(void) { return (double)uv_hrtime() / 1e9; }

/* ---------------------------------------------------------------- raw -- */

typedef struct raw {
    sqlite3 *db;
    sqlite3_stmt *begin, *begin_imm, *commit, *get, *ins, *ins_noret, *upd,
        *query;
} raw;

static sqlite3_stmt *prep(raw *r, const char *sql) {
    sqlite3_stmt *st;
    CHECK(sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) == SQLITE_OK);
    return st;
}

static void raw_open(raw *r, const char *path) {
    CHECK(sqlite3_open_v2(path, &r->db,
                          SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                              SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI,
                          NULL) == SQLITE_OK);
    if (path[0] == '/')
        CHECK(sqlite3_exec(r->db, "PRAGMA journal_mode=wal; "
                                  "PRAGMA synchronous=NORMAL",
                           0, 0, 0) == SQLITE_OK);
    CHECK(sqlite3_exec(r->db, "PRAGMA foreign_keys=ON", 0, 0, 0) == SQLITE_OK);
    CHECK(sqlite3_exec(r->db, SCHEMA, 0, 0, 0) == SQLITE_OK);
    r->begin = prep(r, "BEGIN");
    r->begin_imm = prep(r, "BEGIN IMMEDIATE");
    r->commit = prep(r, "COMMIT");
    r->get = prep(r, GET);
    r->ins = prep(r, INSERT);
    r->ins_noret = prep(r, INSERT_NORET);
    r->upd = prep(r, UPDATE);
    r->query = prep(r, QUERY);
}

static void raw_close(raw *r) {
    sqlite3_stmt *all[] = {r->begin, r->begin_imm, r->commit, r->get,
                           r->ins, r->ins_noret, r->upd, r->query};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        sqlite3_finalize(all[i]);
    sqlite3_close(r->db);
}

static void raw_simple(sqlite3_stmt *st) {
    CHECK(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_reset(st);
}

/* One row's columns, read in place. */
static int64_t raw_row(sqlite3_stmt *st) {
    return sqlite3_column_int64(st, 0) + sqlite3_column_text(st, 1)[0] +
           sqlite3_column_text(st, 2)[0] + sqlite3_column_int64(st, 3) +
           sqlite3_column_text(st, 4)[0] + sqlite3_column_text(st, 5)[0];
}

static void raw_get(raw *r, int64_t id) {
    sqlite3_bind_int64(r->get, 1, id);
    CHECK(sqlite3_step(r->get) == SQLITE_ROW);
    sink = raw_row(r->get);
    sqlite3_reset(r->get);
}

static void raw_insert(raw *r, buser *u, bool returning) {
    sqlite3_stmt *st = returning ? r->ins : r->ins_noret;
    sqlite3_bind_text(st, 1, u->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, u->email, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, u->age);
    sqlite3_bind_text(st, 4, stamp, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, stamp, -1, SQLITE_STATIC);
    if (returning) {
        CHECK(sqlite3_step(st) == SQLITE_ROW);
        u->id = sqlite3_column_int64(st, 0);
    }
    CHECK(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_reset(st);
}

static void raw_update(raw *r, int64_t id, int i) {
    sqlite3_bind_text(r->upd, 1, names[i], -1, SQLITE_STATIC);
    sqlite3_bind_int64(r->upd, 2, i % 90);
    sqlite3_bind_text(r->upd, 3, stamp, -1, SQLITE_STATIC);
    sqlite3_bind_int64(r->upd, 4, id);
    CHECK(sqlite3_step(r->upd) == SQLITE_DONE);
    CHECK(sqlite3_changes(r->db) == 1);
    sqlite3_reset(r->upd);
}

/* Ages 0..89 are spread evenly: a band of this many ages holds at least
 * 100 rows. */
static int64_t age_span(void) { return (100 * 90 + N - 1) / N + 1; }
static int64_t rand_age(void) {
    return (int64_t)(next_rand() % (uint64_t)(90 - age_span()));
}

static void raw_query(raw *r, int64_t age) {
    sqlite3_bind_int64(r->query, 1, age);
    sqlite3_bind_int64(r->query, 2, age + age_span() - 1);
    sqlite3_bind_int64(r->query, 3, 100);
    int n = 0;
    int64_t acc = 0;
    while (sqlite3_step(r->query) == SQLITE_ROW) {
        acc += raw_row(r->query);
        n++;
    }
    CHECK(n == 100);
    sink = acc;
    sqlite3_reset(r->query);
}

/* --------------------------------------------------------------- lib -- */

static int64_t lib_row(const buser *u) {
    return u->id + u->name[0] + u->email[0] + u->age + u->created_at +
           u->updated_at;
}

static void lib_get(int64_t id) {
    dbconn_rows *r;
    CHECK(dbconn_record_get(NULL, NULL, &buser_model,
                            DBCONN_PARAMS(DBCONN_INT(id)), &r) == 0);
    sink = lib_row(dbconn_rows_data(r));
    dbconn_rows_free(r);
}

static void lib_create(int i) {
    buser u = {.name = names[i], .email = emails[i], .age = i % 90};
    CHECK(dbconn_record_create(NULL, NULL, &buser_model, &u) == 0);
    sink = u.id;
}

static void lib_update(int64_t id, int i) {
    static const char *const cols[] = {"name", "age"};
    buser u = {.id = id, .name = names[i], .age = i % 90};
    CHECK(dbconn_record_update(NULL, NULL, &buser_model, &u, cols, 2) == 0);
}

static void lib_query(int64_t age) {
    dbconn_query *q;
    dbconn_rows *r;
    CHECK(dbconn_query_new(&q, NULL, NULL, &buser_model) == 0);
    dbconn_query_where(q, "age", DBCONN_OP_BETWEEN,
                       DBCONN_PARAMS(DBCONN_INT(age),
                                     DBCONN_INT(age + age_span() - 1)));
    dbconn_query_order_by(q, "age");
    dbconn_query_order_by(q, "id");
    dbconn_query_limit(q, 100);
    CHECK(dbconn_query_all(q, &r) == 0);
    CHECK(dbconn_rows_count(r) == 100);
    const buser *u = dbconn_rows_data(r);
    int64_t acc = 0;
    for (size_t k = 0; k < 100; k++)
        acc += lib_row(&u[k]);
    sink = acc;
    dbconn_rows_free(r);
    dbconn_query_free(q);
}

/* ---------------------------------------------------------- workloads -- */

static void raw_preload(raw *r) {
    reset_objs();
    raw_simple(r->begin);
    for (int i = 0; i < N; i++)
        raw_insert(r, &objs[i], true);
    raw_simple(r->commit);
}

/* The timed parts: functions of their own so callgrind counts them alone. */
__attribute__((noinline)) void run_raw(raw *r, int w);
__attribute__((noinline)) void run_raw(raw *r, int w) {
    int n = ops(w);
    bool in_tx = w == W_GET || w == W_CREATE || w == W_UPDATE ||
                 w == W_BULK || w == W_BULK_NORET || w == W_QUERY;
    if (in_tx)
        raw_simple(r->begin);
    for (int i = 0; i < n; i++) {
        switch (w) {
        case W_GET:
            raw_get(r, rand_id());
            break;
        case W_GET_TX:
            raw_simple(r->begin);
            raw_get(r, rand_id());
            raw_simple(r->commit);
            break;
        case W_CREATE:
        case W_BULK:
        case W_BULK_NORET:
            raw_insert(r, &objs[i], w != W_BULK_NORET);
            break;
        case W_CREATE_TX:
            raw_simple(r->begin_imm);
            raw_insert(r, &objs[i], true);
            raw_simple(r->commit);
            break;
        case W_UPDATE:
            raw_update(r, rand_id(), i);
            break;
        case W_UPDATE_TX:
            raw_simple(r->begin_imm);
            raw_update(r, rand_id(), i);
            raw_simple(r->commit);
            break;
        default:
            raw_query(r, rand_age());
            break;
        }
    }
    if (in_tx)
        raw_simple(r->commit);
}

__attribute__((noinline)) void run_lib(int w);
__attribute__((noinline)) void run_lib(int w) {
    int n = ops(w);
    if (w == W_BULK || w == W_BULK_NORET) {
        CHECK(dbconn_record_insert_many(NULL, NULL, &buser_model, objs,
                                        (size_t)n) == 0);
        return;
    }
    dbconn_session *s = NULL;
    bool in_tx = w == W_GET || w == W_CREATE || w == W_UPDATE ||
                 w == W_QUERY;
    if (in_tx) {
        CHECK(dbconn_base_session(dbconn_active_record_base(), &s) == 0);
        CHECK(dbconn_begin(s, DBCONN_BEGIN_DEFERRED) == 0);
    }
    for (int i = 0; i < n; i++) {
        switch (w) {
        case W_GET:
        case W_GET_TX:
            lib_get(rand_id());
            break;
        case W_CREATE:
        case W_CREATE_TX:
            lib_create(i);
            break;
        case W_UPDATE:
        case W_UPDATE_TX:
            lib_update(rand_id(), i);
            break;
        default:
            lib_query(rand_age());
            break;
        }
    }
    if (in_tx)
        CHECK(dbconn_commit(s) == 0);
}

static void db_path(char *buf, size_t n, const char *side, int run) {
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
        db_path(path, sizeof path, "raw", run);
    else
        snprintf(path, sizeof path, "file:/bench-record-raw-%d?vfs=memdb",
                 run);
    raw_open(&r, path);
    if (preloaded(w))
        raw_preload(&r);
    reset_objs();
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
    char path[600], url[700];
    if (medium) {
        db_path(path, sizeof path, "lib", run);
        snprintf(url, sizeof url, "sqlite:///%s?synchronous=normal", path);
    } else {
        snprintf(url, sizeof url, "sqlite://");
    }
    dbconn_base *b = dbconn_active_record_base();
    CHECK(dbconn_base_add(b, &buser_model) == 0);
    CHECK(dbconn_open(&db, url, NULL) == 0);
    CHECK(dbconn_init_db(db, NULL) == 0);
    if (preloaded(w)) {
        reset_objs();
        CHECK(dbconn_record_insert_many(NULL, NULL, &buser_model, objs,
                                        (size_t)N) == 0);
    }
    reset_objs();
    rng = 88172645463325252ull;
    double t0 = now();
    run_lib(w);
    double t = now() - t0;
    CHECK(dbconn_scoped_remove(db) == 0);
    CHECK(dbconn_close(db, NULL) == 0);
    CHECK(dbconn_base_clear(b) == 0);
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

static int find(const char *const *names_, int n, const char *s) {
    for (int k = 0; k < n; k++)
        if (strcmp(s, names_[k]) == 0)
            return k;
    return -1;
}

int main(int argc, char **argv) {
    const char *only = NULL;
    int work = -2, medium = -2, bad = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            RUNS = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--n") && i + 1 < argc)
            N = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--workload") && i + 1 < argc)
            bad |= (work = find(wname, NWORK, argv[++i])) < 0;
        else if (!strcmp(argv[i], "--medium") && i + 1 < argc)
            bad |= (medium = find(mname, 2, argv[++i])) < 0;
        else if (!strcmp(argv[i], "--only") && i + 3 < argc) {
            only = argv[++i];
            bad |= (work = find(wname, NWORK, argv[++i])) < 0;
            bad |= (medium = find(mname, 2, argv[++i])) < 0;
        } else
            bad = 1;
    }
    if (bad || RUNS < 1 || RUNS > 64 || N < 1000) {
        fprintf(stderr, "usage: bench_record [--runs R<=64] [--n N>=1000] "
                        "[--medium memory|file] [--workload NAME] "
                        "[--only raw|lib WORKLOAD MEDIUM]\n");
        return 2;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/dbconn-bench-XXXXXX", tmp ? tmp : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
    make_inputs();
    if (only) {
        if (!strcmp(only, "raw"))
            time_raw(work, medium, 0);
        else
            time_lib(work, medium, 0);
        rmdir(dir);
        return 0;
    }
    printf("libdbconn %s active record vs raw SQLite %s: N=%d, median of %d "
           "interleaved runs\n\n",
           dbconn_version_string(), sqlite3_libversion(), N, RUNS);
    printf("%-10s %-7s %12s %12s %8s %7s\n", "workload", "medium",
           "raw ops/s", "dbconn ops/s", "ratio", "target");
    for (int m = 0; m < 2; m++) {
        if (medium >= 0 && m != medium)
            continue;
        for (int w = 0; w < NWORK; w++) {
            if (work >= 0 && w != work)
                continue;
            double traw[64], tlib[64];
            for (int r = 0; r < RUNS; r++) {
                /* alternate which side goes first */
                if (r % 2) {
                    tlib[r] = time_lib(w, m, r);
                    traw[r] = time_raw(w, m, r);
                } else {
                    traw[r] = time_raw(w, m, r);
                    tlib[r] = time_lib(w, m, r);
                }
            }
            double a = median(traw, RUNS), b = median(tlib, RUNS);
            printf("%-10s %-7s %12.0f %12.0f %7.3fx %7s\n", wname[w],
                   mname[m], ops(w) / a, ops(w) / b, b / a, target[w]);
            fflush(stdout);
        }
    }
    rmdir(dir);
    free(names);
    free(emails);
    free(objs);
    return 0;
}
