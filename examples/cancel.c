/* Stopping a statement: a per-statement time limit (statement_timeout)
 * and dbconn_cancel from a libuv timer -- the way a program stops a long
 * report when a user presses Ctrl-C (a uv_signal_t's callback is the same
 * call) -- and the session working again after a rollback.
 *
 *   cc -std=c11 cancel.c -ldbconn -luv */
#define _POSIX_C_SOURCE 200809L /* what <uv.h> needs under -std=c11 */

#include <stdio.h>
#include <uv.h>

#include <dbconn.h>

/* Runs for many seconds unless stopped. */
static const char REPORT[] =
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
    "WHERE x < 1000000000) SELECT count(*) FROM c";

static int fail(const char *what, int rc) {
    fprintf(stderr, "%s: %s: %s\n", what, dbconn_err_name(rc),
            dbconn_errmsg(NULL));
    return 1;
}

typedef struct job {
    dbconn_session *s;
    int status;
    int done;
} job;

static void on_report(int status, dbconn_result *res, void *data) {
    job *j = data;
    j->status = status;
    j->done = 1;
    dbconn_result_free(res);
}

/* "Ctrl-C": stop the report the session is running. */
static void on_timer(uv_timer_t *t) {
    job *j = t->data;
    dbconn_cancel(j->s);
    if (j->done)
        uv_close((uv_handle_t *)t, NULL);
}

int main(void) {
    uv_loop_t loop;
    dbconn *db;
    dbconn_session *s;
    int rc;
    uv_loop_init(&loop);
    /* Every statement of this engine may run 300 ms at most. */
    if ((rc = dbconn_open(&db, "sqlite://?statement_timeout=300",
                          &(dbconn_options){.loop = &loop})))
        return fail("dbconn_open", rc);
    if ((rc = dbconn_session_open(db, &s)))
        return fail("dbconn_session_open", rc);

    /* 1. The limit: the report fails with DBCONN_ESTMTTIMEOUT. */
    rc = dbconn_exec(s, REPORT, NULL, 0, NULL);
    printf("report with a 300 ms limit: %s\n", dbconn_err_name(rc));
    if (rc != DBCONN_ESTMTTIMEOUT)
        return fail("statement_timeout", rc);
    dbconn_rollback(s); /* the transaction is aborted: roll back */

    /* 2. No limit for this session; a timer cancels the async report. */
    dbconn_session_set_statement_timeout(s, 0);
    job j = {.s = s};
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    t.data = &j;
    uv_timer_start(&t, on_timer, 100, 100);
    if ((rc = dbconn_exec_async(s, REPORT, NULL, 0, on_report, &j)))
        return fail("dbconn_exec_async", rc);
    uv_run(&loop, UV_RUN_DEFAULT);
    printf("report cancelled by a timer: %s\n", dbconn_err_name(j.status));
    if (j.status != DBCONN_EINTERRUPTED)
        return fail("dbconn_cancel", j.status);

    /* 3. Usable again after the rollback. */
    dbconn_result *r;
    if ((rc = dbconn_rollback(s)) ||
        (rc = dbconn_exec(s, "SELECT 42", NULL, 0, &r)))
        return fail("after the rollback", rc);
    printf("after the rollback: %lld\n",
           (long long)dbconn_result_int(r, 0, 0));
    dbconn_result_free(r);
    dbconn_session_close(s);
    rc = dbconn_close(db, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (rc || uv_loop_close(&loop) != 0)
        return fail("close", rc);
    return 0;
}
