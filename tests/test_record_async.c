/* The async forms (src/model/record_async.c) on a libuv loop: results and
 * write-backs, failures through the callback (rolled back, structs put
 * back), refusals that never call back, one thread-pool hop per call,
 * cancellation by dbconn_close, and the submitting task around callbacks.
 * Every test ends with uv_loop_close() == 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record_models.h"

typedef struct fixture {
    uv_loop_t loop;
    dbconn *db;
    rm_echo echo;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->db = rm_open(&f->echo, &f->loop);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    if (f->db) {
        tu_ok(dbconn_scoped_remove(f->db));
        tu_ok(dbconn_close(f->db, NULL));
    }
    tu_ok(dbconn_base_clear(dbconn_active_record_base()));
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
    return 0;
}

/* What a callback saw. */
typedef struct seen {
    int calls, status;
    dbconn_rows *rows;
    int64_t n;
    void *task;
    uv_thread_t thread;
    char msg[256];
} seen;

static void record(seen *s, int status) {
    s->calls++;
    s->status = status;
    s->task = dbconn_current_task();
    s->thread = uv_thread_self();
    snprintf(s->msg, sizeof s->msg, "%s", status ? dbconn_errmsg(NULL) : "");
}

static void on_done(int status, void *data) { record(data, status); }

static void on_rows(int status, dbconn_rows *rows, void *data) {
    seen *s = data;
    record(s, status);
    dbconn_rows_free(s->rows);
    s->rows = rows;
}

static void on_count(int status, int64_t n, void *data) {
    seen *s = data;
    record(s, status);
    s->n = n;
}

/* The hops one async record call makes: one thread-pool job on SQLite; none
 * on PostgreSQL, whose default (loop) policy sends the statements from the
 * loop thread and counts no job. */
static uint64_t one_hop(void) { return tu_is_sqlite() ? 1 : 0; }

static void run(fixture *f) { uv_run(&f->loop, UV_RUN_DEFAULT); }

static uint64_t hops(fixture *f) {
    dbconn_stats st;
    tu_ok(dbconn_pool_stats(f->db, &st));
    return st.async_jobs + st.async_chained;
}

static void create_get_save_delete(void **state) {
    fixture *f = *state;
    seen s = {0};
    rm_user u = rm_make_user("ann", "ann@example.org", 31);
    uint64_t h0 = hops(f);
    tu_ok(dbconn_record_create_async(NULL, NULL, &rm_user_model, &u, on_done,
                                     &s));
    assert_int_equal(s.calls, 0); /* never inside the call */
    run(f);
    assert_int_equal(s.calls, 1);
    tu_ok(s.status);
    assert_true(u.id > 0 && u.created_at > 0);
    assert_int_equal(hops(f) - h0, one_hop()); /* INSERT and COMMIT in one hop */
    assert_true(uv_thread_equal(&s.thread, &(uv_thread_t){uv_thread_self()}));

    seen g = {0};
    tu_ok(dbconn_record_get_async(NULL, NULL, &rm_user_model,
                                  DBCONN_PARAMS(DBCONN_INT(u.id)), on_rows,
                                  &g));
    run(f);
    tu_ok(g.status);
    assert_int_equal(dbconn_rows_count(g.rows), 1);
    assert_string_equal(((rm_user *)dbconn_rows_data(g.rows))->name, "ann");

    u.name = "anna";
    u.created_at = 0;
    seen sv = {0};
    tu_ok(dbconn_record_save_async(NULL, NULL, &rm_user_model, &u, on_done,
                                   &sv));
    run(f);
    tu_ok(sv.status);
    assert_int_equal(u.created_at,
                     ((rm_user *)dbconn_rows_data(g.rows))->created_at);
    assert_int_equal(tu_count_rows(f->db, "users", "name = 'anna'"), 1);
    /* a given key that is not stored: the save inserts it */
    rm_user v = rm_make_user("vic", NULL, 2);
    v.id = 777;
    tu_ok(dbconn_record_save_async(NULL, NULL, &rm_user_model, &v, on_done,
                                   &sv));
    run(f);
    tu_ok(sv.status);
    assert_int_equal(tu_count_rows(f->db, "users", "id = 777"), 1);

    seen d = {0};
    tu_ok(dbconn_record_delete_async(NULL, NULL, &rm_user_model, &u, on_done,
                                     &d));
    run(f);
    tu_ok(d.status);
    tu_ok(dbconn_record_delete_async(NULL, NULL, &rm_user_model, &u, on_done,
                                     &d));
    run(f);
    assert_int_equal(d.calls, 2);
    assert_int_equal(d.status, DBCONN_ENOTFOUND);
    tu_ok(dbconn_record_get_async(NULL, NULL, &rm_user_model,
                                  DBCONN_PARAMS(DBCONN_INT(u.id)), on_rows,
                                  &g));
    run(f);
    assert_int_equal(g.status, DBCONN_ENOTFOUND);
    assert_null(g.rows);
    assert_non_null(strstr(g.msg, "\"users\""));
    assert_int_equal(g.calls, 2);
}

static void insert_many_in_one_hop_all_or_nothing(void **state) {
    fixture *f = *state;
    enum { N = 300 };
    rm_user *us = calloc(N, sizeof *us);
    char (*emails)[32] = calloc(N, sizeof *emails);
    for (int i = 0; i < N; i++) {
        snprintf(emails[i], sizeof emails[i], "m%d@example.org", i);
        us[i] = rm_make_user("many", emails[i], i);
    }
    seen s = {0};
    uint64_t h0 = hops(f);
    tu_ok(dbconn_record_insert_many_async(NULL, NULL, &rm_user_model, us, N,
                                          on_done, &s));
    run(f);
    tu_ok(s.status);
    assert_int_equal(hops(f) - h0, one_hop());
    assert_int_equal(tu_count_rows(f->db, "users", NULL), N);
    for (int i = 1; i < N; i++)
        assert_true(us[i].id > us[i - 1].id);
    /* a duplicate late in a second batch: nothing stays, keys put back */
    for (int i = 0; i < N; i++) {
        snprintf(emails[i], sizeof emails[i], "n%d@example.org", i);
        us[i] = rm_make_user("more", emails[i], i);
    }
    us[N - 1].email = emails[0];
    f->echo = (rm_echo){0};
    tu_ok(dbconn_record_insert_many_async(NULL, NULL, &rm_user_model, us, N,
                                          on_done, &s));
    run(f);
    assert_int_equal(s.calls, 2);
    assert_int_equal(s.status, DBCONN_ECONSTRAINT);
    assert_non_null(strstr(s.msg, "email"));
    assert_int_equal(f->echo.rollbacks, 1);
    assert_int_equal(tu_count_rows(f->db, "users", NULL), N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(us[i].id, 0);
        assert_int_equal(us[i].created_at, 0);
    }
    free(us);
    free(emails);
}

static void refusals_never_call_back(void **state) {
    fixture *f = *state;
    seen s = {0};
    rm_user u = rm_make_user("x", NULL, 1);
    assert_int_equal(dbconn_record_create_async(NULL, NULL, &rm_user_model,
                                                NULL, on_done, &s),
                     DBCONN_EINVAL);
    dbconn_base *other;
    tu_ok(dbconn_base_new(&other));
    assert_int_equal(dbconn_record_create_async(NULL, other, &rm_user_model,
                                                &u, on_done, &s),
                     DBCONN_EINVAL);
    tu_ok(dbconn_base_add(other, &rm_user_model));
    assert_int_equal(dbconn_record_create_async(NULL, other, &rm_user_model,
                                                &u, on_done, &s),
                     DBCONN_ECLOSED);
    tu_ok(dbconn_base_free(other));
    assert_int_equal(dbconn_record_get_async(NULL, NULL, &rm_user_model,
                                             DBCONN_PARAMS(DBCONN_INT(1),
                                                           DBCONN_INT(2)),
                                             on_rows, &s),
                     DBCONN_EINVAL);
    assert_int_equal(dbconn_record_get_async(NULL, NULL, &rm_user_model,
                                             DBCONN_PARAMS(DBCONN_INT(1)),
                                             NULL, &s),
                     DBCONN_EINVAL);
    /* a timestamp out of range: refused with the struct as it was */
    u.created_at = INT64_MAX;
    assert_int_equal(dbconn_record_create_async(NULL, NULL, &rm_user_model,
                                                &u, on_done, &s),
                     DBCONN_EINVAL);
    assert_int_equal(u.created_at, INT64_MAX);
    assert_int_equal(u.updated_at, 0);
    dbconn_query *q;
    tu_ok(dbconn_query_new(&q, NULL, NULL, &rm_user_model));
    assert_int_equal(dbconn_query_where(q, "nope", DBCONN_OP_EQ,
                                        DBCONN_PARAMS(DBCONN_INT(1))),
                     DBCONN_EINVAL);
    assert_int_equal(dbconn_query_all_async(q, on_rows, &s), DBCONN_EINVAL);
    assert_int_equal(dbconn_query_count_async(q, on_count, &s),
                     DBCONN_EINVAL);
    dbconn_query_free(q);
    run(f);
    assert_int_equal(s.calls, 0);
}

static void queries(void **state) {
    fixture *f = *state;
    rm_user us[6];
    for (int i = 0; i < 6; i++)
        us[i] = rm_make_user(i % 2 ? "odd" : "even", NULL, i);
    tu_ok(dbconn_record_insert_many(NULL, NULL, &rm_user_model, us, 6));
    rm_note ns[4] = {{.user_id = us[0].id, .title = "a"},
                     {.user_id = us[2].id, .title = "b"},
                     {.user_id = us[2].id, .title = "c"},
                     {.user_id = us[5].id, .title = "d"}};
    tu_ok(dbconn_record_insert_many(NULL, NULL, &rm_note_model, ns, 4));

    dbconn_query *q;
    tu_ok(dbconn_query_new(&q, NULL, NULL, &rm_user_model));
    tu_ok(dbconn_query_where(q, "name", DBCONN_OP_EQ,
                             DBCONN_PARAMS(DBCONN_TEXT("even"))));
    tu_ok(dbconn_query_order_by(q, "id"));
    tu_ok(dbconn_query_load(q, "notes"));
    seen s = {0};
    f->echo = (rm_echo){0};
    uint64_t h0 = hops(f);
    tu_ok(dbconn_query_all_async(q, on_rows, &s));
    dbconn_query_free(q); /* copied at the call */
    run(f);
    tu_ok(s.status);
    assert_int_equal(hops(f) - h0, one_hop());
    assert_int_equal(f->echo.selects, 2);
    assert_int_equal(dbconn_rows_count(s.rows), 3);
    void *first;
    size_t n;
    tu_ok(dbconn_rows_related(s.rows, 1, "notes", &first, &n));
    assert_int_equal(n, 2);
    assert_string_equal(((rm_note *)first)[1].title, "c");
    tu_ok(dbconn_rows_related(s.rows, 2, "notes", &first, &n));
    assert_int_equal(n, 0);

    tu_ok(dbconn_query_new(&q, NULL, NULL, &rm_user_model));
    tu_ok(dbconn_query_where(q, "age", DBCONN_OP_GT,
                             DBCONN_PARAMS(DBCONN_INT(100))));
    tu_ok(dbconn_query_first_async(q, on_rows, &s));
    seen c = {0};
    tu_ok(dbconn_query_count_async(q, on_count, &c));
    run(f);
    tu_ok(s.status);
    assert_null(s.rows);
    tu_ok(c.status);
    assert_int_equal(c.n, 0);
    dbconn_query_free(q);

    tu_ok(dbconn_query_new(&q, NULL, NULL, &rm_user_model));
    tu_ok(dbconn_query_where(q, "name", DBCONN_OP_EQ,
                             DBCONN_PARAMS(DBCONN_TEXT("odd"))));
    static const char *const cols[] = {"age"};
    tu_ok(dbconn_query_update_async(q, cols, DBCONN_PARAMS(DBCONN_INT(99)),
                                    on_count, &c));
    run(f);
    tu_ok(c.status);
    assert_int_equal(c.n, 3);
    assert_int_equal(tu_count_rows(f->db, "users", "age = 99"), 3);
    tu_ok(dbconn_query_delete_async(q, on_count, &c));
    run(f);
    tu_ok(c.status);
    assert_int_equal(c.n, 3);
    assert_int_equal(tu_count_rows(f->db, "users", NULL), 3);
    dbconn_query_free(q);
}

static void close_cancels_queued_work(void **state) {
    fixture *f = *state;
    if (!tu_is_sqlite())
        skip(); /* it parks the create on SQLite's write gate */
    /* another session holds the write gate: the create waits, queued */
    dbconn_session *a;
    tu_ok(dbconn_session_open(f->db, &a));
    tu_ok(dbconn_exec(a, "INSERT INTO categories (label) VALUES ('hold')",
                      NULL, 0, NULL));
    seen s = {0};
    rm_user u = rm_make_user("late", NULL, 1);
    tu_ok(dbconn_record_create_async(NULL, NULL, &rm_user_model, &u, on_done,
                                     &s));
    dbconn_stats st = tu_run_until_gate_waits(&f->loop, f->db, 1);
    assert_int_equal(st.gate_waits, 1);
    assert_int_equal(s.calls, 0);
    tu_ok(dbconn_close(f->db, NULL));
    f->db = NULL;
    assert_int_equal(s.calls, 0); /* never from inside dbconn_close */
    /* The base is unbound now and may be cleared (its plans freed) with
     * the callback still pending: the job kept what it needs. */
    tu_ok(dbconn_base_clear(dbconn_active_record_base()));
    run(f);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.status, DBCONN_ECANCELED);
    assert_int_equal(u.id, 0); /* nothing written back */
    assert_int_equal(u.created_at, 0);
    assert_int_equal(u.updated_at, 0);
    dbconn_session_close(a);
}

static void callbacks_run_in_the_submitting_task(void **state) {
    fixture *f = *state;
    int task_a, task_b;
    seen a = {0}, b = {0};
    rm_user ua = rm_make_user("a", NULL, 1), ub = rm_make_user("b", NULL, 2);
    void *prev = dbconn_task_enter(&task_a);
    tu_ok(dbconn_record_create_async(NULL, NULL, &rm_user_model, &ua, on_done,
                                     &a));
    dbconn_task_enter(&task_b);
    tu_ok(dbconn_record_create_async(NULL, NULL, &rm_user_model, &ub, on_done,
                                     &b));
    dbconn_task_leave(prev);
    run(f);
    tu_ok(a.status);
    tu_ok(b.status);
    assert_ptr_equal(a.task, &task_a);
    assert_ptr_equal(b.task, &task_b);
    assert_int_equal(dbconn_scoped_count(f->db), 2); /* a's and b's */
    tu_ok(dbconn_scoped_remove_key(f->db, &task_a));
    tu_ok(dbconn_scoped_remove_key(f->db, &task_b));
    /* an explicit session */
    dbconn_session *s;
    tu_ok(dbconn_session_open(f->db, &s));
    seen c = {0};
    tu_ok(dbconn_record_get_async(s, NULL, &rm_user_model,
                                  DBCONN_PARAMS(DBCONN_INT(ub.id)), on_rows,
                                  &c));
    run(f);
    tu_ok(c.status);
    assert_string_equal(((rm_user *)dbconn_rows_data(c.rows))->name, "b");
    dbconn_rows_free(c.rows);
    dbconn_session_close(s);
}

static int teardown_rows(void **state) { return teardown(state); }

int main(void) {
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown_rows)
        T(create_get_save_delete),
        T(insert_many_in_one_hop_all_or_nothing),
        T(refusals_never_call_back),
        T(queries),
        T(close_cancels_queued_work),
        T(callbacks_run_in_the_submitting_task),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
