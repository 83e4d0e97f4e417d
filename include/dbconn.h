/*
 * libdbconn — an embeddable database connection library for C.
 *
 * One call turns a database URL plus engine options into a ready connection
 * object (engine, connection pool, session factory and a task-scoped session
 * registry); dbconn_init_db() creates a base model's tables and binds its
 * session pointer; dbconn_close() unbinds it and disposes of everything.
 * It is the C form of Python's sqlactive.DBConnection.
 *
 * Conventions (libuv / SQLite):
 *   - Every fallible call returns int: 0 on success, a negative DBCONN_E* code
 *     on failure.  On failure every out-parameter is set to NULL.
 *   - dbconn_errmsg() gives the calling thread's last failure message.
 *   - Handles are opaque.  Every *_open / *_new has a *_close / *_free that
 *     accepts NULL.
 *   - "Borrowed" means the library keeps no reference after the call returns
 *     (unless stated) and the caller keeps ownership; "owned" means the
 *     receiver must release it with the named function.
 *
 * This is the only installed header.  MIT licensed; see LICENSE.
 */
#ifndef DBCONN_H
#define DBCONN_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* libuv's loop type, declared rather than included so that this header
 * compiles under strict -std=c11 without libuv's feature-test needs.  Include
 * <uv.h> yourself to run a loop for the *_async calls.  (C11 allows the same
 * typedef twice, so including both in any order is fine.) */
typedef struct uv_loop_s uv_loop_t;
typedef struct uv_handle_s uv_handle_t; /* the same, for dbconn_task_close_cb */

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  define DBCONN_EXTERN __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#  define DBCONN_EXTERN __attribute__((visibility("default")))
#else
#  define DBCONN_EXTERN
#endif

/* ------------------------------------------------------------------------ */
/* Version                                                                  */
/* ------------------------------------------------------------------------ */

#define DBCONN_VERSION_MAJOR 0
#define DBCONN_VERSION_MINOR 1
#define DBCONN_VERSION_PATCH 0
#define DBCONN_VERSION_HEX                                                      \
    ((DBCONN_VERSION_MAJOR << 16) | (DBCONN_VERSION_MINOR << 8) |               \
     DBCONN_VERSION_PATCH)

/* The version of the library actually linked: DBCONN_VERSION_HEX form. */
DBCONN_EXTERN unsigned dbconn_version(void);
/* "0.1.0"; static storage, never NULL. */
DBCONN_EXTERN const char *dbconn_version_string(void);

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

/* One table gives the codes, their names and their messages.  Values are
 * fixed and only ever appended to. */
#define DBCONN_ERRNO_MAP(XX)                                                    \
    XX(EINVAL, -1, "invalid argument or state")                                \
    XX(EURL, -2, "invalid database URL")                                       \
    XX(ENODRIVER, -3, "no driver for this URL's dialect in this build")        \
    XX(EOPTION, -4, "invalid option")                                          \
    XX(ENOMEM, -5, "out of memory")                                            \
    XX(EDB, -6, "database error")                                              \
    XX(ECONSTRAINT, -7, "constraint violation")                                \
    XX(EBUSY, -8, "database is locked")                                        \
    XX(ETIMEOUT, -9, "timed out waiting for a pooled connection")              \
    XX(ECLOSED, -10, "connection or session is closed")                        \
    XX(ECANCELED, -11, "operation canceled")                                   \
    XX(EABORTED, -12, "transaction aborted by an earlier failure; roll back")  \
    XX(ENOTFOUND, -13, "no row matched")                                       \
    XX(EMULTIPLE, -14, "more than one row matched where one was expected")     \
    XX(ECONNLOST, -15, "the connection to the database server was lost")       \
    XX(ESTMTTIMEOUT, -16, "statement timed out (statement_timeout)")           \
    XX(EINTERRUPTED, -17, "statement interrupted by dbconn_cancel")

typedef enum dbconn_errno {
#define DBCONN_ERRNO_ENUM_(name, value, msg) DBCONN_##name = (value),
    DBCONN_ERRNO_MAP(DBCONN_ERRNO_ENUM_)
#undef DBCONN_ERRNO_ENUM_
    DBCONN_OK = 0
} dbconn_errno;

/* Static description of a code; never NULL ("unknown error" for others). */
DBCONN_EXTERN const char *dbconn_strerror(int code);
/* Static name of a code ("DBCONN_EURL"); never NULL. */
DBCONN_EXTERN const char *dbconn_err_name(int code);

typedef struct dbconn dbconn;
typedef struct dbconn_session dbconn_session;
typedef struct dbconn_result dbconn_result;
typedef struct dbconn_base dbconn_base;

/* The calling thread's last failure message (thread-local: each thread sees
 * its own).  `db` may be NULL, e.g. after a failed dbconn_open() or
 * dbconn_options_set().  Never NULL; "" before any failure.  Valid until the
 * next failing call on this thread. */
DBCONN_EXTERN const char *dbconn_errmsg(const dbconn *db);
/* The native driver code (e.g. SQLite's extended result code) of the calling
 * thread's last failure when the driver reported it (EDB, ECONSTRAINT, EBUSY
 * from SQLite, ...); 0 when the library itself failed the call (EINVAL, the
 * write gate's EBUSY, ETIMEOUT, ...).  From PostgreSQL: the SQLSTATE packed
 * the way the server packs it (MAKE_SQLSTATE: six bits per character, the
 * first character lowest), e.g. DBCONN_SQLSTATE('2','3','5','0','5') for a
 * unique violation; dbconn_sqlstate() gives the same as text. */
DBCONN_EXTERN int dbconn_db_errcode(const dbconn *db);
/* The five-character SQLSTATE of the calling thread's last failure when a
 * server engine reported one ("23505"), "" otherwise (SQLite, failures of
 * the library itself).  Thread-local like dbconn_errmsg (`db` may be NULL);
 * never NULL; valid until the next failing call on this thread. */
DBCONN_EXTERN const char *dbconn_sqlstate(const dbconn *db);
/* A SQLSTATE's five characters as dbconn_db_errcode() packs them: an integer
 * constant expression, e.g. for a switch on dbconn_db_errcode(). */
#define DBCONN_SQLSTATE(c1, c2, c3, c4, c5)                                     \
    ((((c1) - '0') & 0x3F) | ((((c2) - '0') & 0x3F) << 6) |                     \
     ((((c3) - '0') & 0x3F) << 12) | ((((c4) - '0') & 0x3F) << 18) |            \
     ((((c5) - '0') & 0x3F) << 24))

/* ------------------------------------------------------------------------ */
/* Allocator hooks (like hiredis): set before any other call.               */
/* ------------------------------------------------------------------------ */

typedef struct dbconn_allocator {
    void *(*malloc_fn)(size_t size);
    void *(*calloc_fn)(size_t count, size_t size);
    void *(*realloc_fn)(void *ptr, size_t size);
    void (*free_fn)(void *ptr);
} dbconn_allocator;

/* Installs `a` (copied) for every allocation the library makes itself; NULL
 * restores the C library's.  If `prev` is not NULL it receives the previous
 * set.  Not thread-safe: call before anything else.  SQLite's and libuv's own
 * allocators are theirs to configure (sqlite3_config, uv_replace_allocator).
 * The hooks run under the library's locks: calls back into libdbconn other
 * than its pure functions return DBCONN_EINVAL there. */
DBCONN_EXTERN void dbconn_set_allocator(const dbconn_allocator *a,
                                        dbconn_allocator *prev);

/* ------------------------------------------------------------------------ */
/* URLs: dialect[+driver]://[user[:password]@][host|[ipv6]][:port][/db][?q]  */
/* ------------------------------------------------------------------------ */

typedef struct dbconn_url dbconn_url;

/* Parses `url` (borrowed) as SQLAlchemy 1.4's make_url() does, so that one
 * URL names one database for both (docs/urls.md lists the few deliberate
 * differences).  On success *out is owned by the caller (free with
 * dbconn_url_free).  The password runs from the username's ':' to the '@'
 * that ends the userinfo and may hold '/', '?' and ':' unencoded (a raw '@'
 * in it: the last '@' before the host ends it).  User and password are
 * percent-decoded ('+' stays '+'); query keys and values too, with '+' as a
 * space; the database is kept as written (not decoded).  Errors:
 * DBCONN_EURL naming the part and the position, with the password hidden,
 * DBCONN_EINVAL for NULL arguments, DBCONN_ENOMEM. */
DBCONN_EXTERN int dbconn_url_parse(dbconn_url **out, const char *url);
DBCONN_EXTERN void dbconn_url_free(dbconn_url *u);

/* Accessors: strings are owned by `u`, NULL when the part is absent. */
DBCONN_EXTERN const char *dbconn_url_dialect(const dbconn_url *u);
DBCONN_EXTERN const char *dbconn_url_driver(const dbconn_url *u);
DBCONN_EXTERN const char *dbconn_url_username(const dbconn_url *u);
DBCONN_EXTERN const char *dbconn_url_password(const dbconn_url *u);
DBCONN_EXTERN const char *dbconn_url_host(const dbconn_url *u); /* no [] */
DBCONN_EXTERN int dbconn_url_port(const dbconn_url *u);         /* 0 = none */
DBCONN_EXTERN const char *dbconn_url_database(const dbconn_url *u);
DBCONN_EXTERN size_t dbconn_url_query_count(const dbconn_url *u);
DBCONN_EXTERN const char *dbconn_url_query_key(const dbconn_url *u, size_t i);
DBCONN_EXTERN const char *dbconn_url_query_value(const dbconn_url *u,
                                                 size_t i);
/* Last value of `key`, or NULL. */
DBCONN_EXTERN const char *dbconn_url_query_get(const dbconn_url *u,
                                               const char *key);

#define DBCONN_URL_SHOW_PASSWORD 1u /* render the password instead of *** */

/* Renders `u` into `buf` (size bytes, may be 0 / NULL) snprintf-style and
 * returns the length the full rendering needs (excluding the NUL).  Parts are
 * percent-encoded where needed (a space in the query as '+') so that the
 * unmasked rendering parses back to an equal URL.  Without
 * DBCONN_URL_SHOW_PASSWORD the password, even an empty one, is "***". */
DBCONN_EXTERN size_t dbconn_url_render(const dbconn_url *u, unsigned flags,
                                       char *buf, size_t size);

/* ------------------------------------------------------------------------ */
/* Engine options                                                           */
/* ------------------------------------------------------------------------ */

/* In dbconn_options, 0 means "default"; DBCONN_NONE means zero/none/off. */
#define DBCONN_NONE INT_MIN

enum {
    DBCONN_LOG_DEBUG = 10,
    DBCONN_LOG_INFO = 20,
    DBCONN_LOG_WARN = 30,
    DBCONN_LOG_ERROR = 40
};

/* Returns the current scope key; must be cheap, may be called any number of
 * times, from any thread the library runs on.  It must not call back into
 * libdbconn beyond dbconn_current_task and the other pure functions
 * (messages, error names): other calls return DBCONN_EINVAL there. */
typedef void *(*dbconn_scopefunc)(void *scope_data);
/* One log event, one line (no trailing newline).  May be called from libuv
 * worker threads; the library serialises the calls.  `line` is borrowed.
 * The library may hold a lock, a connection or a statement while it runs:
 * calls back into libdbconn other than the pure functions (messages, error
 * names, result and URL getters, the current task) return DBCONN_EINVAL
 * there. */
typedef void (*dbconn_log_fn)(void *log_data, int level, const char *line);

typedef struct dbconn_options { /* a zeroed struct means "all defaults" */
    int echo;                   /* 0 off, 1 SQL + params, 2 also rows */
    dbconn_log_fn log;          /* echo sink; NULL = stderr */
    void *log_data;
    int pool_size;              /* 0 = 5; DBCONN_NONE = no limit */
    int max_overflow;           /* 0 = 10; DBCONN_NONE none; -1 unlimited */
    int pool_timeout_ms;        /* 0 = 30000; DBCONN_NONE = do not wait */
    int pool_recycle_s;         /* 0 = never */
    bool pool_pre_ping;         /* ping a connection before handing it out */
    int busy_timeout_ms;        /* sqlite; 0 = 5000; DBCONN_NONE = fail at once.
                                   postgresql: lock_timeout, only when set */
    const char *journal_mode;   /* NULL = WAL for files; delete|truncate|
                                   persist|memory|wal|off.  Borrowed for the
                                   duration of dbconn_open only. */
    const char *isolation_level; /* NULL = driver default; sqlite:
                                    "SERIALIZABLE" | "READ UNCOMMITTED";
                                    postgresql: also "READ COMMITTED",
                                    "REPEATABLE READ", "AUTOCOMMIT" */
    int statement_cache_size;   /* 0 = 64 per pooled connection; NONE = off */
    uv_loop_t *loop;            /* for *_async calls; NULL = uv_default_loop() */
    dbconn_scopefunc scopefunc; /* NULL = dbconn_current_task */
    void *scope_data;
    /* --- additions (all zero = default) --- */
    bool hide_parameters;       /* echo shows ? instead of parameter values */
    const char *synchronous;    /* sqlite; NULL = SQLite's default (FULL);
                                   off|normal|full|extra */
    int foreign_keys;           /* sqlite; 0 = on; DBCONN_NONE = off */
    int begin_mode;             /* DBCONN_BEGIN_*; 0 = deferred */
    int execution_policy;       /* DBCONN_EXEC_*; 0 = the driver's best:
                                   loop on postgresql, threadpool on
                                   sqlite */
    /* --- pool upkeep and holders (docs/options.md) --- */
    int pool_idle_timeout_s;    /* close connections idle longer; 0 = never */
    const char *logging_name;   /* SQLAlchemy's: the engine's name in every
                                   log line ("dbconn.engine.<name>" on
                                   stderr, "[<name>] " before a log
                                   callback's line); NULL = none; 1..64
                                   printable ASCII characters, no space.
                                   Borrowed for the duration of dbconn_open
                                   only (copied). */
    const char *pragmas;        /* sqlite: "name=value;name=value" pragmas
                                   run on every new pooled connection, from
                                   an allow-list (docs/options.md); NULL =
                                   none.  Borrowed for the duration of
                                   dbconn_open only.  By name:
                                   "pragma.NAME" appends one. */
    void *owned;                /* the library's copies of the values
                                   dbconn_options_set stored (logging_name,
                                   pragma.NAME): release with
                                   dbconn_options_clear; otherwise NULL */
    int pool_use_lifo;          /* 0 = on: check out the most recently
                                   used idle connection; DBCONN_NONE = off
                                   (FIFO, SQLAlchemy's default) */
    int hold_warn_ms;           /* WARN once when a checkout (and the write
                                   gate with it) is held longer; 0 = off */
    int statement_timeout;      /* ms a statement may run; 0 = no limit
                                   (the default; DBCONN_NONE too).  Per
                                   session: dbconn_session_set_statement_
                                   timeout().  Past it: DBCONN_ESTMTTIMEOUT */
    void *reserved[3];          /* must stay zero (the struct keeps the
                                   size it had with reserved[8]: 192 bytes
                                   on LP64) */
} dbconn_options;

/* Transaction start modes for dbconn_begin() and options.begin_mode. */
enum {
    DBCONN_BEGIN_DEFAULT = 0,   /* the engine's begin_mode */
    DBCONN_BEGIN_DEFERRED = 1,  /* locks taken at first read / first write */
    DBCONN_BEGIN_IMMEDIATE = 2, /* write lock taken at BEGIN: use for
                                   read-then-write transactions */
    DBCONN_BEGIN_EXCLUSIVE = 3
};

/* Execution policies for the async API. */
enum {
    DBCONN_EXEC_DEFAULT = 0,    /* loop where the driver has it
                                   (postgresql), else threadpool */
    DBCONN_EXEC_THREADPOOL = 1, /* statements on libuv's thread pool */
    DBCONN_EXEC_INLINE = 2,     /* statements on the loop thread; callbacks
                                   never inside the submitting call (a later
                                   loop phase) */
    DBCONN_EXEC_LOOP = 3        /* postgresql: statements sent and their
                                   results read on the loop thread without
                                   blocking it, a session's queued
                                   statements pipelined (one round trip);
                                   DBCONN_EOPTION on sqlite */
};

/* Sets an option by name, the C spelling of Python keyword arguments.
 * Names are the struct field names; SQLAlchemy's names are accepted in their
 * own units (pool_timeout and pool_recycle in seconds, timeout = busy timeout
 * in seconds, echo=debug, ...).  "0" means zero (stored as DBCONN_NONE).
 * Booleans: true/false/1/0/yes/no/on/off, any case.  `key` and `value` are
 * borrowed; string values are stored as pointers to the library's own static
 * canonical spellings.  Errors: DBCONN_EOPTION naming the key, the value and
 * what is accepted; DBCONN_EINVAL for NULL arguments.  An unknown key or
 * choice value names the nearest valid one ("did you mean ...?").
 * Free-form values (logging_name, "pragma.NAME" = value, which appends
 * "NAME=value" to o->pragmas) are copied into storage the struct owns
 * through o->owned: release it with dbconn_options_clear once dbconn_open
 * has run (a copy of the struct shares it: clear one of them, once). */
DBCONN_EXTERN int dbconn_options_set(dbconn_options *o, const char *key,
                                     const char *value);
/* Releases what dbconn_options_set stored in o (o->owned) and zeroes *o
 * (every option back to its default).  NULL is a no-op. */
DBCONN_EXTERN void dbconn_options_clear(dbconn_options *o);

/* ------------------------------------------------------------------------ */
/* Connection                                                               */
/* ------------------------------------------------------------------------ */

/* Creates the engine, its pool, the session factory and the scoped session
 * registry.  `url` is borrowed (parsed and copied); `opts` (NULL = defaults)
 * is copied, but `log_data`, `loop` and `scope_data` are kept as given and
 * must outlive the dbconn.  URL query options override `opts`.  Opens and
 * checks one connection, so a bad path or a locked file fails here.
 * *out is owned by the caller: release with dbconn_close(). */
DBCONN_EXTERN int dbconn_open(dbconn **out, const char *url,
                              const dbconn_options *opts);

/* Creates every table and index of `base` (NULL = the default base) that does
 * not exist, in foreign-key order, in one transaction, then binds the base's
 * session pointer to db's scoped registry.  Idempotent.  Binding a base
 * already bound to another open dbconn is DBCONN_EINVAL. */
DBCONN_EXTERN int dbconn_init_db(dbconn *db, dbconn_base *base);

/* Unbinds every base bound to `db` (`base`: NULL or a base bound to db),
 * closes every scoped session (rolling back what is uncommitted, logging how
 * many were open at DBCONN_LOG_WARN), turns factory-made sessions into closed
 * ones, cancels queued async work (DBCONN_ECANCELED), lets started jobs
 * finish, closes every pooled connection and releases `db`.  That happens
 * inside the call unless async callbacks are pending; then it finishes
 * during later uv_run turns (see dbconn_close_async to learn when).  After
 * any async use, call it on the loop's thread and run the loop afterwards:
 * the async layer's handles are released there.  Always disposes of `db`;
 * returns 0 or the first teardown error.  NULL is a no-op.  While a row
 * callback (dbconn_exec_each) runs on one of db's sessions -- the caller's
 * own, or another thread's -- db is closing at once (its sessions return
 * DBCONN_ECLOSED) and the rest happens when the last iteration returns. */
DBCONN_EXTERN int dbconn_close(dbconn *db, dbconn_base *base);

/* The URL as given, password masked; owned by db. */
DBCONN_EXTERN const char *dbconn_url_string(const dbconn *db);
/* The dialect name ("sqlite", "postgresql"); owned by the library. */
DBCONN_EXTERN const char *dbconn_dialect(const dbconn *db);

typedef struct dbconn_stats {
    int size;                   /* connections open (idle + checked out) */
    int checked_out;
    int overflow;               /* connections open beyond pool_size */
    int waiters;                /* checkouts waiting now */
    uint64_t checkouts;
    uint64_t timeouts;          /* checkouts that gave up: DBCONN_ETIMEOUT */
    uint64_t cache_hits;        /* prepared statements reused */
    uint64_t cache_misses;      /* prepared statements compiled */
    uint64_t busy_handler_calls; /* sqlite busy handler invocations */
    uint64_t gate_waits;        /* writers that waited for the write gate */
    uint64_t async_jobs;        /* thread-pool hops (or inline runs) made */
    uint64_t async_peak;        /* most async jobs ever in flight at once */
    uint64_t async_chained;     /* session queues a worker ran right after
                                   its own job, when it handed them the
                                   write gate (no hop; not in async_jobs) */
    uint64_t reaped;            /* idle connections closed by
                                   pool_idle_timeout_s */
    uint64_t hold_warnings;     /* hold_warn_ms warnings logged */
    uint64_t reserved[1];
} dbconn_stats;

/* Fills *st (caller-owned) with a consistent snapshot. */
DBCONN_EXTERN int dbconn_pool_stats(const dbconn *db, dbconn_stats *st);

/* Who holds a checked-out connection, as dbconn_pool_holders reports it.
 * Everything is copied into the struct: it owns no memory and points to
 * nothing the caller must keep alive.  `session` and `task` are identities
 * to compare, not to dereference: the session may be gone by the time the
 * caller reads them. */
typedef struct dbconn_holder {
    const dbconn_session *session; /* NULL: checked out, no session has
                                      claimed it yet (starting) */
    void *task;                 /* the session's scope key (scoped sessions);
                                   NULL for dbconn_session_open sessions */
    uint64_t held_ms;           /* since the connection was checked out */
    bool holds_gate;            /* it holds the engine's write gate */
    uint64_t gate_held_ms;      /* since it took the write gate */
    char sql[128];              /* the statement it last ran: SQL text only
                                   (parameter values are never recorded),
                                   whitespace collapsed, cut with "..."; ""
                                   = none yet in this checkout */
    void *reserved[4];
} dbconn_holder;

/* Lists db's checked-out connections, longest held first: up to `cap`
 * into out[] (caller-owned; may be NULL when cap is 0), *n = how many are
 * checked out (may exceed cap).  A snapshot: holders come and go.
 * DBCONN_EINVAL for NULL db or n, or out NULL with cap > 0. */
DBCONN_EXTERN int dbconn_pool_holders(const dbconn *db, dbconn_holder *out,
                                      size_t cap, size_t *n);

/* ------------------------------------------------------------------------ */
/* Values and results                                                       */
/* ------------------------------------------------------------------------ */

enum {
    DBCONN_TYPE_NULL = 0,
    DBCONN_TYPE_INTEGER = 1,
    DBCONN_TYPE_REAL = 2,
    DBCONN_TYPE_TEXT = 3,
    DBCONN_TYPE_BLOB = 4,
    DBCONN_TYPE_BOOLEAN = 5,    /* model columns; stored as 0/1 integers */
    DBCONN_TYPE_TIMESTAMP = 6   /* model columns; stored as ISO-8601 text */
};

#define DBCONN_NTS ((size_t)-1) /* text length: NUL-terminated */

/* A parameter value.  Text and blob bytes are borrowed for the call (the
 * async calls copy them at submission). */
typedef struct dbconn_value {
    int type; /* DBCONN_TYPE_* (TIMESTAMP binds as text; BOOLEAN as an
                 integer on sqlite, a boolean on postgresql) */
    union {
        int64_t i;
        double r;
        struct {
            const void *ptr;
            size_t len; /* DBCONN_NTS for NUL-terminated text */
        } b;
    } u;
} dbconn_value;

#define DBCONN_NULL ((dbconn_value){.type = DBCONN_TYPE_NULL})
#define DBCONN_INT(x) ((dbconn_value){.type = DBCONN_TYPE_INTEGER, .u.i = (x)})
#define DBCONN_BOOL(x)                                                          \
    ((dbconn_value){.type = DBCONN_TYPE_INTEGER, .u.i = (x) ? 1 : 0})
#define DBCONN_REAL(x) ((dbconn_value){.type = DBCONN_TYPE_REAL, .u.r = (x)})
#define DBCONN_TEXT(s)                                                          \
    ((dbconn_value){.type = DBCONN_TYPE_TEXT, .u.b = {(s), DBCONN_NTS}})
#define DBCONN_TEXTN(s, n)                                                      \
    ((dbconn_value){.type = DBCONN_TYPE_TEXT, .u.b = {(s), (n)}})
#define DBCONN_BLOB(p, n)                                                       \
    ((dbconn_value){.type = DBCONN_TYPE_BLOB, .u.b = {(p), (n)}})
/* DBCONN_PARAMS(a, b, ...) expands to two arguments: an array and its count. */
#define DBCONN_PARAMS(...)                                                      \
    (const dbconn_value[]){__VA_ARGS__},                                        \
        (sizeof((const dbconn_value[]){__VA_ARGS__}) / sizeof(dbconn_value))

/* A result is fully buffered: it does not depend on its session or
 * connection and may be read from any thread.  Whoever receives it owns it. */
DBCONN_EXTERN size_t dbconn_result_nrows(const dbconn_result *r);
DBCONN_EXTERN size_t dbconn_result_ncols(const dbconn_result *r);
/* Owned by r; NULL when out of range. */
DBCONN_EXTERN const char *dbconn_result_colname(const dbconn_result *r,
                                                size_t col);
/* Index of the column named `name`, or DBCONN_EINVAL. */
DBCONN_EXTERN int dbconn_result_colindex(const dbconn_result *r,
                                         const char *name);
/* DBCONN_TYPE_* of one value, or DBCONN_EINVAL when out of range. */
DBCONN_EXTERN int dbconn_result_type(const dbconn_result *r, size_t row,
                                     size_t col);
/* Out of range or NULL: 0.  A REAL value is truncated. */
DBCONN_EXTERN int64_t dbconn_result_int(const dbconn_result *r, size_t row,
                                        size_t col);
/* Out of range or NULL: 0.0.  An INTEGER value is converted. */
DBCONN_EXTERN double dbconn_result_real(const dbconn_result *r, size_t row,
                                        size_t col);
/* NUL-terminated, owned by r; NULL for SQL NULL, non-text or out of range. */
DBCONN_EXTERN const char *dbconn_result_text(const dbconn_result *r,
                                             size_t row, size_t col);
DBCONN_EXTERN size_t dbconn_result_text_len(const dbconn_result *r, size_t row,
                                            size_t col);
/* Owned by r; NULL (and *len 0) for non-blob or out of range. */
DBCONN_EXTERN const void *dbconn_result_blob(const dbconn_result *r,
                                             size_t row, size_t col,
                                             size_t *len);
/* Rows changed by an INSERT/UPDATE/DELETE; 0 for statements that only
 * read. */
DBCONN_EXTERN int64_t dbconn_result_changes(const dbconn_result *r);
/* Rowid of the last successful INSERT on that connection (as SQLite keeps
 * it: an UPDATE or DELETE leaves it unchanged); 0 for statements that only
 * read.  PostgreSQL has no rowid: there it is the first column of the last
 * row of an INSERT ... RETURNING when that column is an integer (RETURNING
 * id), and 0 after an INSERT without one. */
DBCONN_EXTERN int64_t dbconn_result_last_insert_id(const dbconn_result *r);
DBCONN_EXTERN void dbconn_result_free(dbconn_result *r);

/* ------------------------------------------------------------------------ */
/* Sessions (unit of work)                                                  */
/* ------------------------------------------------------------------------ */

/* The session factory.  A session holds a pooled connection only from its
 * first statement (autobegin) until commit / rollback / close.  *out is owned
 * by the caller: release with dbconn_session_close().  A session belongs to
 * one thread (or task) at a time. */
DBCONN_EXTERN int dbconn_session_open(dbconn *db, dbconn_session **out);

/* Runs one SQL statement (trailing whitespace and comments are fine; a second
 * statement is DBCONN_EINVAL).  Placeholders are `?`.  `sql` and `params` are
 * borrowed.  *out (may be NULL) receives an owned, fully buffered result.
 * A cached query that provably returns at most one row (a lookup by primary
 * key or unique index) stops at that row, as hand-written code would.
 * After a failure inside a transaction, later statements and commit return
 * DBCONN_EABORTED until dbconn_rollback(). */
DBCONN_EXTERN int dbconn_exec(dbconn_session *s, const char *sql,
                              const dbconn_value *params, size_t nparams,
                              dbconn_result **out);

/* Like dbconn_exec, but keeps at most the first row (SQLAlchemy's
 * Result.first()): the statement is reset after its first row without being
 * stepped to the end, and any remaining rows are discarded unread (what
 * dbconn_exec does by itself for a lookup by key).  *out (may be NULL) receives an owned
 * result with the statement's columns and 0 or 1 row.  `sql` and `params`
 * are borrowed.  A write with RETURNING has been applied whole when its
 * first row comes back (SQLite runs every change first), so the changes,
 * the counts of *out and any error the statement's end reports are as with
 * dbconn_exec; for a read, an error SQLite would only meet at a later row is
 * not seen.  Everything else is as dbconn_exec: autobegin, the statement
 * cache, echo (with echo = 2, the kept row only), and after a failure inside
 * a transaction DBCONN_EABORTED until dbconn_rollback(). */
DBCONN_EXTERN int dbconn_exec_first(dbconn_session *s, const char *sql,
                                    const dbconn_value *params, size_t nparams,
                                    dbconn_result **out);

/* Streams rows: `cb` gets each row as a one-row result (borrowed, valid
 * during the call only).  A non-zero return from `cb` stops the iteration;
 * dbconn_exec_each still returns 0.
 * While the rows are read, the session's connection and statement are in
 * use, so the callback may run other statements on `s` (they join its
 * transaction; iterations nest) and use other sessions, but may not end
 * the transaction: dbconn_commit, dbconn_rollback, dbconn_begin, a
 * transaction-control statement and the async calls on `s` return
 * DBCONN_EINVAL there.  When a statement the callback runs fails and
 * leaves the transaction aborted, the iteration stops with DBCONN_EABORTED
 * (a dbconn_savepoint_rollback that recovers lets it go on).  Closing `s`
 * (dbconn_session_close, dbconn_scoped_remove*) or its dbconn
 * (dbconn_close*) from the callback stops the iteration when the callback
 * returns and takes effect as dbconn_exec_each returns DBCONN_ECLOSED:
 * `s` may be freed by then. */
typedef int (*dbconn_row_cb)(void *data, const dbconn_result *row);
DBCONN_EXTERN int dbconn_exec_each(dbconn_session *s, const char *sql,
                                   const dbconn_value *params, size_t nparams,
                                   dbconn_row_cb cb, void *data);

/* Runs a script of several statements (no parameters, no results) inside the
 * session's transaction.  The session owns its transaction: a script with
 * transaction control anywhere (BEGIN, COMMIT, END, ROLLBACK, SAVEPOINT,
 * RELEASE, START TRANSACTION, ...) is DBCONN_EINVAL naming the statement,
 * before any of it runs.  Semicolons inside literals, quoted identifiers,
 * dollar quotes, comments and trigger bodies do not split statements. */
DBCONN_EXTERN int dbconn_exec_script(dbconn_session *s, const char *sql);

/* Begins explicitly (mode DBCONN_BEGIN_*).  DBCONN_EINVAL if a transaction
 * is already open. */
DBCONN_EXTERN int dbconn_begin(dbconn_session *s, int mode);
DBCONN_EXTERN int dbconn_commit(dbconn_session *s);
DBCONN_EXTERN int dbconn_rollback(dbconn_session *s);
DBCONN_EXTERN bool dbconn_in_transaction(const dbconn_session *s);

/* Savepoints (a transaction is begun if none is open).  `name` is an
 * identifier of letters, digits and '_' . */
DBCONN_EXTERN int dbconn_savepoint(dbconn_session *s, const char *name);
DBCONN_EXTERN int dbconn_savepoint_release(dbconn_session *s,
                                           const char *name);
DBCONN_EXTERN int dbconn_savepoint_rollback(dbconn_session *s,
                                            const char *name);

/* Stopping a statement (docs/guide.md, "Stopping a statement").
 *
 * Stops the statement s is running now -- a dbconn_exec, exec_first,
 * exec_each (with the statements its row callback runs), exec_script, or
 * an async op running in a thread-pool job, inline, or sent on the loop
 * (postgresql's loop policy) -- which then fails with DBCONN_EINTERRUPTED.
 * Thread-safe: callable from any thread (a signal-watching thread, another
 * libuv handle's callback).  When s runs nothing, it does nothing: it is
 * not remembered, so the next statement runs normally.  It stops only
 * s's statement, never another session's on the same pooled connection.
 * The stopped statement fails like any other inside a transaction: later
 * statements and commit return DBCONN_EABORTED until dbconn_rollback();
 * what was committed before stays.  Ops queued after it get
 * DBCONN_EABORTED.  A statement near its end may finish before the
 * request is seen (it then succeeds).  Returns 0 (also when nothing ran);
 * DBCONN_EINVAL for NULL.  s must stay valid during the call (do not close
 * it concurrently).  On postgresql it sends a cancel request on a
 * connection of its own (PQcancel): it blocks the caller for that round
 * trip. */
DBCONN_EXTERN int dbconn_cancel(dbconn_session *s);

/* The statement timeout of s's statements from now on, in ms: > 0 a limit,
 * 0 (or DBCONN_NONE) no limit, -1 the engine's statement_timeout again
 * (the default).  A statement running longer fails with
 * DBCONN_ESTMTTIMEOUT and aborts the transaction (as dbconn_cancel).
 * In dbconn_exec_each the limit covers the whole iteration.  Other
 * values: DBCONN_EINVAL. */
DBCONN_EXTERN int dbconn_session_set_statement_timeout(dbconn_session *s,
                                                       int ms);

/* The session's last failure message (what an async callback reads); never
 * NULL.  Owned by s, valid until its next operation. */
DBCONN_EXTERN const char *dbconn_session_errmsg(const dbconn_session *s);
DBCONN_EXTERN int dbconn_session_db_errcode(const dbconn_session *s);
/* The SQLSTATE of the session's last failure ("" when it had none; see
 * dbconn_sqlstate).  Owned by s, valid until its next operation. */
DBCONN_EXTERN const char *dbconn_session_sqlstate(const dbconn_session *s);
/* The dbconn that made s. */
DBCONN_EXTERN dbconn *dbconn_session_db(const dbconn_session *s);

/* Rolls back what is uncommitted and frees a factory-made session (also after
 * dbconn_close made it closed).  On a scoped session it equals
 * dbconn_scoped_remove_key() for its key.  NULL is a no-op. */
DBCONN_EXTERN void dbconn_session_close(dbconn_session *s);

/* ------------------------------------------------------------------------ */
/* Task scope and the scoped session registry                               */
/* ------------------------------------------------------------------------ */

/* The calling thread's current task; when none is entered, a key for the
 * thread itself that is unique for the life of the process. */
DBCONN_EXTERN void *dbconn_current_task(void);
/* Makes `task` current on this thread; returns the previous one (pass it to
 * dbconn_task_leave).  NULL task = back to the thread's own key. */
DBCONN_EXTERN void *dbconn_task_enter(void *task);
DBCONN_EXTERN void dbconn_task_leave(void *previous);

/* The current scope's session (scopefunc), created on first use.  The
 * session is owned by the registry: do not free it (dbconn_session_close on
 * it removes it from the registry). */
DBCONN_EXTERN int dbconn_scoped_session(dbconn *db, dbconn_session **out);
/* Closes and forgets the current scope's session; 0 if there was none. */
DBCONN_EXTERN int dbconn_scoped_remove(dbconn *db);
/* Same for any key, e.g. from a uv close callback.  NULL key: DBCONN_EINVAL. */
DBCONN_EXTERN int dbconn_scoped_remove_key(dbconn *db, void *key);
DBCONN_EXTERN size_t dbconn_scoped_count(const dbconn *db);

/* Ends a task everywhere: the scoped session registered under `task` in
 * every open dbconn is closed (rolling back what is uncommitted) and
 * forgotten, as dbconn_scoped_remove_key would in each.  Returns how many
 * sessions it closed (0: none), or DBCONN_EINVAL for a NULL task or a call
 * from inside a library callback.  Call it where the task's life ends: a
 * coroutine's completion, or the close callback of the libuv handle used as
 * the key (after any async use, on the loop's thread, like
 * dbconn_scoped_remove_key).  Work a session still has queued gets
 * DBCONN_ECANCELED or finishes as dbconn_session_close says. */
DBCONN_EXTERN int dbconn_task_end(void *task);
/* A uv_close_cb that ends the task keyed by the handle:
 * uv_close((uv_handle_t *)&timer, dbconn_task_close_cb).  For handles the
 * program frees itself, call dbconn_task_end(handle) from its own close
 * callback before freeing. */
DBCONN_EXTERN void dbconn_task_close_cb(uv_handle_t *handle);

/* ------------------------------------------------------------------------ */
/* Base model and metadata                                                  */
/* ------------------------------------------------------------------------ */

/* Column flags. */
#define DBCONN_PRIMARY_KEY 0x01u
#define DBCONN_NOT_NULL 0x02u
#define DBCONN_UNIQUE 0x04u
#define DBCONN_AUTOINCREMENT 0x08u /* integer primary key, never reused */
#define DBCONN_INDEXED 0x10u       /* a single-column index */

/* Foreign key actions (ON DELETE / ON UPDATE). */
enum {
    DBCONN_FK_NO_ACTION = 0,
    DBCONN_FK_CASCADE = 1,
    DBCONN_FK_SET_NULL = 2,
    DBCONN_FK_SET_DEFAULT = 3,
    DBCONN_FK_RESTRICT = 4
};

/* A column, declared statically with the C struct field it maps to.  All
 * strings are borrowed and must outlive every base the model is added to
 * (string literals, typically). */
typedef struct dbconn_column {
    const char *name;
    int type;                 /* DBCONN_TYPE_* (not NULL) */
    unsigned flags;           /* DBCONN_PRIMARY_KEY | ... */
    size_t offset;            /* offsetof(struct, field) */
    const char *default_sql;  /* SQL expression: DEFAULT (expr) */
    const char *default_literal; /* text rendered as a quoted literal */
    const char *references;   /* "table(column)" or "table" (its key) */
    int on_delete;            /* DBCONN_FK_* */
    int on_update;            /* DBCONN_FK_* */
    void *reserved[4];        /* must stay zero */
} dbconn_column;

typedef struct dbconn_index {
    const char *name;           /* NULL = "ix_<table>_<col>_..." */
    const char *const *columns; /* borrowed */
    size_t ncolumns;
    bool unique;
    void *reserved[4];          /* must stay zero */
} dbconn_index;

typedef struct dbconn_model {
    const char *table;
    const dbconn_column *columns; /* borrowed */
    size_t ncolumns;
    size_t struct_size;           /* sizeof the mapped struct */
    const dbconn_index *indexes;  /* borrowed; may be NULL */
    size_t nindexes;
    void *reserved[4];            /* must stay zero */
} dbconn_model;

/* The default base (like ActiveRecordBaseModel); static, never NULL. */
DBCONN_EXTERN dbconn_base *dbconn_active_record_base(void);
/* A custom base; owned by the caller, dbconn_base_free() releases it. */
DBCONN_EXTERN int dbconn_base_new(dbconn_base **out);
/* Frees a custom base; the default base cannot be freed (no-op).  A bound
 * base must be unbound (dbconn_close) first: DBCONN_EINVAL otherwise. */
DBCONN_EXTERN int dbconn_base_free(dbconn_base *b);
/* Adds a model (borrowed: it must outlive the base).  Validates duplicate
 * table/column names, missing primary key, unknown types: DBCONN_EINVAL. */
DBCONN_EXTERN int dbconn_base_add(dbconn_base *b, const dbconn_model *m);
/* Forgets every model (e.g. between tests).  DBCONN_EINVAL while bound. */
DBCONN_EXTERN int dbconn_base_clear(dbconn_base *b);
DBCONN_EXTERN size_t dbconn_base_count(const dbconn_base *b);
/* The dbconn `b` is bound to, or NULL. */
DBCONN_EXTERN dbconn *dbconn_base_bound(const dbconn_base *b);
/* The current task's session through the bound pointer (owned by the
 * registry); DBCONN_ECLOSED when unbound. */
DBCONN_EXTERN int dbconn_base_session(dbconn_base *b, dbconn_session **out);
/* Renders the CREATE statements init_db would run, for db's dialect, into
 * one owned string (free with dbconn_free). */
DBCONN_EXTERN int dbconn_base_ddl(dbconn *db, dbconn_base *b, char **out);

/* Frees memory the library handed out as plain memory (dbconn_base_ddl). */
DBCONN_EXTERN void dbconn_free(void *p);

/* ------------------------------------------------------------------------ */
/* Async (libuv)                                                            */
/* ------------------------------------------------------------------------ */

/* Contract: a call that returns an error never calls its callback; every
 * accepted callback runs exactly once, on the loop thread, never from inside
 * the submitting call, with DBCONN_ECANCELED when the dbconn closes first.
 * Parameters (text and blob bytes too) are copied at submission.  The
 * callback owns `res` (NULL when status < 0) and frees it with
 * dbconn_result_free.  Before a callback runs, the library enters the task
 * that submitted the call. */
typedef void (*dbconn_exec_cb)(int status, dbconn_result *res, void *data);
typedef void (*dbconn_done_cb)(int status, void *data);

DBCONN_EXTERN int dbconn_exec_async(dbconn_session *s, const char *sql,
                                    const dbconn_value *params,
                                    size_t nparams, dbconn_exec_cb cb,
                                    void *data);
DBCONN_EXTERN int dbconn_commit_async(dbconn_session *s, dbconn_done_cb cb,
                                      void *data);
DBCONN_EXTERN int dbconn_rollback_async(dbconn_session *s, dbconn_done_cb cb,
                                        void *data);
DBCONN_EXTERN int dbconn_init_db_async(dbconn *db, dbconn_base *base,
                                       dbconn_done_cb cb, void *data);
/* dbconn_close(), reporting through `cb` (on the loop thread) when every
 * callback has run and db's memory is released.  cb may be NULL. */
DBCONN_EXTERN int dbconn_close_async(dbconn *db, dbconn_base *base,
                                     dbconn_done_cb cb, void *data);

/* ------------------------------------------------------------------------ */
/* Active record: models that store, find and query themselves             */
/* ------------------------------------------------------------------------ */

/* Results by column name, for plain dbconn_exec users too: the same values
 * as the getters by index (dbconn_result_colindex + the getter), and the same
 * answers for a name the result does not have as for an index out of range
 * (0 / 0.0 / NULL, DBCONN_EINVAL from the type getter).  `name` is borrowed
 * and compared exactly. */
DBCONN_EXTERN int dbconn_result_type_by_name(const dbconn_result *r,
                                             size_t row, const char *name);
DBCONN_EXTERN int64_t dbconn_result_int_by_name(const dbconn_result *r,
                                                size_t row, const char *name);
DBCONN_EXTERN double dbconn_result_real_by_name(const dbconn_result *r,
                                                size_t row, const char *name);
/* Owned by r (as dbconn_result_text). */
DBCONN_EXTERN const char *dbconn_result_text_by_name(const dbconn_result *r,
                                                     size_t row,
                                                     const char *name);
DBCONN_EXTERN size_t dbconn_result_text_len_by_name(const dbconn_result *r,
                                                    size_t row,
                                                    const char *name);
/* Owned by r (as dbconn_result_blob); *len may not be NULL. */
DBCONN_EXTERN const void *dbconn_result_blob_by_name(const dbconn_result *r,
                                                     size_t row,
                                                     const char *name,
                                                     size_t *len);

/* The C type of each column type's struct field (the model's `offset`
 * names it):
 *   DBCONN_TYPE_INTEGER    int64_t
 *   DBCONN_TYPE_REAL       double
 *   DBCONN_TYPE_BOOLEAN    bool
 *   DBCONN_TYPE_TEXT       char * or const char * (NULL = SQL NULL)
 *   DBCONN_TYPE_BLOB       dbconn_blob            (data NULL = SQL NULL)
 *   DBCONN_TYPE_TIMESTAMP  dbconn_timestamp       (0 = SQL NULL)
 * Integer, real and boolean fields have no NULL: SQL NULL reads as 0, and 0
 * is written as 0 -- unless the column has DBCONN_ZERO_IS_NULL. */

/* Microseconds since 1970-01-01 00:00:00 UTC; 0 means "no time" (SQL NULL).
 * Stored as UTC text 'YYYY-MM-DD HH:MM:SS.ffffff' (so CURRENT_TIMESTAMP
 * defaults and plain SQL comparisons keep working) and bound as
 * DBCONN_TYPE_TIMESTAMP; years 0001..9999. */
typedef int64_t dbconn_timestamp;
#define DBCONN_TIMESTAMP_LEN 32 /* room for the text form and its NUL */

/* A blob field.  data NULL = SQL NULL.  In rows the library made, data
 * points into memory owned by those rows. */
typedef struct dbconn_blob {
    const void *data;
    size_t len;
} dbconn_blob;

/* Column flag: an integer, real or boolean field's 0 (false) is SQL NULL --
 * written as NULL, and NULL read back as 0.  For nullable foreign keys. */
#define DBCONN_ZERO_IS_NULL 0x20u

/* TimestampMixin: two columns the library keeps -- on every write it sets
 * updated_at, and created_at when it is 0, to the current time, and writes
 * both back into the struct.  Any TIMESTAMP columns named "created_at" and
 * "updated_at" get this; the macro declares them for the struct type
 * `struct_name`, whose fields created_at and updated_at must be
 * dbconn_timestamp. */
#define DBCONN_TIMESTAMP_COLUMNS(struct_name)                                   \
    {.name = "created_at", .type = DBCONN_TYPE_TIMESTAMP,                       \
     .flags = DBCONN_NOT_NULL, .default_sql = "CURRENT_TIMESTAMP",              \
     .offset = offsetof(struct_name, created_at)},                              \
    {.name = "updated_at", .type = DBCONN_TYPE_TIMESTAMP,                       \
     .flags = DBCONN_NOT_NULL, .default_sql = "CURRENT_TIMESTAMP",              \
     .offset = offsetof(struct_name, updated_at)}

/* The current time (CLOCK_REALTIME). */
DBCONN_EXTERN dbconn_timestamp dbconn_timestamp_now(void);
/* Writes t as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC) into buf (`size` >=
 * DBCONN_TIMESTAMP_LEN).  DBCONN_EINVAL for a year outside 1..9999 or a small
 * buffer. */
DBCONN_EXTERN int dbconn_timestamp_format(dbconn_timestamp t, char *buf,
                                          size_t size);
/* Parses 'YYYY-MM-DD', 'YYYY-MM-DD HH:MM[:SS[.fraction]]' ('T' may replace
 * the space) with an optional zone 'Z', '+HH', '+HHMM', '+HH:MM' (or '-'),
 * as SQLite's CURRENT_TIMESTAMP and PostgreSQL's output write them; no zone
 * means UTC.  Digits past microseconds are dropped.  *out (on failure 0).
 * DBCONN_EINVAL naming the text. */
DBCONN_EXTERN int dbconn_timestamp_parse(const char *text,
                                         dbconn_timestamp *out);

/* Rows of one model: an array of the caller's structs, whose text and blob
 * fields point into memory the rows own (with the related rows loaded with
 * dbconn_query_load).  Everything is released by one dbconn_rows_free.
 * Fully read: usable from any thread, one at a time. */
typedef struct dbconn_rows dbconn_rows;

DBCONN_EXTERN size_t dbconn_rows_count(const dbconn_rows *r);
/* The first of dbconn_rows_count structs, contiguous (a `user *`); owned by
 * r, which the caller may modify (to save it again, say).  NULL when empty. */
DBCONN_EXTERN void *dbconn_rows_data(dbconn_rows *r);
/* The struct of row i, or NULL when out of range. */
DBCONN_EXTERN void *dbconn_rows_at(dbconn_rows *r, size_t i);
DBCONN_EXTERN const dbconn_model *dbconn_rows_model(const dbconn_rows *r);
/* The rows related to row `row` through `rel` (as given to
 * dbconn_query_load): *first (owned by r) is the first of *n contiguous
 * structs of the related model -- the parent (n is 0 or 1) or the
 * children.  DBCONN_EINVAL when rel was not loaded or row is out of range
 * (*first NULL, *n 0). */
DBCONN_EXTERN int dbconn_rows_related(const dbconn_rows *r, size_t row,
                                      const char *rel, void **first,
                                      size_t *n);
DBCONN_EXTERN void dbconn_rows_free(dbconn_rows *r);

/* Copies src into dst (both structs of m), each text and blob value into a
 * new allocation that dst owns: release them with dbconn_record_clear.  On
 * failure dst holds nothing to release (its text/blob fields are NULL). */
DBCONN_EXTERN int dbconn_record_copy(const dbconn_model *m, void *dst,
                                     const void *src);
/* Frees (dbconn_free) every text and blob value of obj and sets those fields
 * to NULL.  Only for structs whose text and blob values the library
 * allocated (dbconn_record_copy, dbconn_record_from_json). */
DBCONN_EXTERN void dbconn_record_clear(const dbconn_model *m, void *obj);

/* The calls below take:
 *   s  the session to work in, or NULL for the base's bound session: the
 *      current task's scoped session (dbconn_base_session), as sqlactive's
 *      class methods use cls.session.  Unbound base: DBCONN_ECLOSED.
 *   b  the base whose model m is (NULL = the default base); m not added to
 *      it: DBCONN_EINVAL.
 * Transactions: a call made outside a transaction is one (a write begins
 * IMMEDIATE), committed on success and rolled back on failure -- a read is
 * committed too, so no connection stays checked out.  Inside a transaction
 * (dbconn_begin, or earlier statements), a call joins it and never ends it:
 * after a failure the caller rolls back.
 * Failures: constraint violations are DBCONN_ECONSTRAINT, with the driver's
 * message (naming the constraint or column) after the model's name. */

/* INSERT ... RETURNING: the generated key (a single INTEGER primary key that
 * is 0 in obj) and the kept timestamps are written back into obj, which is
 * otherwise only read.  A NULL field (text/blob NULL, timestamp 0, a zero of
 * a DBCONN_ZERO_IS_NULL column) of a column that has a default takes the
 * default in an INSERT and leaves the stored value as it is in an UPDATE
 * (set NULL there with dbconn_query_update). */
DBCONN_EXTERN int dbconn_record_create(dbconn_session *s, dbconn_base *b,
                                       const dbconn_model *m, void *obj);
/* The row with primary key `key` (nkey values, in the model's key column
 * order): *out is owned (dbconn_rows_free) with one row.  No such row:
 * DBCONN_ENOTFOUND, *out NULL. */
DBCONN_EXTERN int dbconn_record_get(dbconn_session *s, dbconn_base *b,
                                    const dbconn_model *m,
                                    const dbconn_value *key, size_t nkey,
                                    dbconn_rows **out);
/* Insert or update: create when the key is generated and 0; else an UPDATE
 * of every column by obj's key (the stored created_at is kept and written
 * back), and a create when no row has that key. */
DBCONN_EXTERN int dbconn_record_save(dbconn_session *s, dbconn_base *b,
                                     const dbconn_model *m, void *obj);
/* UPDATE of the named columns (borrowed; NULL = every column but the key)
 * of the row with obj's key, plus updated_at.  No such row:
 * DBCONN_ENOTFOUND.  A key column or an unknown name: DBCONN_EINVAL. */
DBCONN_EXTERN int dbconn_record_update(dbconn_session *s, dbconn_base *b,
                                       const dbconn_model *m, void *obj,
                                       const char *const *columns,
                                       size_t ncolumns);
/* DELETE of the row with obj's key (obj borrowed).  DBCONN_ENOTFOUND when
 * there was none. */
DBCONN_EXTERN int dbconn_record_delete(dbconn_session *s, dbconn_base *b,
                                       const dbconn_model *m, const void *obj);
/* DELETE of the rows whose single-column key is one of keys[0..n-1], in
 * one transaction; *deleted (may be NULL) gets how many went. */
DBCONN_EXTERN int dbconn_record_destroy(dbconn_session *s, dbconn_base *b,
                                        const dbconn_model *m,
                                        const dbconn_value *keys, size_t n,
                                        int64_t *deleted);
/* Whether a row with primary key `key` exists. */
DBCONN_EXTERN int dbconn_record_exists(dbconn_session *s, dbconn_base *b,
                                       const dbconn_model *m,
                                       const dbconn_value *key, size_t nkey,
                                       bool *out);
/* The number of rows of m's table. */
DBCONN_EXTERN int dbconn_record_count(dbconn_session *s, dbconn_base *b,
                                      const dbconn_model *m, int64_t *out);
/* Inserts objs[0..n-1] (an array of n structs of m) in one transaction
 * through one prepared statement (two when some keys are given and some
 * generated), writing keys and timestamps back.  All or nothing: on failure
 * nothing is inserted (outside a caller's transaction) and every struct is
 * as it was. */
DBCONN_EXTERN int dbconn_record_insert_many(dbconn_session *s,
                                            dbconn_base *b,
                                            const dbconn_model *m, void *objs,
                                            size_t n);

/* Queries, built from the model's column metadata: every value is a bound
 * parameter, every identifier quoted.  A builder call that fails returns its
 * code and also keeps it: every later call on q returns it again, so a
 * program may check only the call that runs the query. */
typedef struct dbconn_query dbconn_query;

enum {
    DBCONN_OP_EQ = 1,      /* = ? (with a NULL value: IS NULL) */
    DBCONN_OP_NE,          /* <> ? (with a NULL value: IS NOT NULL) */
    DBCONN_OP_GT,
    DBCONN_OP_GE,
    DBCONN_OP_LT,
    DBCONN_OP_LE,
    DBCONN_OP_IN,          /* any number of values (none: false) */
    DBCONN_OP_NOT_IN,      /* (none: true) */
    DBCONN_OP_BETWEEN,     /* two values, inclusive */
    DBCONN_OP_LIKE,        /* the engine's LIKE: on SQLite ASCII case does
                              not matter, on PostgreSQL it does */
    DBCONN_OP_ILIKE,       /* lower(col) LIKE lower(?) on every engine */
    DBCONN_OP_IS_NULL,     /* no value */
    DBCONN_OP_IS_NOT_NULL, /* no value */
    DBCONN_OP_STARTSWITH,  /* LIKE 'v%' with v's % _ \ escaped */
    DBCONN_OP_ENDSWITH,    /* LIKE '%v' */
    DBCONN_OP_CONTAINS     /* LIKE '%v%' */
};

enum {
    DBCONN_AGG_COUNT = 1, /* column NULL = count(*) */
    DBCONN_AGG_SUM,
    DBCONN_AGG_AVG,
    DBCONN_AGG_MIN,
    DBCONN_AGG_MAX
};

/* A query on m's table (s and b as above; s NULL resolves the bound session
 * each time the query runs, in the task current then).  *out is owned:
 * dbconn_query_free -- before the base is cleared or freed (the query
 * keeps the base's plan of m).  A query may run any number of times. */
DBCONN_EXTERN int dbconn_query_new(dbconn_query **out, dbconn_session *s,
                                   dbconn_base *b, const dbconn_model *m);
DBCONN_EXTERN void dbconn_query_free(dbconn_query *q);
/* Adds `column op values` to the current group (the top level is AND).
 * `column` is one of m's columns, or "rel.column" for a column of a related
 * model (see dbconn_query_load for rel): the row matches when some related
 * row does (EXISTS).  values[0..n-1] are copied (text and blob bytes too).
 * Unknown column or relationship, a wrong count of values or a non-text
 * value for a LIKE-family op: DBCONN_EINVAL naming the model and column.
 * For a BOOLEAN column an integer value binds as a boolean; for a
 * TIMESTAMP column an integer value is a dbconn_timestamp. */
DBCONN_EXTERN int dbconn_query_where(dbconn_query *q, const char *column,
                                     int op, const dbconn_value *values,
                                     size_t n);
/* Opens a group whose conditions are joined by OR (dbconn_query_or) or AND
 * (dbconn_query_and), inside the current group; dbconn_query_end closes the
 * innermost.  Groups left open are closed when the query runs.  An empty OR
 * group is false, an empty AND group true. */
DBCONN_EXTERN int dbconn_query_or(dbconn_query *q);
DBCONN_EXTERN int dbconn_query_and(dbconn_query *q);
DBCONN_EXTERN int dbconn_query_end(dbconn_query *q);
/* Appends an ORDER BY column: "name" ascending, "-name" descending. */
DBCONN_EXTERN int dbconn_query_order_by(dbconn_query *q, const char *column);
/* n >= 0.  first/one/one_or_none impose their own limit. */
DBCONN_EXTERN int dbconn_query_limit(dbconn_query *q, int64_t n);
DBCONN_EXTERN int dbconn_query_offset(dbconn_query *q, int64_t n);
/* Loads the rows related through `rel` along with the result: one extra
 * query for the whole result, whatever its size.  rel is
 *   a foreign-key column of m ("user_id"): its parent (many-to-one);
 *   "table(column)": the rows of that model whose foreign-key column
 *      references m (one-to-many: "notes(user_id)");
 *   "table": the one relationship between m and that table, either way.
 * Read them with dbconn_rows_related(rows, i, rel, ...). */
DBCONN_EXTERN int dbconn_query_load(dbconn_query *q, const char *rel);

/* Running a query.  Every *out is owned (dbconn_rows_free). */
DBCONN_EXTERN int dbconn_query_all(dbconn_query *q, dbconn_rows **out);
/* The first row, or 0 with *out NULL when there is none. */
DBCONN_EXTERN int dbconn_query_first(dbconn_query *q, dbconn_rows **out);
/* Exactly one row: none is DBCONN_ENOTFOUND, more DBCONN_EMULTIPLE. */
DBCONN_EXTERN int dbconn_query_one(dbconn_query *q, dbconn_rows **out);
/* One row, or 0 with *out NULL for none; more: DBCONN_EMULTIPLE. */
DBCONN_EXTERN int dbconn_query_one_or_none(dbconn_query *q,
                                           dbconn_rows **out);
/* The number of rows the query returns (limit and offset included). */
DBCONN_EXTERN int dbconn_query_count(dbconn_query *q, int64_t *out);
DBCONN_EXTERN int dbconn_query_exists(dbconn_query *q, bool *out);
/* UPDATE of the matching rows (the conditions only: order, limit and
 * offset are not allowed, DBCONN_EINVAL): columns[i] = values[i], plus
 * updated_at.  One statement; *changed (may be NULL) gets the count. */
DBCONN_EXTERN int dbconn_query_update(dbconn_query *q,
                                      const char *const *columns,
                                      const dbconn_value *values, size_t n,
                                      int64_t *changed);
/* DELETE of the matching rows (conditions only, as above). */
DBCONN_EXTERN int dbconn_query_delete(dbconn_query *q, int64_t *deleted);

/* Group by with aggregates: dbconn_query_aggregate runs SELECT <group
 * columns>, <aggregates> ... GROUP BY <group columns> with the query's
 * conditions, order (group columns only), limit and offset, into a plain
 * result: one column per group column (named as it), then one per
 * aggregate, named "count" for count(*), else "<fn>_<column>" ("sum_age"). */
DBCONN_EXTERN int dbconn_query_group_by(dbconn_query *q, const char *column);
DBCONN_EXTERN int dbconn_query_agg(dbconn_query *q, int fn,
                                   const char *column);
DBCONN_EXTERN int dbconn_query_aggregate(dbconn_query *q,
                                         dbconn_result **out);

/* Serialization (SerializationMixin), through jansson.  Keys are the column
 * names; INTEGER numbers, REAL numbers, BOOLEAN true/false, TEXT strings
 * (valid UTF-8, else DBCONN_EINVAL), BLOB base64 strings, TIMESTAMP
 * 'YYYY-MM-DDTHH:MM:SS.ffffffZ' strings; SQL NULL is null.  *out is an owned
 * NUL-terminated string (dbconn_free). */
#define DBCONN_JSON_NESTED 0x1u /* rows: add each loaded relationship under
                                   its rel name (an object or null for a
                                   parent, an array for children) */
#define DBCONN_JSON_PRETTY 0x2u /* indented */
DBCONN_EXTERN int dbconn_record_to_json(const dbconn_model *m, const void *obj,
                                        unsigned flags, char **out);
/* A JSON array of every row. */
DBCONN_EXTERN int dbconn_rows_to_json(const dbconn_rows *r, unsigned flags,
                                      char **out);
/* Fills obj (zeroed first) from a JSON object with the column names as keys
 * (a missing key leaves the field zero/NULL; timestamps as parsed by
 * dbconn_timestamp_parse).  Text and blob values are allocated and owned by
 * obj: dbconn_record_clear.  An unknown key, a wrong type or bad JSON:
 * DBCONN_EINVAL naming the model, the key or the position; on failure obj
 * holds nothing to release. */
DBCONN_EXTERN int dbconn_record_from_json(const dbconn_model *m,
                                          const char *json, void *obj);

/* Async forms, on the libuv API with dbconn_exec_async's contract: an error
 * return means the callback never runs; every accepted callback runs exactly
 * once on the loop thread (DBCONN_ECANCELED when the dbconn closes first).
 * s NULL: the bound session of the task current at the call.  Each call's
 * statements and its COMMIT are queued back-to-back on the session (one
 * thread-pool hop); after a failure it rolls back.  It always ends the
 * session's transaction: for several writes in one transaction use
 * dbconn_record_insert_many_async or a query's update/delete.  Structs
 * written back (obj, objs) are borrowed until the callback; key values,
 * columns and the query are copied at the call (the query may be freed at
 * once).  On failure the callback reads the message with dbconn_errmsg. */
typedef void (*dbconn_rows_cb)(int status, dbconn_rows *rows, void *data);
typedef void (*dbconn_count_cb)(int status, int64_t n, void *data);

DBCONN_EXTERN int dbconn_record_create_async(dbconn_session *s,
                                             dbconn_base *b,
                                             const dbconn_model *m, void *obj,
                                             dbconn_done_cb cb, void *data);
DBCONN_EXTERN int dbconn_record_save_async(dbconn_session *s, dbconn_base *b,
                                           const dbconn_model *m, void *obj,
                                           dbconn_done_cb cb, void *data);
/* rows: owned by the callback (NULL when status < 0; DBCONN_ENOTFOUND for
 * no such row). */
DBCONN_EXTERN int dbconn_record_get_async(dbconn_session *s, dbconn_base *b,
                                          const dbconn_model *m,
                                          const dbconn_value *key,
                                          size_t nkey, dbconn_rows_cb cb,
                                          void *data);
DBCONN_EXTERN int dbconn_record_delete_async(dbconn_session *s,
                                             dbconn_base *b,
                                             const dbconn_model *m,
                                             const void *obj,
                                             dbconn_done_cb cb, void *data);
DBCONN_EXTERN int dbconn_record_insert_many_async(dbconn_session *s,
                                                  dbconn_base *b,
                                                  const dbconn_model *m,
                                                  void *objs, size_t n,
                                                  dbconn_done_cb cb,
                                                  void *data);
/* rows as dbconn_query_all (with the loaded relationships). */
DBCONN_EXTERN int dbconn_query_all_async(dbconn_query *q, dbconn_rows_cb cb,
                                         void *data);
/* rows as dbconn_query_first: NULL with status 0 when there is none. */
DBCONN_EXTERN int dbconn_query_first_async(dbconn_query *q, dbconn_rows_cb cb,
                                           void *data);
DBCONN_EXTERN int dbconn_query_count_async(dbconn_query *q,
                                           dbconn_count_cb cb, void *data);
/* n: the rows changed / deleted. */
DBCONN_EXTERN int dbconn_query_update_async(dbconn_query *q,
                                            const char *const *columns,
                                            const dbconn_value *values,
                                            size_t nvalues,
                                            dbconn_count_cb cb, void *data);
DBCONN_EXTERN int dbconn_query_delete_async(dbconn_query *q,
                                            dbconn_count_cb cb, void *data);

#ifdef __cplusplus
}
#endif

#endif /* DBCONN_H */
