/* Private to the PostgreSQL driver (src/driver/postgres/).
 *
 *   pg_lib.c     libpq itself, loaded on first use (pg_lib.h)
 *   pg_target.c  URL + options -> libpq keyword/value arrays (target)
 *   pg_conn.c    connections: connect, reconnect, transaction control
 *   pg_sql.c     '?' -> $n translation, one statement per text
 *   pg_stmt.c    statements: prepare, bind, step, the statement cache's
 *                server-side prepared statements
 *   pg_pipe.c    the commands sent in pipeline mode (pg_pipe.h)
 *   pg_io.c      loop-driven use: non-blocking, pipelined (dbc_driver_io)
 *   pg_values.c  parameter encoding and result decoding (type table)
 *   pg_error.c   SQLSTATE -> DBCONN_E* codes and messages
 *   pg_driver.c  the function table and the DDL dialect */
#ifndef DBCONN_PG_INT_H
#define DBCONN_PG_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "driver/driver.h"
#include "driver/postgres/pg_lib.h"
#include "util/error.h"

/* Built-in type OIDs (catalog constants, stable across server versions). */
enum {
    DBC_PG_BOOL = 16,
    DBC_PG_BYTEA = 17,
    DBC_PG_INT8 = 20,
    DBC_PG_INT2 = 21,
    DBC_PG_INT4 = 23,
    DBC_PG_OID = 26,
    DBC_PG_FLOAT4 = 700,
    DBC_PG_FLOAT8 = 701,
    DBC_PG_TIMESTAMPTZ = 1184,
    DBC_PG_NUMERIC = 1700
};

struct dbc_target {
    /* PQconnectdbParams' arrays, NULL-terminated; every string is owned
     * by `strings` (freed with the target). */
    const char **keys, **values;
    size_t nkeys;
    char **strings;
    size_t nstrings;
    char *url;          /* the URL, password masked, for messages; owned */
    const char *begin;  /* "BEGIN [ISOLATION LEVEL ...]"; NULL: autocommit */
    int statement_timeout; /* the engine's, in the startup options (0: none
                              given: the server's own) */
};

/* dbc_conn.timeout_now when no SET of ours may be trusted (a SET that
 * failed, or was not run): the next arm() sends one. */
#define DBC_PG_TIMEOUT_UNKNOWN (-2)

/* One connection.  Used by one thread at a time, except `cancel`, which
 * interrupt() uses from any thread under cancel_lock. */
struct dbc_conn {
    PGconn *pg;
    dbc_target *target;
    pthread_mutex_t cancel_lock;
    PGcancel *cancel;     /* for the current backend; NULL when none */
    atomic_bool interrupted; /* interrupt() sent a cancel request */
    unsigned epoch;       /* +1 at every reconnect: server-side prepared
                             statements of an older epoch are gone */
    uint64_t names;       /* prepared statements named so far */
    int64_t changes, total_changes, last_insert_id;
    /* Statements run since the transaction began (0: a failure of the
     * first may be retried on a new transaction, nothing else having
     * happened in it). */
    unsigned tx_statements;
    /* Server-side statements to DEALLOCATE at the next idle moment. */
    char **dealloc;
    size_t ndealloc, capdealloc;
    /* statement_timeout (pg_conn.c, arm()): the value the server session
     * has as far as we know (-1: the startup options', never SET by us),
     * and the one the last arm() asked for.  A SET inside a transaction
     * block is undone by a ROLLBACK: `timeout_unsure` then makes the next
     * transaction's start SET it again, outside the block (tx_open: a
     * BEGIN was sent since the last start). */
    int timeout_now, timeout_want;
    bool timeout_unsure, tx_open;
    /* Loop-driven use (pg_io.c): what was sent and awaits its results;
     * NULL until the first such use, `active` while in that mode. */
    struct dbc_pg_io *io;
    /* The statement whose streamed rows are still coming in on the
     * connection (dbc_pg_unstream reads them before another command). */
    dbc_stmt *streaming;
    /* What reads them (dbc_pg_unstream, set with `streaming`: reached
     * through this pointer, the connection's files do not call the
     * statement's, which call theirs). */
    void (*unstream)(dbc_conn *c);
};

/* Before any other command on c: see dbc_pg_unstream. */
static inline void dbc_pg_conn_unstream(dbc_conn *c) {
    if (c->streaming && c->unstream)
        c->unstream(c);
}

/* ---- pg_pipe.c: the commands sent in pipeline mode ---------------------- */

/* What a command sent in pipeline mode is, in the order sent. */
enum { DBC_PG_IO_QUERY,   /* a statement's run: the caller's */
       DBC_PG_IO_CONTROL, /* COMMIT / ROLLBACK: the caller's */
       DBC_PG_IO_BEGIN,   /* the driver's own, read by the driver: */
       DBC_PG_IO_PREPARE,
       DBC_PG_IO_DEALLOC,
       DBC_PG_IO_SYNC,
       DBC_PG_IO_SET };   /* SET statement_timeout */

/* True while c is in loop-driven (pipeline) mode. */
bool dbc_pg_io_active(const dbc_conn *c);
/* True when that mode could not be left cleanly: the server session must
 * be replaced (dbc_pg_ready does) before c is used again. */
bool dbc_pg_io_poisoned(const dbc_conn *c);
/* The server session was replaced (reconnect): nothing of it is queued. */
void dbc_pg_io_replaced(dbc_conn *c);
/* Records that a command of `kind` was sent (PREPARE: the statement's
 * server-side name); 0 or DBCONN_ENOMEM. */
int dbc_pg_io_sent(dbc_conn *c, int kind, const char *name);
/* In pipeline mode: BEGIN sent for the transaction (no waiting). */
int dbc_pg_io_begin(dbc_conn *c);
/* What begins a transaction on c: the isolation level's BEGIN; "BEGIN"
 * under isolation_level AUTOCOMMIT, where only an explicit dbconn_begin
 * opens one (its statements' autobegin sends nothing). */
#define DBC_PG_BEGIN_SQL(c) ((c)->target->begin ? (c)->target->begin : "BEGIN")
/* The failure of a run: the one a command before it in the pipeline had
 * (PGRES_PIPELINE_ABORTED: it was not run), recorded as the thread's
 * failure; the run's statement `name` ("" for none) is reported when its
 * own PREPARE is what failed (*prepare_failed: prepare it anew). */
int dbc_pg_io_aborted(dbc_conn *c, const char *name, bool *prepare_failed);
/* The next result of the oldest of the caller's commands (poll() said
 * it has arrived): taken, its end read later. */
PGresult *dbc_pg_io_take(dbc_conn *c);

/* ---- pg_io.c: the driver table's loop-driven entries (dbc_driver_io) ---- */
int dbc_pg_io_enter(dbc_conn *c);
int dbc_pg_io_prepare(dbc_conn *c);
int dbc_pg_io_socket(dbc_conn *c);
int dbc_pg_io_send(dbc_stmt *s);
int dbc_pg_io_send_control(dbc_conn *c, int what);
int dbc_pg_io_sync(dbc_conn *c);
int dbc_pg_io_flush(dbc_conn *c);
int dbc_pg_io_poll(dbc_conn *c, bool read);
int dbc_pg_io_receive(dbc_conn *c, dbc_stmt *st);
bool dbc_pg_io_idle(dbc_conn *c);
void dbc_pg_io_leave(dbc_conn *c);
void dbc_pg_io_free(dbc_conn *c);

/* ---- pg_error.c --------------------------------------------------------- */

/* MAKE_SQLSTATE: the integer form of a 5-character SQLSTATE. */
int dbc_pg_sqlstate_code(const char *state);
/* Records the failure of a command on c (res may be NULL: libpq's own
 * message then) and returns its DBCONN_E* code.  `sql` (may be NULL) is
 * quoted in the message.  Clears c->interrupted. */
int dbc_pg_fail(dbc_conn *c, const PGresult *res, const char *sql);
/* True when res (or, without one, the connection) says the connection is
 * gone. */
bool dbc_pg_conn_lost(const dbc_conn *c, const PGresult *res);
/* libpq's message of c, one line, for quoting. */
void dbc_pg_conn_message(PGconn *pg, char *out, size_t cap);

/* ---- pg_sql.c ----------------------------------------------------------- */

/* `sql` (len bytes) as PostgreSQL text: '?' placeholders outside string
 * literals, quoted identifiers, dollar quotes and comments become $1, $2,
 * ...; "?NNN" becomes $NNN; "??" is a literal '?' (the jsonb operators);
 * $n is kept.  The text ends where the one statement ends (a trailing ';'
 * and whitespace or comments after it are dropped).  *text is owned
 * (dbc_free), *nparams the parameter count.  DBCONN_EINVAL for an empty
 * statement, a second statement, or '?' mixed with numbered placeholders;
 * DBCONN_ENOMEM. */
int dbc_pg_translate(const char *sql, size_t len, char **text, int *nparams);

/* ---- pg_values.c -------------------------------------------------------- */

/* How a result column is read (from its type OID). */
typedef enum dbc_pg_kind {
    DBC_PG_K_TEXT,    /* text as the server wrote it */
    DBC_PG_K_INT,     /* int2, int4, int8, oid */
    DBC_PG_K_REAL,    /* float4, float8 */
    DBC_PG_K_NUMERIC, /* INTEGER when whole and within 64 bits, else REAL */
    DBC_PG_K_BOOL,    /* INTEGER 0 / 1 */
    DBC_PG_K_BYTEA,   /* BLOB from the hex form */
    DBC_PG_K_TSTZ     /* TEXT without the "+00" of TimeZone=UTC */
} dbc_pg_kind;

dbc_pg_kind dbc_pg_kind_of(Oid type);
/* A decimal integer of len bytes that fits 64 bits: true with *out. */
bool dbc_pg_parse_int(const char *s, int len, int64_t *out);
/* The declared type of a parameter from the value first bound to it:
 * INTEGER int8, REAL float8, BOOLEAN bool, BLOB bytea; 0 (the server
 * infers it, as for a quoted literal) for TEXT, TIMESTAMP and NULL. */
Oid dbc_pg_param_type(const dbconn_value *v);

/* Reads columns 0..n-1 of row `row` of res (see dbc_driver.row). */
int dbc_pg_row(const PGresult *res, int row, const dbc_pg_kind *kinds,
               size_t n, dbc_colval *out, dbc_arena *a, size_t *need);

/* Parameter arrays for PQexecParams / PQexecPrepared, rebuilt at every
 * bind.  Encoded bytes live in `scratch` (owned, reused). */
typedef struct dbc_pg_params {
    int n;
    Oid *types;          /* declared types, fixed at the first bind */
    const char **values;
    int *lengths, *formats;
    char *scratch;
    size_t cap;
} dbc_pg_params;

int dbc_pg_params_init(dbc_pg_params *p, int n);
void dbc_pg_params_free(dbc_pg_params *p);
/* Encodes v[0..n-1] for the declared types (set from v when `first`). */
int dbc_pg_params_bind(dbc_pg_params *p, const dbconn_value *v, bool first);

/* ---- pg_target.c -------------------------------------------------------- */

int dbc_pg_target_open(dbc_target **out, const dbconn_url *url,
                       const dbc_config *cfg, const dbc_qparam *q, size_t nq);
void dbc_pg_target_close(dbc_target *t);

/* ---- pg_conn.c ---------------------------------------------------------- */

int dbc_pg_connect(dbc_target *t, dbc_conn **out);
void dbc_pg_disconnect(dbc_conn *c);
int dbc_pg_ping(dbc_conn *c);
void dbc_pg_interrupt(dbc_conn *c);
int dbc_pg_arm(dbc_conn *c, int timeout_ms, bool first);
int dbc_pg_stop_code(dbc_conn *c, int rc);
void dbc_pg_disarm(dbc_conn *c);
int dbc_pg_exec_script(dbc_conn *c, const char *sql);
bool dbc_pg_in_transaction(dbc_conn *c);
int dbc_pg_control(dbc_conn *c, int what);
/* Runs the DEALLOCATEs queued on c, when c is idle or in a healthy
 * transaction (failures there are ignored: the name is gone either way). */
void dbc_pg_flush_dealloc(dbc_conn *c);
/* Queues `name` (copied) for DEALLOCATE; false without memory (the
 * statement then stays on the server until the connection closes). */
bool dbc_pg_queue_dealloc(dbc_conn *c, const char *name);
/* Gets c out of a COPY that SQL started (r: its result; the library has
 * no COPY API): ends it and reads what is left. */
void dbc_pg_end_copy(dbc_conn *c, const PGresult *r);
/* Before a transaction's or an autocommit run's first statement: a
 * broken connection replaced (blocking), the queued DEALLOCATEs run. */
int dbc_pg_ready(dbc_conn *c);
/* Forgets the queued DEALLOCATEs (sent, or their server session gone). */
void dbc_pg_drop_dealloc(dbc_conn *c);
/* Starts the transaction over when a stale plan failed its first
 * statement: ROLLBACK, BEGIN.  0 or a failure. */
int dbc_pg_restart_tx(dbc_conn *c);

/* ---- pg_stmt.c ---------------------------------------------------------- */

int dbc_pg_prepare(dbc_conn *c, const char *sql, size_t len, dbc_stmt **out);
void dbc_pg_finalize(dbc_stmt *s);
int dbc_pg_bind(dbc_stmt *s, const dbconn_value *p, size_t n);
void dbc_pg_stream(dbc_stmt *s);
/* Before any other command on c: the rows of a statement still streaming
 * on it are read into that statement (which goes on serving them), for
 * libpq would otherwise discard them -- a row callback of
 * dbconn_exec_each may run statements on its session. */
void dbc_pg_unstream(dbc_conn *c);
int dbc_pg_step(dbc_stmt *s);
void dbc_pg_reset(dbc_stmt *s);
int dbc_pg_finish(dbc_stmt *s);
bool dbc_pg_readonly(dbc_stmt *s);
const char *dbc_pg_sql(dbc_stmt *s);
int dbc_pg_ncols(dbc_stmt *s);
unsigned dbc_pg_generation(dbc_stmt *s);
const char *dbc_pg_colname(dbc_stmt *s, int i);
int dbc_pg_stmt_row(dbc_stmt *s, size_t n, dbc_colval *out, dbc_arena *a,
                    size_t *need);
/* In pipeline mode: the oldest command queued is a run of s's statement
 * and its result has arrived; s takes it as its first step would (the
 * rows then step without waiting). */
int dbc_pg_stmt_received(dbc_stmt *s);

#endif
