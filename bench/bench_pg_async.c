/*
 * bench_pg_async — libdbconn's async API on PostgreSQL against hand-written
 * libpq doing the same work in the same run.
 *
 * Workloads on users(id bigint PRIMARY KEY, name text NOT NULL, email text
 * UNIQUE, age bigint), over the unix socket and TCP on 127.0.0.1:
 *   insert-awaited   N inserts in one transaction, each awaited before the
 *                    next is submitted; peer: raw synchronous libpq
 *                    (PQexecPrepared), synchronous_commit=off
 *   select-awaited   N autocommit point selects by random key, awaited
 *                    (libdbconn: isolation_level AUTOCOMMIT); peer: raw
 *                    synchronous libpq
 *   insert-pipelined N inserts submitted back to back and a commit; peer:
 *                    libpq pipeline mode (prepared once, batches of 256
 *                    with a sync each, the next batch sent before the
 *                    last one's results are read)
 *   tasks            T concurrent tasks (BEGIN, INSERT, SELECT of that
 *                    row, COMMIT, each awaited) over a pool of P
 *                    connections, synchronous_commit=on; peer: a
 *                    hand-written libuv + non-blocking libpq program with P
 *                    connections, each taking the next task (the floor)
 * Each figure is the median of RUNS interleaved runs (peer and libdbconn
 * alternate, their order flipping every run); ratios are libdbconn's time
 * over the peer's.  Two clocks: wall time, and CPU time -- the client
 * process's (every thread: getrusage) plus its server backends'
 * (/proc/<pid>/schedstat).  On a machine shared with other work the wall
 * clock mostly measures waits for a CPU; the CPU time is what the work
 * cost on both ends of the socket.  The raw sides prepare each statement once, send
 * bigints binary and text as text, and read every column in place.
 *
 *   --rss  instead: peak RSS (VmHWM) of a process that runs only the
 *          tasks workload (libdbconn, then the floor), each in a child.
 * The timed parts are run_raw, run_floor and run_lib, for callgrind's
 * --toggle-collect (bench/callgrind_pg_async.sh).
 *
 * usage: bench_pg_async --server DIR [--runs R] [--n N] [--tasks T]
 *                       [--pool P] [--policy loop|threadpool]
 *                       [--only WORKLOAD] [--rss]
 *   DIR is a cluster of scripts/pg-test-server.sh (DIR/url, DIR/url-tcp).
 */
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <dbconn.h>

static int N = 20000, T = 1000, POOL = 10, RUNS = 7;
static int POLICY = DBCONN_EXEC_LOOP;
static char urls[2][1024]; /* unix, tcp */
static const char *const mname[] = {"unix", "tcp"};

enum { W_INSERT_AWAIT, W_SELECT_AWAIT, W_INSERT_PIPE, W_TASKS, NWORK };
static const char *const wname[] = {"insert-awaited", "select-awaited",
                                    "insert-pipelined", "tasks"};
static const char *const peer_name[] = {"raw libpq", "raw libpq",
                                        "libpq pipeline", "libuv+libpq"};

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
static const char *RAW_INSERT =
    "INSERT INTO users (id, name, email, age) VALUES ($1, $2, $3, $4)";
static const char *RAW_SELECT =
    "SELECT id, name, email, age FROM users WHERE id = $1";

static double now(void) { return (double)uv_hrtime() / 1e9; }

/* The backends of the side being timed (pg_backend_pid()s). */
static int backends[64], nbackends;

static double backend_cpu(void) {
    double sum = 0;
    for (int i = 0; i < nbackends; i++) {
        char path[64];
        unsigned long long ns = 0;
        snprintf(path, sizeof path, "/proc/%d/schedstat", backends[i]);
        FILE *f = fopen(path, "r");
        if (f && fscanf(f, "%llu", &ns) == 1)
            sum += (double)ns / 1e9;
        if (f)
            fclose(f);
    }
    return sum;
}

static double client_cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* A run's cost: wall seconds and CPU seconds (client + backends). */
typedef struct cost {
    double wall, cpu;
} cost;

static cost t0;
static void clock_start(void) {
    t0.cpu = client_cpu() + backend_cpu();
    t0.wall = now();
}
static cost clock_stop(void) {
    cost c = {now() - t0.wall, client_cpu() + backend_cpu() - t0.cpu};
    return c;
}

static uint64_t rng;
static int64_t rand_id(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (int64_t)(rng % (uint64_t)N) + 1;
}

static volatile int64_t sink;
static int64_t next_id; /* fresh keys for inserts, above the filled rows */

/* ---- raw libpq ----------------------------------------------------------- */

static void raw_ok(PGresult *r) {
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
        st != PGRES_PIPELINE_SYNC) {
        fprintf(stderr, "raw: %s", PQresultErrorMessage(r));
        exit(1);
    }
    PQclear(r);
}

static PGconn *raw_connect(int medium, bool sync_commit) {
    PGconn *c = PQconnectdb(urls[medium]);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "raw connect: %s", PQerrorMessage(c));
        exit(1);
    }
    raw_ok(PQexec(c, sync_commit ? "SET synchronous_commit = on"
                                 : "SET synchronous_commit = off"));
    raw_ok(PQprepare(c, "ins", RAW_INSERT, 0, NULL));
    raw_ok(PQprepare(c, "sel", RAW_SELECT, 0, NULL));
    return c;
}

static void put_be64(char *dst, uint64_t x) {
    for (int k = 7; k >= 0; k--, x >>= 8)
        dst[k] = (char)(x & 0xff);
}

/* An insert's parameters as the raw side sends them. */
typedef struct ins_params {
    char name[32], email[48], idb[8], ageb[8];
    const char *v[4];
} ins_params;
static const int INS_LEN[4] = {8, 0, 0, 8}, INS_FMT[4] = {1, 0, 0, 1};

static void ins_fill(ins_params *p, int64_t id) {
    snprintf(p->name, sizeof p->name, "user%lld", (long long)id);
    snprintf(p->email, sizeof p->email, "user%lld@example.com",
             (long long)id);
    put_be64(p->idb, (uint64_t)id);
    put_be64(p->ageb, (uint64_t)(id % 90));
    p->v[0] = p->idb;
    p->v[1] = p->name;
    p->v[2] = p->email;
    p->v[3] = p->ageb;
}

static void read_row(PGresult *r) {
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        fprintf(stderr, "raw select: %s", PQresultErrorMessage(r));
        exit(1);
    }
    sink += strtoll(PQgetvalue(r, 0, 0), NULL, 10) + PQgetlength(r, 0, 1) +
            PQgetlength(r, 0, 2) + strtoll(PQgetvalue(r, 0, 3), NULL, 10);
}

static void raw_select(PGconn *c, int64_t id) {
    char idb[8];
    put_be64(idb, (uint64_t)id);
    const char *v[1] = {idb};
    static const int len[1] = {8}, fmt[1] = {1};
    PGresult *r = PQexecPrepared(c, "sel", 1, v, len, fmt, 0);
    read_row(r);
    PQclear(r);
}

/* Reads the results of one pipeline batch, through its sync. */
static void pipe_read_batch(PGconn *c) {
    for (;;) {
        PGresult *r = PQgetResult(c);
        if (!r)
            continue; /* between two commands' results */
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            return;
        }
        raw_ok(r);
    }
}

enum { PIPE_BATCH = 256 };

static int pipe_send_batch(PGconn *c, int sent) {
    int end = sent + PIPE_BATCH < N ? sent + PIPE_BATCH : N;
    for (; sent < end; sent++) {
        ins_params p;
        ins_fill(&p, next_id++);
        CHECK(PQsendQueryPrepared(c, "ins", 4, p.v, INS_LEN, INS_FMT, 0));
    }
    if (sent == N)
        CHECK(PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0));
    CHECK(PQpipelineSync(c));
    return sent;
}

__attribute__((noinline)) void run_raw(PGconn *c, int w);
__attribute__((noinline)) void run_raw(PGconn *c, int w) {
    if (w == W_INSERT_AWAIT) {
        raw_ok(PQexec(c, "BEGIN"));
        for (int i = 0; i < N; i++) {
            ins_params p;
            ins_fill(&p, next_id++);
            raw_ok(PQexecPrepared(c, "ins", 4, p.v, INS_LEN, INS_FMT, 0));
        }
        raw_ok(PQexec(c, "COMMIT"));
    } else if (w == W_SELECT_AWAIT) {
        for (int i = 0; i < N; i++)
            raw_select(c, rand_id());
    } else { /* W_INSERT_PIPE */
        CHECK(PQenterPipelineMode(c));
        CHECK(PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0));
        int sent = pipe_send_batch(c, 0), batches = 1, read = 0;
        while (read < batches) {
            if (sent < N) { /* the next batch goes out before reading */
                sent = pipe_send_batch(c, sent);
                batches++;
            }
            pipe_read_batch(c);
            read++;
        }
        CHECK(PQexitPipelineMode(c));
    }
}

/* ---- the floor: libuv + non-blocking libpq, P connections ---------------- */

typedef struct fconn {
    PGconn *pg;
    uv_poll_t poll;
    int step; /* 0 BEGIN, 1 INSERT, 2 SELECT, 3 COMMIT */
    int64_t id;
    struct floor_run *run;
} fconn;

typedef struct floor_run {
    uv_loop_t loop;
    fconn c[64];
    int started, done;
} floor_run;

static void floor_send(fconn *f) {
    PGconn *pg = f->pg;
    char idb[8];
    ins_params p;
    static const int len[1] = {8}, fmt[1] = {1};
    switch (f->step) {
    case 0:
        CHECK(PQsendQueryParams(pg, "BEGIN", 0, NULL, NULL, NULL, NULL, 0));
        break;
    case 1:
        ins_fill(&p, f->id);
        CHECK(PQsendQueryPrepared(pg, "ins", 4, p.v, INS_LEN, INS_FMT, 0));
        break;
    case 2: {
        put_be64(idb, (uint64_t)f->id);
        const char *v[1] = {idb};
        CHECK(PQsendQueryPrepared(pg, "sel", 1, v, len, fmt, 0));
        break;
    }
    default:
        CHECK(PQsendQueryParams(pg, "COMMIT", 0, NULL, NULL, NULL, NULL, 0));
    }
    (void)PQflush(pg);
}

/* The next task for f, or its watcher stops. */
static void floor_next_task(fconn *f) {
    floor_run *r = f->run;
    if (r->started == T) {
        uv_poll_stop(&f->poll);
        return;
    }
    r->started++;
    f->id = next_id++;
    f->step = 0;
    floor_send(f);
}

static void floor_on_poll(uv_poll_t *h, int status, int events) {
    (void)events;
    fconn *f = h->data;
    CHECK(status == 0 && PQconsumeInput(f->pg));
    while (!PQisBusy(f->pg)) {
        PGresult *res = PQgetResult(f->pg);
        if (!res) { /* the statement is over: the next step */
            if (++f->step == 4) {
                f->run->done++;
                floor_next_task(f);
            } else {
                floor_send(f);
            }
            return;
        }
        if (f->step == 2)
            read_row(res);
        raw_ok(res);
    }
}

static void floor_open(floor_run *r, int medium) {
    memset(r, 0, sizeof *r);
    CHECK(uv_loop_init(&r->loop) == 0);
    for (int i = 0; i < POOL; i++) {
        fconn *f = &r->c[i];
        f->run = r;
        f->pg = raw_connect(medium, true);
        CHECK(PQsetnonblocking(f->pg, 1) == 0);
        CHECK(uv_poll_init(&r->loop, &f->poll, PQsocket(f->pg)) == 0);
        f->poll.data = f;
    }
}

__attribute__((noinline)) void run_floor(floor_run *r);
__attribute__((noinline)) void run_floor(floor_run *r) {
    for (int i = 0; i < POOL; i++) {
        CHECK(uv_poll_start(&r->c[i].poll, UV_READABLE, floor_on_poll) == 0);
        floor_next_task(&r->c[i]);
    }
    CHECK(uv_run(&r->loop, UV_RUN_DEFAULT) == 0);
    CHECK(r->done == T);
}

static void floor_close(floor_run *r) {
    for (int i = 0; i < POOL; i++)
        uv_close((uv_handle_t *)&r->c[i].poll, NULL);
    CHECK(uv_run(&r->loop, UV_RUN_DEFAULT) == 0);
    CHECK(uv_loop_close(&r->loop) == 0);
    for (int i = 0; i < POOL; i++)
        PQfinish(r->c[i].pg);
}

/* ---- libdbconn ------------------------------------------------------------ */

typedef struct lib {
    uv_loop_t loop;
    dbconn *db;
    dbconn_session *s;
    int w, left, done, failed;
} lib;

static void lib_url(char *out, size_t cap, int medium, bool sync_commit) {
    snprintf(out, cap, "%s%coptions=-c%%20synchronous_commit%%3D%s",
             urls[medium], strchr(urls[medium], '?') ? '&' : '?',
             sync_commit ? "on" : "off");
}

static void lib_open(lib *l, int medium, int w) {
    memset(l, 0, sizeof *l);
    l->w = w;
    CHECK(uv_loop_init(&l->loop) == 0);
    char url[1200];
    lib_url(url, sizeof url, medium, w == W_TASKS);
    dbconn_options o = {
        .pool_size = w == W_TASKS ? POOL : 1, .max_overflow = DBCONN_NONE,
        .loop = &l->loop, .execution_policy = POLICY,
        .isolation_level = w == W_SELECT_AWAIT ? "AUTOCOMMIT" : NULL};
    CHECK(dbconn_open(&l->db, url, &o) == 0);
    /* The pool's connections open and their statements prepared (each
     * run twice: the cache prepares at the second run), as the peers'
     * are: one session per connection, held together. */
    dbconn_session *s[64];
    int n = w == W_TASKS ? POOL : 1;
    for (int k = 0; k < n; k++) {
        CHECK(dbconn_session_open(l->db, &s[k]) == 0);
        for (int r = 0; r < 2; r++) {
            CHECK(dbconn_exec(s[k], SELECT, DBCONN_PARAMS(DBCONN_INT(1)),
                              NULL) == 0);
            CHECK(dbconn_exec(s[k], INSERT,
                              DBCONN_PARAMS(DBCONN_INT(-1 - k * 2 - r),
                                            DBCONN_TEXT("w"), DBCONN_NULL,
                                            DBCONN_INT(0)),
                              NULL) == 0);
        }
    }
    nbackends = n;
    for (int k = 0; k < n; k++) {
        dbconn_result *res;
        CHECK(dbconn_exec(s[k], "SELECT pg_backend_pid()", NULL, 0, &res) ==
              0);
        backends[k] = (int)dbconn_result_int(res, 0, 0);
        dbconn_result_free(res);
        CHECK(dbconn_rollback(s[k]) == 0);
        dbconn_session_close(s[k]);
    }
    CHECK(dbconn_session_open(l->db, &l->s) == 0);
}

static void lib_close(lib *l) {
    if (l->s)
        dbconn_session_close(l->s);
    CHECK(dbconn_close(l->db, NULL) == 0);
    CHECK(uv_run(&l->loop, UV_RUN_DEFAULT) == 0);
    CHECK(uv_loop_close(&l->loop) == 0);
}

static void submit(lib *l);

static int read_lib_row(dbconn_result *res) {
    if (!res || dbconn_result_nrows(res) != 1)
        return -1;
    sink += dbconn_result_int(res, 0, 0) + dbconn_result_int(res, 0, 3) +
            (int64_t)dbconn_result_text_len(res, 0, 1) +
            (int64_t)dbconn_result_text_len(res, 0, 2);
    return 0;
}

static void on_commit(int status, void *data) {
    lib *l = data;
    if (status) {
        fprintf(stderr, "bench_pg_async: %s\n", dbconn_errmsg(NULL));
        l->failed++;
    }
    l->done++;
}

static void on_exec(int status, dbconn_result *res, void *data) {
    lib *l = data;
    if (status) {
        fprintf(stderr, "bench_pg_async: %s\n", dbconn_errmsg(NULL));
        l->failed++;
    } else if (l->w == W_SELECT_AWAIT && read_lib_row(res) != 0) {
        l->failed++;
    }
    dbconn_result_free(res);
    if (l->w == W_INSERT_PIPE)
        return;
    if (--l->left > 0)
        submit(l);
    else if (l->w == W_INSERT_AWAIT)
        CHECK(dbconn_commit_async(l->s, on_commit, l) == 0);
    else
        l->done++;
}

static void submit_insert(lib *l) {
    int64_t id = next_id++;
    char name[32], email[48];
    snprintf(name, sizeof name, "user%lld", (long long)id);
    snprintf(email, sizeof email, "user%lld@example.com", (long long)id);
    CHECK(dbconn_exec_async(l->s, INSERT,
                            DBCONN_PARAMS(DBCONN_INT(id), DBCONN_TEXT(name),
                                          DBCONN_TEXT(email),
                                          DBCONN_INT(id % 90)),
                            on_exec, l) == 0);
}

static void submit(lib *l) {
    if (l->w == W_SELECT_AWAIT)
        CHECK(dbconn_exec_async(l->s, SELECT,
                                DBCONN_PARAMS(DBCONN_INT(rand_id())), on_exec,
                                l) == 0);
    else
        submit_insert(l);
}

/* A task: its scoped session, four awaited steps. */
typedef struct task {
    lib *l;
    dbconn_session *s;
    int64_t id;
    int step;
} task;

static void task_step(task *t);

static void task_commit(int status, void *data) {
    task *t = data;
    if (status) {
        fprintf(stderr, "bench_pg_async: task: %s\n", dbconn_errmsg(NULL));
        t->l->failed++;
    }
    dbconn_scoped_remove_key(t->l->db, t);
    t->l->done++;
}

static void task_exec(int status, dbconn_result *res, void *data) {
    task *t = data;
    if (status) {
        fprintf(stderr, "bench_pg_async: task: %s\n", dbconn_errmsg(NULL));
        t->l->failed++;
    } else if (t->step == 2 && read_lib_row(res) != 0) {
        t->l->failed++;
    }
    dbconn_result_free(res);
    task_step(t);
}

static void task_step(task *t) {
    void *prev = dbconn_task_enter(t);
    CHECK(dbconn_scoped_session(t->l->db, &t->s) == 0);
    int step = ++t->step;
    if (step == 1) { /* BEGIN is implicit: sent with the insert */
        char name[32], email[48];
        snprintf(name, sizeof name, "user%lld", (long long)t->id);
        snprintf(email, sizeof email, "user%lld@example.com",
                 (long long)t->id);
        CHECK(dbconn_exec_async(t->s, INSERT,
                                DBCONN_PARAMS(DBCONN_INT(t->id),
                                              DBCONN_TEXT(name),
                                              DBCONN_TEXT(email),
                                              DBCONN_INT(t->id % 90)),
                                task_exec, t) == 0);
    } else if (step == 2) {
        CHECK(dbconn_exec_async(t->s, SELECT,
                                DBCONN_PARAMS(DBCONN_INT(t->id)), task_exec,
                                t) == 0);
    } else {
        CHECK(dbconn_commit_async(t->s, task_commit, t) == 0);
    }
    dbconn_task_leave(prev);
}

__attribute__((noinline)) void run_lib(lib *l, task *tasks);
__attribute__((noinline)) void run_lib(lib *l, task *tasks) {
    if (l->w == W_TASKS) {
        for (int i = 0; i < T; i++) {
            tasks[i] = (task){.l = l, .id = next_id++};
            task_step(&tasks[i]);
        }
    } else if (l->w == W_INSERT_PIPE) {
        for (int i = 0; i < N; i++)
            submit_insert(l);
        CHECK(dbconn_commit_async(l->s, on_commit, l) == 0);
    } else {
        l->left = N;
        submit(l);
    }
    CHECK(uv_run(&l->loop, UV_RUN_DEFAULT) == 0);
    CHECK(l->failed == 0);
    CHECK(l->done == (l->w == W_TASKS ? T : 1));
}

/* ---- one run of each side ------------------------------------------------ */

static void prepare_table(int medium) {
    PGconn *c = PQconnectdb(urls[medium]);
    CHECK(PQstatus(c) == CONNECTION_OK);
    raw_ok(PQexec(c, SCHEMA));
    char fill[256];
    snprintf(fill, sizeof fill, FILL, N);
    raw_ok(PQexec(c, fill));
    raw_ok(PQexec(c, "VACUUM ANALYZE users"));
    PQfinish(c);
    next_id = N + 1;
}

static cost time_peer(int medium, int w) {
    cost t;
    rng = 88172645463325252u;
    if (w == W_TASKS) {
        floor_run *r = malloc(sizeof *r);
        CHECK(r);
        floor_open(r, medium);
        nbackends = POOL;
        for (int i = 0; i < POOL; i++)
            backends[i] = PQbackendPID(r->c[i].pg);
        clock_start();
        run_floor(r);
        t = clock_stop();
        floor_close(r);
        free(r);
        return t;
    }
    PGconn *c = raw_connect(medium, false);
    nbackends = 1;
    backends[0] = PQbackendPID(c);
    clock_start();
    run_raw(c, w);
    t = clock_stop();
    PQfinish(c);
    return t;
}

static cost time_lib(int medium, int w) {
    lib l;
    rng = 88172645463325252u;
    lib_open(&l, medium, w);
    task *tasks = w == W_TASKS ? calloc((size_t)T, sizeof *tasks) : NULL;
    CHECK(w != W_TASKS || tasks);
    clock_start();
    run_lib(&l, tasks);
    cost t = clock_stop();
    free(tasks);
    lib_close(&l);
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

static long vm_hwm_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

/* Peak RSS of a child that runs the tasks workload once on `side`. */
static long rss_of(int side) {
    prepare_table(0); /* each child inserts the same fresh keys */
    int fd[2];
    CHECK(pipe(fd) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        if (side)
            (void)time_lib(0, W_TASKS);
        else
            (void)time_peer(0, W_TASKS);
        long kib = vm_hwm_kib();
        CHECK(write(fd[1], &kib, sizeof kib) == (ssize_t)sizeof kib);
        _exit(0);
    }
    close(fd[1]);
    long kib = -1;
    CHECK(read(fd[0], &kib, sizeof kib) == (ssize_t)sizeof kib);
    close(fd[0]);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
          WEXITSTATUS(st) == 0);
    return kib;
}

static void read_url(const char *dir, const char *name, char *out,
                     size_t cap) {
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f || !fgets(out, (int)cap, f)) {
        fprintf(stderr, "bench_pg_async: cannot read %s (start a server "
                        "with scripts/pg-test-server.sh start DIR)\n",
                path);
        exit(2);
    }
    fclose(f);
    out[strcspn(out, "\r\n")] = 0;
}

int main(int argc, char **argv) {
    const char *server = NULL, *only = NULL;
    bool rss = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--server") == 0 && i + 1 < argc)
            server = argv[++i];
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            RUNS = atoi(argv[++i]);
        else if (strcmp(argv[i], "--n") == 0 && i + 1 < argc)
            N = atoi(argv[++i]);
        else if (strcmp(argv[i], "--tasks") == 0 && i + 1 < argc)
            T = atoi(argv[++i]);
        else if (strcmp(argv[i], "--pool") == 0 && i + 1 < argc)
            POOL = atoi(argv[++i]);
        else if (strcmp(argv[i], "--policy") == 0 && i + 1 < argc) {
            i++;
            POLICY = strcmp(argv[i], "threadpool") == 0 ? DBCONN_EXEC_THREADPOOL
                     : strcmp(argv[i], "loop") == 0     ? DBCONN_EXEC_LOOP
                                                        : -1;
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (strcmp(argv[i], "--rss") == 0)
            rss = true;
        else
            RUNS = 0;
    }
    if (!server || RUNS < 1 || RUNS > 64 || N < 1 || T < 1 || POOL < 1 ||
        POOL > 64 || POLICY < 0) {
        fprintf(stderr,
                "usage: bench_pg_async --server DIR [--runs 1..64] [--n N] "
                "[--tasks T] [--pool 1..64] [--policy loop|threadpool] "
                "[--only WORKLOAD] [--rss]\n");
        return 2;
    }
    read_url(server, "url", urls[0], sizeof urls[0]);
    read_url(server, "url-tcp", urls[1], sizeof urls[1]);
    prepare_table(0);
    if (rss) {
        long lib_kib = rss_of(1), floor_kib = rss_of(0);
        printf("peak RSS, %d tasks over a pool of %d (unix socket): "
               "libdbconn %.1f MiB, libuv+libpq floor %.1f MiB\n",
               T, POOL, lib_kib / 1024.0, floor_kib / 1024.0);
        return 0;
    }
    static double tw[2][NWORK][2][64], tc[2][NWORK][2][64];
    for (int r = 0; r < RUNS; r++)
        for (int m = 0; m < 2; m++)
            for (int w = 0; w < NWORK; w++) {
                if (only && strcmp(only, wname[w]) != 0)
                    continue;
                if (w == W_INSERT_AWAIT || w == W_INSERT_PIPE || r == 0)
                    prepare_table(m); /* same table size for every run */
                for (int k = 0; k < 2; k++) {
                    int side = (k + r) % 2; /* order flips every run */
                    cost c = side ? time_lib(m, w) : time_peer(m, w);
                    tw[m][w][side][r] = c.wall;
                    tc[m][w][side][r] = c.cpu;
                }
            }
    printf("libdbconn %s, libpq %d, policy %s: N=%d, T=%d over a pool of "
           "%d, median of %d interleaved runs\n\n",
           dbconn_version_string(), PQlibVersion(),
           POLICY == DBCONN_EXEC_LOOP ? "loop" : "threadpool", N, T, POOL,
           RUNS);
    printf("%-24s %-15s %10s %12s %8s %8s\n", "workload", "peer", "peer /s",
           "libdbconn /s", "wall", "cpu");
    for (int m = 0; m < 2; m++)
        for (int w = 0; w < NWORK; w++) {
            if (only && strcmp(only, wname[w]) != 0)
                continue;
            int n = w == W_TASKS ? T : N;
            double peer = median(tw[m][w][0], RUNS);
            double lib = median(tw[m][w][1], RUNS);
            double pc = median(tc[m][w][0], RUNS);
            double lc = median(tc[m][w][1], RUNS);
            char name[64];
            snprintf(name, sizeof name, "%s/%s", mname[m], wname[w]);
            printf("%-24s %-15s %10.0f %12.0f %7.3fx %7.3fx\n", name,
                   peer_name[w], n / peer, n / lib, lib / peer, lc / pc);
        }
    return 0;
}
