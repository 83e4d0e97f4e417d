/*
 * bench_pg — libdbconn's synchronous API on PostgreSQL against raw libpq
 * doing the same work in the same run.
 *
 * Workloads on users(id bigint PRIMARY KEY, name text NOT NULL, email text
 * UNIQUE, age bigint), N rows, synchronous_commit=off on both sides:
 *   insert    N inserts in one transaction
 *   select    N autocommit point selects by random key (libdbconn:
 *             isolation_level AUTOCOMMIT, so no BEGIN is sent -- what the
 *             raw side does)
 *   txselect  N point selects inside one transaction
 * over the unix socket and over TCP on 127.0.0.1.  The raw side prepares
 * each statement once (PQprepare), sends the parameters as libdbconn does
 * (bigint binary, text as text) and reads every column in place
 * (PQgetvalue; integers parsed); libdbconn runs dbconn_exec (its statement
 * cache prepares the statement at its second run) and reads every column
 * from the buffered result (text copied into it).  Both sides use the same
 * random keys.  Each figure is the median of RUNS interleaved runs (raw and
 * libdbconn alternate, their order flipping every run).
 *
 * Two clocks: wall time, and CPU time -- the client process's plus its
 * server backend's (/proc/<pid>/schedstat: nanoseconds on a CPU, kernel
 * work for the socket included).  On a machine shared with other work the
 * wall clock mostly measures the waits for a CPU; the CPU time is what
 * the work itself cost, on both ends of the socket.
 *
 *   --formats   instead: raw libpq with text results against raw libpq
 *               with binary results (txselect, both media): the
 *               measurement behind the driver's choice of the text format.
 *
 * usage: bench_pg --server DIR [--runs R] [--n N] [--formats]
 *                 [--only raw|lib|bin WORKLOAD unix|tcp]
 *   DIR is a cluster of scripts/pg-test-server.sh (DIR/url, DIR/url-tcp);
 *   --only runs one side once (for callgrind: bench/callgrind_pg.sh).
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <dbconn.h>

static int N = 20000;
static int RUNS = 7;
static char urls[2][1024]; /* unix, tcp */
static const char *const mname[] = {"unix", "tcp"};

enum { W_INSERT, W_SELECT, W_TXSELECT, NWORK };
static const char *const wname[] = {"insert", "select", "txselect"};

#define CHECK(x)                                                                \
    do {                                                                        \
        if (!(x)) {                                                             \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #x,   \
                    dbconn_errmsg(NULL));                                       \
            exit(1);                                                            \
        }                                                                       \
    } while (0)

static const char *SCHEMA =
    "DROP TABLE IF EXISTS users; CREATE TABLE users (id bigint PRIMARY KEY, "
    "name text NOT NULL, email text UNIQUE, age bigint)";
static const char *FILL =
    "TRUNCATE users; INSERT INTO users SELECT g, 'user' || g, "
    "'user' || g || '@example.com', g % 90 FROM generate_series(1, %d) g";
static const char *INSERT =
    "INSERT INTO users (id, name, email, age) VALUES (?, ?, ?, ?)";
static const char *SELECT =
    "SELECT id, name, email, age FROM users WHERE id = ?";
/* The same statements as the raw side writes them. */
static const char *RAW_INSERT =
    "INSERT INTO users (id, name, email, age) VALUES ($1, $2, $3, $4)";
static const char *RAW_SELECT =
    "SELECT id, name, email, age FROM users WHERE id = $1";

static uint64_t rng;
static uint64_t next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double now(void) { return (double)uv_hrtime() / 1e9; }

/* Seconds process `pid` (0: this one) has run on a CPU. */
static double cpu_of(int pid) {
    char path[64];
    unsigned long long ns = 0;
    if (pid)
        snprintf(path, sizeof path, "/proc/%d/schedstat", pid);
    else
        snprintf(path, sizeof path, "/proc/self/schedstat");
    FILE *f = fopen(path, "r");
    if (!f || fscanf(f, "%llu", &ns) != 1) {
        fprintf(stderr, "bench_pg: cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    return (double)ns / 1e9;
}

/* A run's cost: wall seconds and CPU seconds (client + backend). */
typedef struct cost {
    double wall, cpu;
} cost;

static double t_wall0, t_cpu0;

static void clock_start(int backend) {
    t_cpu0 = cpu_of(0) + cpu_of(backend);
    t_wall0 = now();
}

static cost clock_stop(int backend) {
    cost c;
    c.wall = now() - t_wall0;
    c.cpu = cpu_of(0) + cpu_of(backend) - t_cpu0;
    return c;
}

static volatile int64_t sink;

/* ---------------------------------------------------------------- raw -- */

static PGconn *raw_connect(int medium) {
    PGconn *c = PQconnectdb(urls[medium]);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "raw connect: %s", PQerrorMessage(c));
        exit(1);
    }
    return c;
}

static void raw_ok(PGresult *r) {
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        fprintf(stderr, "raw: %s", PQresultErrorMessage(r));
        exit(1);
    }
    PQclear(r);
}

static void put_be64(char *dst, uint64_t x) {
    for (int k = 7; k >= 0; k--, x >>= 8)
        dst[k] = (char)(x & 0xff);
}

static void raw_insert(PGconn *c, int64_t id) {
    char name[32], email[48], idb[8], ageb[8];
    snprintf(name, sizeof name, "user%lld", (long long)id);
    snprintf(email, sizeof email, "user%lld@example.com", (long long)id);
    put_be64(idb, (uint64_t)id);
    put_be64(ageb, (uint64_t)(id % 90));
    const char *v[4] = {idb, name, email, ageb};
    static const int len[4] = {8, 0, 0, 8}, fmt[4] = {1, 0, 0, 1};
    raw_ok(PQexecPrepared(c, "ins", 4, v, len, fmt, 0));
}

static int64_t be64(const char *p) {
    uint64_t x = 0;
    for (int k = 0; k < 8; k++)
        x = x << 8 | (unsigned char)p[k];
    return (int64_t)x;
}

/* One point select, every column read in place. */
static void raw_select(PGconn *c, int64_t id, int result_format) {
    char idb[8];
    put_be64(idb, (uint64_t)id);
    const char *v[1] = {idb};
    static const int len[1] = {8}, fmt[1] = {1};
    PGresult *r = PQexecPrepared(c, "sel", 1, v, len, fmt, result_format);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        fprintf(stderr, "raw select: %s", PQresultErrorMessage(r));
        exit(1);
    }
    if (result_format)
        sink += be64(PQgetvalue(r, 0, 0)) + PQgetlength(r, 0, 1) +
                PQgetlength(r, 0, 2) + be64(PQgetvalue(r, 0, 3));
    else
        sink += strtoll(PQgetvalue(r, 0, 0), NULL, 10) +
                PQgetlength(r, 0, 1) + PQgetlength(r, 0, 2) +
                strtoll(PQgetvalue(r, 0, 3), NULL, 10);
    PQclear(r);
}

/* The timed part of the raw side (named for callgrind's toggle). */
__attribute__((noinline)) void run_raw(PGconn *c, int w, int format);
__attribute__((noinline)) void run_raw(PGconn *c, int w, int format) {
    if (w != W_SELECT)
        raw_ok(PQexec(c, "BEGIN"));
    for (int i = 0; i < N; i++) {
        if (w == W_INSERT)
            raw_insert(c, N + 1 + i);
        else
            raw_select(c, (int64_t)(next_rand() % (uint64_t)N) + 1, format);
    }
    if (w != W_SELECT)
        raw_ok(PQexec(c, "COMMIT"));
}

static void raw_prepare(PGconn *c) {
    static const Oid ins_types[4] = {20, 0, 0, 20}, sel_types[1] = {20};
    raw_ok(PQprepare(c, "ins", RAW_INSERT, 4, ins_types));
    raw_ok(PQprepare(c, "sel", RAW_SELECT, 1, sel_types));
}

static cost time_raw(int w, int medium, int run, int format) {
    PGconn *c = raw_connect(medium);
    raw_prepare(c);
    rng = 0x9E3779B97F4A7C15u + (uint64_t)run;
    int backend = PQbackendPID(c);
    clock_start(backend);
    run_raw(c, w, format);
    cost t = clock_stop(backend);
    if (w == W_INSERT)
        raw_ok(PQexec(c, "DELETE FROM users WHERE id > (SELECT count(*) / 2 "
                         "FROM users)"));
    PQfinish(c);
    return t;
}

/* ---------------------------------------------------------- libdbconn -- */

static void lib_insert(dbconn_session *s, int64_t id) {
    char name[32], email[48];
    snprintf(name, sizeof name, "user%lld", (long long)id);
    snprintf(email, sizeof email, "user%lld@example.com", (long long)id);
    CHECK(dbconn_exec(s, INSERT,
                      DBCONN_PARAMS(DBCONN_INT(id), DBCONN_TEXT(name),
                                    DBCONN_TEXT(email), DBCONN_INT(id % 90)),
                      NULL) == 0);
}

static void lib_select(dbconn_session *s, int64_t id) {
    dbconn_result *r;
    CHECK(dbconn_exec(s, SELECT, DBCONN_PARAMS(DBCONN_INT(id)), &r) == 0);
    sink += dbconn_result_int(r, 0, 0) + (int64_t)dbconn_result_text_len(r, 0, 1) +
            (int64_t)dbconn_result_text_len(r, 0, 2) + dbconn_result_int(r, 0, 3);
    dbconn_result_free(r);
}

__attribute__((noinline)) void run_lib(dbconn_session *s, int w);
__attribute__((noinline)) void run_lib(dbconn_session *s, int w) {
    for (int i = 0; i < N; i++) {
        if (w == W_INSERT)
            lib_insert(s, N + 1 + i);
        else
            lib_select(s, (int64_t)(next_rand() % (uint64_t)N) + 1);
    }
    CHECK(dbconn_commit(s) == 0);
}

static cost time_lib(int w, int medium, int run) {
    dbconn *db;
    dbconn_session *s;
    dbconn_result *r;
    dbconn_options o = {.pool_size = 1};
    if (w == W_SELECT)
        o.isolation_level = "AUTOCOMMIT";
    CHECK(dbconn_open(&db, urls[medium], &o) == 0);
    CHECK(dbconn_session_open(db, &s) == 0);
    /* The raw side prepares before its clock starts; so does this one:
     * two runs of each statement make it a server-side statement. */
    if (w == W_INSERT) {
        for (int i = 0; i < 2; i++)
            lib_insert(s, -1 - i);
        CHECK(dbconn_rollback(s) == 0);
    } else {
        for (int i = 0; i < 2; i++)
            lib_select(s, 1);
        CHECK(dbconn_commit(s) == 0);
    }
    /* pool_size 1: the backend of the one connection */
    CHECK(dbconn_exec(s, "SELECT pg_backend_pid()", NULL, 0, &r) == 0);
    int backend = (int)dbconn_result_int(r, 0, 0);
    dbconn_result_free(r);
    CHECK(dbconn_commit(s) == 0);
    rng = 0x9E3779B97F4A7C15u + (uint64_t)run;
    clock_start(backend);
    run_lib(s, w);
    cost t = clock_stop(backend);
    if (w == W_INSERT) {
        CHECK(dbconn_exec(s, "DELETE FROM users WHERE id > (SELECT count(*) "
                             "/ 2 FROM users)",
                          NULL, 0, NULL) == 0);
        CHECK(dbconn_commit(s) == 0);
    }
    dbconn_session_close(s);
    CHECK(dbconn_close(db, NULL) == 0);
    return t;
}

/* ------------------------------------------------------------- driver -- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The round trip: an empty query on raw libpq, wall and CPU per query. */
static void round_trips(void) {
    int n = N / 4 > 1000 ? N / 4 : 1000;
    for (int m = 0; m < 2; m++) {
        double wall[64], cpu[64];
        PGconn *c = raw_connect(m);
        int backend = PQbackendPID(c);
        for (int run = 0; run < RUNS; run++) {
            clock_start(backend);
            for (int i = 0; i < n; i++)
                PQclear(PQexec(c, ""));
            cost t = clock_stop(backend);
            wall[run] = t.wall / n * 1e6;
            cpu[run] = t.cpu / n * 1e6;
        }
        PQfinish(c);
        printf("round trip (empty query, raw libpq) %-4s: %.2f us wall, %.2f "
               "us cpu (client + backend), median of %d x %d\n",
               mname[m], median(wall, RUNS), median(cpu, RUNS), RUNS, n);
    }
}

static void quiet(void *arg, const char *msg) {
    (void)arg;
    (void)msg;
}

static void setup_table(void) {
    PGconn *c = raw_connect(0);
    char fill[512];
    PQsetNoticeProcessor(c, quiet, NULL);
    raw_ok(PQexec(c, SCHEMA));
    snprintf(fill, sizeof fill, FILL, N);
    raw_ok(PQexec(c, fill));
    raw_ok(PQexec(c, "VACUUM ANALYZE users"));
    PQfinish(c);
}

/* Reads DIR/name's first line into out with the bench's settings added. */
static void read_url(const char *dir, const char *name, char *out,
                     size_t cap) {
    char path[600], line[900];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f || !fgets(line, sizeof line, f)) {
        fprintf(stderr, "bench_pg: cannot read %s (start a server with "
                        "scripts/pg-test-server.sh start DIR)\n",
                path);
        exit(1);
    }
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    snprintf(out, cap, "%s%coptions=-c%%20synchronous_commit%%3Doff", line,
             strchr(line, '?') ? '&' : '?');
}

static int find(const char *name, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    fprintf(stderr, "bench_pg: unknown name \"%s\"\n", name);
    exit(2);
}

/* Medians over the runs of one workload and medium: each side's cost, the
 * ratio of the medians (b / a) and the median of the per-run ratios (each
 * run's two sides ran back to back), for the wall clock and the CPU. */
static void report(const char *w, const char *m, cost *a, cost *b, int n) {
    double aw[64], bw[64], ac[64], bc[64], rw[64], rc[64];
    for (int i = 0; i < n; i++) {
        aw[i] = a[i].wall;
        bw[i] = b[i].wall;
        ac[i] = a[i].cpu;
        bc[i] = b[i].cpu;
        rw[i] = bw[i] / aw[i];
        rc[i] = bc[i] / ac[i];
    }
    double maw = median(aw, n), mbw = median(bw, n);
    double mac = median(ac, n), mbc = median(bc, n);
    printf("%-9s %-5s %9.0f %9.0f %7.2f %7.2f %6.3fx %6.3fx %7.2f %7.2f "
           "%6.3fx %6.3fx\n",
           w, m, N / maw, N / mbw, maw / N * 1e6, mbw / N * 1e6, mbw / maw,
           median(rw, n), mac / N * 1e6, mbc / N * 1e6, mbc / mac,
           median(rc, n));
}

static void compare(int nwork, const int *works, bool formats) {
    int n = RUNS;
    cost (*ta)[2][8] = calloc((size_t)n, sizeof *ta);
    cost (*tb)[2][8] = calloc((size_t)n, sizeof *tb);
    CHECK(ta && tb);
    for (int run = 0; run < n; run++)
        for (int m = 0; m < 2; m++)
            for (int k = 0; k < nwork; k++) {
                int w = works[k];
                cost *a = &ta[run][m][k], *b = &tb[run][m][k];
                if (run % 2) { /* alternate which side goes first */
                    *b = formats ? time_raw(w, m, run, 1) : time_lib(w, m, run);
                    *a = time_raw(w, m, run, 0);
                } else {
                    *a = time_raw(w, m, run, 0);
                    *b = formats ? time_raw(w, m, run, 1) : time_lib(w, m, run);
                }
            }
    const char *sa = formats ? "text" : "raw", *sb = formats ? "binary" : "dbconn";
    printf("%-9s %-5s %9s %9s %7s %7s %7s %7s %7s %7s %7s %7s\n", "", "",
           "ops/s", "ops/s", "wall us", "wall us", "wall", "paired", "cpu us",
           "cpu us", "cpu", "paired");
    printf("%-9s %-5s %9s %9s %7s %7s %7s %7s %7s %7s %7s %7s\n", "workload",
           "media", sa, sb, sa, sb, "ratio", "ratio", sa, sb, "ratio",
           "ratio");
    for (int m = 0; m < 2; m++)
        for (int k = 0; k < nwork; k++) {
            cost a[64], b[64];
            for (int run = 0; run < n; run++) {
                a[run] = ta[run][m][k];
                b[run] = tb[run][m][k];
            }
            report(wname[works[k]], mname[m], a, b, n);
        }
    printf("(N=%d per run, medians of %d interleaved runs; ratio = %s / %s "
           "of the medians, paired = median of the per-run ratios; cpu = the "
           "client process + its server backend, per operation)\n",
           N, n, sb, sa);
    free(ta);
    free(tb);
}

int main(int argc, char **argv) {
    const char *server = NULL, *only = NULL;
    int only_w = 0, only_m = 0;
    bool formats = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--server") == 0 && i + 1 < argc)
            server = argv[++i];
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            RUNS = atoi(argv[++i]);
        else if (strcmp(argv[i], "--n") == 0 && i + 1 < argc)
            N = atoi(argv[++i]);
        else if (strcmp(argv[i], "--formats") == 0)
            formats = true;
        else if (strcmp(argv[i], "--only") == 0 && i + 3 < argc) {
            only = argv[++i];
            only_w = find(argv[++i], wname, NWORK);
            only_m = find(argv[++i], mname, 2);
        } else {
            fprintf(stderr, "usage: bench_pg --server DIR [--runs R] [--n N] "
                            "[--formats] [--only raw|lib|bin WORKLOAD "
                            "unix|tcp]\n");
            return 2;
        }
    }
    if (!server || RUNS < 1 || RUNS > 64 || N < 1) {
        fprintf(stderr, "bench_pg: --server DIR is required (1 <= runs <= "
                        "64)\n");
        return 2;
    }
    read_url(server, "url", urls[0], sizeof urls[0]);
    read_url(server, "url-tcp", urls[1], sizeof urls[1]);
    setup_table();
    if (only) {
        if (strcmp(only, "lib") == 0)
            (void)time_lib(only_w, only_m, 0);
        else
            (void)time_raw(only_w, only_m, 0, strcmp(only, "bin") == 0);
        return 0;
    }
    round_trips();
    if (formats) {
        const int w[] = {W_TXSELECT};
        compare(1, w, true);
    } else {
        const int w[] = {W_INSERT, W_SELECT, W_TXSELECT};
        compare(NWORK, w, false);
    }
    return 0;
}
