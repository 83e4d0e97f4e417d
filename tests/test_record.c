/* The active-record calls on one object and in bulk (src/model/record.c,
 * record_bulk.c, record_rows.c, record_map.c) through the bound session and
 * an explicit one, on the engine tu_url() names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "record_models.h"

static dbconn_base *base(void) { return dbconn_active_record_base(); }

static int setup(void **state) {
    *state = rm_open(NULL, NULL);
    return 0;
}

static int teardown(void **state) {
    rm_close(*state);
    return 0;
}

/* The one user row with this id, through the bound session. */
static dbconn_rows *get_user(int64_t id) {
    dbconn_rows *r = NULL;
    tu_ok(dbconn_record_get(NULL, NULL, &rm_user_model,
                            DBCONN_PARAMS(DBCONN_INT(id)), &r));
    assert_int_equal(dbconn_rows_count(r), 1);
    return r;
}

static int64_t now_s(void) { return (int64_t)time(NULL); }

/* ---- create / get -------------------------------------------------------- */

static void create_writes_back_key_and_timestamps(void **state) {
    (void)state;
    static const unsigned char pic[] = {1, 0, 2, 0, 3};
    rm_user u = rm_make_user("alice", "alice@example.org", 30);
    u.avatar = (dbconn_blob){pic, sizeof pic};
    int64_t before = now_s();
    tu_ok(dbconn_record_create(NULL, NULL, &rm_user_model, &u));
    int64_t after = now_s();
    assert_true(u.id > 0);
    assert_true(u.created_at / 1000000 >= before &&
                u.created_at / 1000000 <= after);
    assert_int_equal(u.updated_at, u.created_at);
    assert_null(u.role); /* the default went to the row, not the struct */

    dbconn_rows *r = get_user(u.id);
    rm_user *g = dbconn_rows_data(r);
    assert_int_equal(g->id, u.id);
    assert_string_equal(g->name, "alice");
    assert_string_equal(g->email, "alice@example.org");
    assert_int_equal(g->age, 30);
    assert_true(g->active);
    assert_true(g->score == 7.5);
    assert_int_equal(g->avatar.len, sizeof pic);
    assert_memory_equal(g->avatar.data, pic, sizeof pic);
    assert_string_equal(g->role, "member");
    assert_int_equal(g->created_at, u.created_at);
    assert_int_equal(g->updated_at, u.updated_at);
    assert_ptr_equal(dbconn_rows_model(r), &rm_user_model);
    assert_ptr_equal(dbconn_rows_at(r, 0), g);
    assert_null(dbconn_rows_at(r, 1));
    dbconn_rows_free(r);
}

static void create_with_given_key_keeps_it(void **state) {
    (void)state;
    rm_user u = rm_make_user("given", NULL, 1);
    u.id = 4242;
    tu_ok(dbconn_record_create(NULL, NULL, &rm_user_model, &u));
    assert_int_equal(u.id, 4242);
    dbconn_rows *r = get_user(4242);
    assert_null(((rm_user *)dbconn_rows_data(r))->email);
    dbconn_rows_free(r);
}

static void booleans_are_stored_as_booleans(void **state) {
    rm_user a = rm_make_user("a", NULL, 2), b = rm_make_user("b", NULL, 3);
    tu_ok(dbconn_record_create(NULL, NULL, &rm_user_model, &a));
    tu_ok(dbconn_record_create(NULL, NULL, &rm_user_model, &b));
    assert_int_equal(tu_count_rows(*state, "users", "active"), 1);
    assert_int_equal(tu_count_rows(*state, "users", "NOT active"), 1);
}

static void get_not_found_is_a_code(void **state) {
    (void)state;
    dbconn_rows *r = (dbconn_rows *)&r;
    assert_int_equal(dbconn_record_get(NULL, NULL, &rm_user_model,
                                       DBCONN_PARAMS(DBCONN_INT(99)), &r),
                     DBCONN_ENOTFOUND);
    assert_null(r);
    assert_non_null(strstr(dbconn_errmsg(NULL), "\"users\""));
    assert_non_null(strstr(dbconn_errmsg(NULL), "\"id\" = 99"));
    /* a wrong number of key values */
    assert_int_equal(dbconn_record_get(NULL, NULL, &rm_user_model,
                                       DBCONN_PARAMS(DBCONN_INT(1),
                                                     DBCONN_INT(2)),
                                       &r),
                     DBCONN_EINVAL);
    assert_null(r);
}

static void null_text_takes_default_and_not_null_fails(void **state) {
    (void)state;
    rm_user u = rm_make_user(NULL, "x@example.org", 5);
    int rc = dbconn_record_create(NULL, NULL, &rm_user_model, &u);
    assert_int_equal(rc, DBCONN_ECONSTRAINT);
    assert_non_null(strstr(dbconn_errmsg(NULL), "users"));
    assert_non_null(strstr(dbconn_errmsg(NULL), "name"));
    assert_int_equal(u.id, 0);
    assert_int_equal(u.created_at, 0);
    assert_int_equal(u.updated_at, 0);
}

static void unique_violation_names_the_column(void **state) {
    rm_user a = rm_make_user("a", "same@example.org", 1);
    rm_user b = rm_make_user("b", "same@example.org", 2);
    tu_ok(dbconn_record_create(NULL, NULL, &rm_user_model, &a));
    assert_int_equal(dbconn_record_create(NULL, NULL, &rm_user_model, &b),
                     DBCONN_ECONSTRAINT);
    assert_non_null(strstr(dbconn_errmsg(NULL), "model \"users\""));
    assert_non_null(strstr(dbconn_errmsg(NULL), "email"));
    assert_int_equal(b.id, 0);
    /* The failed call rolled back what it began: the session is usable. */
    dbconn_session *s;
    tu_ok(dbconn_base_session(base(), &s));
    assert_false(dbconn_in_transaction(s));
    b.email = "other@example.org";
    tu_ok(dbconn_record_create(NULL, NULL, &rm_user_model, &b));
    assert_int_equal(tu_count_rows(*state, "users", NULL), 2);
}

static void current_timestamp_defaults_are_read_back(void **state) {
    (void)state;
    dbconn_session *s;
    tu_ok(dbconn_base_session(base(), &s));
    int64_t before = now_s();
    tu_ok(dbconn_exec(s, "INSERT INTO users (id, name) VALUES (7, 'sql')", NULL,
                      0, NULL));
    tu_ok(dbconn_commit(s));
    dbconn_rows *r = get_user(7);
    rm_user *u = dbconn_rows_data(r);
    assert_true(u->created_at / 1000000 >= before - 1);
    assert_true(u->created_at / 1000000 <= now_s());
    if (tu_is_sqlite()) {
        /* SQLite's CURRENT_TIMESTAMP has whole seconds */
        assert_int_equal(u->created_at % 1000000, 0);
    } else {
        /* PostgreSQL's has microseconds: the value read back is the
         * server's, to the microsecond */
        dbconn_result *res;
        tu_ok(dbconn_exec(s, "SELECT CAST(EXTRACT(EPOCH FROM created_at) * "
                             "1000000 AS BIGINT) FROM users WHERE id = 7",
                          NULL, 0, &res));
        assert_int_equal(dbconn_result_int(res, 0, 0), u->created_at);
        dbconn_result_free(res);
        tu_ok(dbconn_commit(s));
    }
    assert_string_equal(u->role, "member");
    dbconn_rows_free(r);
}

/* ---- save / update / delete ---------------------------------------------- */

static void save_inserts_then_updates(void **state) {
    rm_user u = rm_make_user("bob", "bob@example.org", 40);
    tu_ok(dbconn_record_save(NULL, NULL, &rm_user_model, &u));
    assert_true(u.id > 0);
    dbconn_timestamp created = u.created_at;
    u.name = "robert";
    u.created_at = 0; /* a struct built by hand: the stored one comes back */
    tu_ok(dbconn_record_save(NULL, NULL, &rm_user_model, &u));
    assert_int_equal(u.created_at, created);
    assert_true(u.updated_at >= created);
    assert_int_equal(tu_count_rows(*state, "users", NULL), 1);
    dbconn_rows *r = get_user(u.id);
    assert_string_equal(((rm_user *)dbconn_rows_data(r))->name, "robert");
    assert_int_equal(((rm_user *)dbconn_rows_data(r))->created_at, created);
    dbconn_rows_free(r);
    /* a given key that is not stored yet: inserted */
    rm_user v = rm_make_user("vera", NULL, 3);
    v.id = 500;
    tu_ok(dbconn_record_save(NULL, NULL, &rm_user_model, &v));
    assert_int_equal(tu_count_rows(*state, "users", "id = 500"), 1);
}

static void update_writes_only_the_chosen_columns(void **state) {
    (void)state;
    rm_user u = rm_make_user("carol", "carol@example.org", 20);
    tu_ok(dbconn_record_create(NULL, NULL, &rm_user_model, &u));
    dbconn_timestamp first = u.updated_at;
    u.name = "caroline";
    u.email = "changed@example.org";
    u.age = 21;
    static const char *const cols[] = {"name", "AGE"};
    tu_ok(dbconn_record_update(NULL, NULL, &rm_user_model, &u, cols, 2));
    assert_true(u.updated_at >= first);
    dbconn_rows *r = get_user(u.id);
    rm_user *g = dbconn_rows_data(r);
    assert_string_equal(g->name, "caroline");
    assert_int_equal(g->age, 21);
    assert_string_equal(g->email, "carol@example.org");
    assert_int_equal(g->updated_at, u.updated_at);
    assert_int_equal(g->created_at, u.created_at);
    dbconn_rows_free(r);
    /* every column */
    tu_ok(dbconn_record_update(NULL, NULL, &rm_user_model, &u, NULL, 0));
    r = get_user(u.id);
    assert_string_equal(((rm_user *)dbconn_rows_data(r))->email,
                        "changed@example.org");
    dbconn_rows_free(r);
}

static void update_errors(void **state) {
    (void)state;
    rm_user u = rm_make_user("dan", NULL, 2);
    tu_ok(dbconn_record_create(NULL, NULL, &rm_user_model, &u));
    static const char *const unknown[] = {"nmae"};
    assert_int_equal(dbconn_record_update(NULL, NULL, &rm_user_model, &u,
                                          unknown, 1),
                     DBCONN_EINVAL);
    assert_non_null(strstr(dbconn_errmsg(NULL), "\"users\""));
    assert_non_null(strstr(dbconn_errmsg(NULL), "\"nmae\""));
    static const char *const key[] = {"id"};
    assert_int_equal(dbconn_record_update(NULL, NULL, &rm_user_model, &u,
                                          key, 1),
                     DBCONN_EINVAL);
    dbconn_timestamp kept = u.updated_at;
    u.id = 9999;
    assert_int_equal(dbconn_record_update(NULL, NULL, &rm_user_model, &u,
                                          NULL, 0),
                     DBCONN_ENOTFOUND);
    assert_int_equal(u.updated_at, kept); /* put back on failure */
}

static void delete_and_destroy(void **state) {
    rm_user us[5];
    for (int i = 0; i < 5; i++) {
        us[i] = rm_make_user("u", NULL, i);
        tu_ok(dbconn_record_create(NULL, NULL, &rm_user_model, &us[i]));
    }
    tu_ok(dbconn_record_delete(NULL, NULL, &rm_user_model, &us[0]));
    assert_int_equal(dbconn_record_delete(NULL, NULL, &rm_user_model, &us[0]),
                     DBCONN_ENOTFOUND);
    int64_t deleted = -1;
    tu_ok(dbconn_record_destroy(NULL, NULL, &rm_user_model,
                                DBCONN_PARAMS(DBCONN_INT(us[1].id),
                                              DBCONN_INT(us[2].id),
                                              DBCONN_INT(us[0].id)),
                                &deleted));
    assert_int_equal(deleted, 2);
    assert_int_equal(tu_count_rows(*state, "users", NULL), 2);
    bool there = true;
    tu_ok(dbconn_record_exists(NULL, NULL, &rm_user_model,
                               DBCONN_PARAMS(DBCONN_INT(us[1].id)), &there));
    assert_false(there);
    tu_ok(dbconn_record_exists(NULL, NULL, &rm_user_model,
                               DBCONN_PARAMS(DBCONN_INT(us[3].id)), &there));
    assert_true(there);
    int64_t n = -1;
    tu_ok(dbconn_record_count(NULL, NULL, &rm_user_model, &n));
    assert_int_equal(n, 2);
}

static void deleting_a_user_cascades_to_notes(void **state) {
    rm_user u = rm_make_user("e", NULL, 1);
    tu_ok(dbconn_record_create(NULL, NULL, &rm_user_model, &u));
    rm_note n = {.user_id = u.id, .title = "hello"};
    tu_ok(dbconn_record_create(NULL, NULL, &rm_note_model, &n));
    assert_true(n.id > 0);
    assert_int_equal(tu_count_rows(*state, "notes", "category_id IS NULL"), 1);
    tu_ok(dbconn_record_delete(NULL, NULL, &rm_user_model, &u));
    assert_int_equal(tu_count_rows(*state, "notes", NULL), 0);
    /* a note of no user breaks the foreign key */
    rm_note orphan = {.user_id = 12345, .title = "x"};
    assert_int_equal(dbconn_record_create(NULL, NULL, &rm_note_model, &orphan),
                     DBCONN_ECONSTRAINT);
}

/* ---- sessions, transactions, bases --------------------------------------- */

static void joins_the_callers_transaction(void **state) {
    dbconn_session *s;
    tu_ok(dbconn_session_open(*state, &s));
    tu_ok(dbconn_begin(s, DBCONN_BEGIN_IMMEDIATE));
    rm_user a = rm_make_user("t1", NULL, 1), b = rm_make_user("t2", NULL, 2);
    tu_ok(dbconn_record_create(s, NULL, &rm_user_model, &a));
    tu_ok(dbconn_record_create(s, NULL, &rm_user_model, &b));
    assert_true(dbconn_in_transaction(s));
    int64_t n = 0;
    tu_ok(dbconn_record_count(s, NULL, &rm_user_model, &n));
    assert_int_equal(n, 2);
    tu_ok(dbconn_rollback(s));
    tu_ok(dbconn_record_count(s, NULL, &rm_user_model, &n));
    assert_int_equal(n, 0);
    /* outside a transaction each call is one, and leaves none open */
    tu_ok(dbconn_record_create(s, NULL, &rm_user_model, &a));
    assert_false(dbconn_in_transaction(s));
    dbconn_rows *r = NULL;
    tu_ok(dbconn_record_get(s, NULL, &rm_user_model,
                            DBCONN_PARAMS(DBCONN_INT(a.id)), &r));
    assert_false(dbconn_in_transaction(s));
    dbconn_rows_free(r);
    dbconn_session_close(s);
}

static void wrong_base_and_unbound_base(void **state) {
    dbconn_base *other;
    tu_ok(dbconn_base_new(&other));
    rm_user u = rm_make_user("f", NULL, 1);
    assert_int_equal(dbconn_record_create(NULL, other, &rm_user_model, &u),
                     DBCONN_EINVAL);
    assert_non_null(strstr(dbconn_errmsg(NULL), "\"users\""));
    assert_int_equal(dbconn_record_create(NULL, NULL, NULL, &u),
                     DBCONN_EINVAL);
    tu_ok(dbconn_base_add(other, &rm_user_model));
    assert_int_equal(dbconn_record_create(NULL, other, &rm_user_model, &u),
                     DBCONN_ECLOSED);
    assert_non_null(strstr(dbconn_errmsg(NULL), "\"users\""));
    /* an explicit session works with an unbound base */
    dbconn_session *s;
    tu_ok(dbconn_session_open(*state, &s));
    tu_ok(dbconn_record_create(s, other, &rm_user_model, &u));
    dbconn_session_close(s);
    tu_ok(dbconn_base_free(other));
    assert_int_equal(tu_count_rows(*state, "users", NULL), 1);
}

/* ---- bulk ---------------------------------------------------------------- */

#define BULK 1000

static void insert_many_writes_every_key(void **state) {
    rm_user *us = calloc(BULK, sizeof *us);
    char (*emails)[32] = calloc(BULK, sizeof *emails);
    assert_non_null(us);
    for (int i = 0; i < BULK; i++) {
        snprintf(emails[i], sizeof emails[i], "u%d@example.org", i);
        us[i] = rm_make_user("bulk", emails[i], i);
    }
    us[10].id = 100000; /* one with its key given */
    tu_ok(dbconn_record_insert_many(NULL, NULL, &rm_user_model, us, BULK));
    assert_int_equal(tu_count_rows(*state, "users", NULL), BULK);
    for (int i = 0; i < BULK; i++) {
        assert_true(us[i].id > 0);
        assert_true(us[i].created_at > 0);
        if (i > 0 && i != 10 && i != 11)
            assert_true(us[i].id > us[i - 1].id);
    }
    assert_int_equal(us[10].id, 100000);
    dbconn_rows *r = get_user(us[500].id);
    assert_string_equal(((rm_user *)dbconn_rows_data(r))->email, emails[500]);
    dbconn_rows_free(r);
    free(us);
    free(emails);
}

static void insert_many_is_all_or_nothing(void **state) {
    rm_user us[50];
    char emails[50][32];
    for (int i = 0; i < 50; i++) {
        snprintf(emails[i], sizeof emails[i], "v%d@example.org", i);
        us[i] = rm_make_user("v", emails[i], i);
    }
    us[30].email = emails[3]; /* a duplicate, late in the batch */
    assert_int_equal(dbconn_record_insert_many(NULL, NULL, &rm_user_model, us,
                                               50),
                     DBCONN_ECONSTRAINT);
    assert_non_null(strstr(dbconn_errmsg(NULL), "email"));
    assert_int_equal(tu_count_rows(*state, "users", NULL), 0);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(us[i].id, 0);
        assert_int_equal(us[i].created_at, 0);
    }
    tu_ok(dbconn_record_insert_many(NULL, NULL, &rm_user_model, us, 0));
}

static void insert_many_runs_one_statement_in_one_transaction(void **state) {
    (void)state;
    rm_echo e;
    dbconn *db = rm_open(&e, NULL);
    (void)db;
    rm_user us[20];
    for (int i = 0; i < 20; i++)
        us[i] = rm_make_user("w", NULL, i);
    tu_ok(dbconn_record_insert_many(NULL, NULL, &rm_user_model, us, 20));
    assert_int_equal(e.begins, 1);
    assert_int_equal(e.inserts, 20);
    assert_int_equal(e.commits, 1);
    dbconn_stats st;
    tu_ok(dbconn_pool_stats(db, &st));
    assert_true(st.cache_hits >= 19); /* prepared once, run 20 times */
    rm_close(db);
}

/* ---- rows, copies, nulls ------------------------------------------------- */

static void copy_outlives_the_rows(void **state) {
    (void)state;
    static const unsigned char pic[] = {9, 8, 7};
    rm_user u = rm_make_user("gina", "gina@example.org", 3);
    u.avatar = (dbconn_blob){pic, 3};
    tu_ok(dbconn_record_create(NULL, NULL, &rm_user_model, &u));
    dbconn_rows *r = get_user(u.id);
    rm_user copy;
    tu_ok(dbconn_record_copy(&rm_user_model, &copy, dbconn_rows_data(r)));
    dbconn_rows_free(r);
    assert_string_equal(copy.name, "gina");
    assert_string_equal(copy.role, "member");
    assert_memory_equal(copy.avatar.data, pic, 3);
    dbconn_record_clear(&rm_user_model, &copy);
    assert_null(copy.name);
    assert_null(copy.avatar.data);
    dbconn_record_clear(&rm_user_model, &copy); /* twice: nothing left */
}

static void zero_is_null_columns(void **state) {
    rm_user u = rm_make_user("h", NULL, 1);
    tu_ok(dbconn_record_create(NULL, NULL, &rm_user_model, &u));
    rm_category c = {.label = "work"};
    tu_ok(dbconn_record_create(NULL, NULL, &rm_category_model, &c));
    rm_note a = {.user_id = u.id, .title = "none"};
    rm_note b = {.user_id = u.id, .title = "some", .category_id = c.id};
    tu_ok(dbconn_record_create(NULL, NULL, &rm_note_model, &a));
    tu_ok(dbconn_record_create(NULL, NULL, &rm_note_model, &b));
    assert_int_equal(tu_count_rows(*state, "notes", "category_id IS NULL"), 1);
    dbconn_rows *r = NULL;
    tu_ok(dbconn_record_get(NULL, NULL, &rm_note_model,
                            DBCONN_PARAMS(DBCONN_INT(a.id)), &r));
    assert_int_equal(((rm_note *)dbconn_rows_data(r))->category_id, 0);
    dbconn_rows_free(r);
}

static void result_getters_by_name(void **state) {
    (void)state;
    dbconn_session *s;
    dbconn_result *res;
    tu_ok(dbconn_base_session(base(), &s));
    tu_ok(dbconn_exec(s, "SELECT 42 AS answer, 'x' AS letter, CAST(2.5 AS REAL) AS half, "
                         "NULL AS nada", NULL, 0, &res));
    tu_ok(dbconn_commit(s));
    assert_int_equal(dbconn_result_int_by_name(res, 0, "answer"), 42);
    assert_string_equal(dbconn_result_text_by_name(res, 0, "letter"), "x");
    assert_int_equal(dbconn_result_text_len_by_name(res, 0, "letter"), 1);
    assert_true(dbconn_result_real_by_name(res, 0, "half") == 2.5);
    assert_int_equal(dbconn_result_type_by_name(res, 0, "nada"),
                     DBCONN_TYPE_NULL);
    assert_int_equal(dbconn_result_type_by_name(res, 0, "missing"),
                     DBCONN_EINVAL);
    assert_int_equal(dbconn_result_int_by_name(res, 0, "missing"), 0);
    assert_null(dbconn_result_text_by_name(res, 0, NULL));
    assert_int_equal(dbconn_result_type_by_name(res, 1, "answer"),
                     DBCONN_EINVAL);
    size_t len = 7;
    assert_null(dbconn_result_blob_by_name(res, 0, "letter", &len));
    assert_int_equal(len, 0);
    dbconn_result_free(res);
}

static void wrong_kind_in_a_column_is_reported(void **state) {
    (void)state;
    if (!tu_is_sqlite())
        skip(); /* only SQLite stores text in an INTEGER column */
    dbconn_session *s;
    tu_ok(dbconn_base_session(base(), &s));
    tu_ok(dbconn_exec(s, "INSERT INTO users (id, name, age) VALUES (3, 'k', "
                         "'old')", NULL, 0, NULL));
    tu_ok(dbconn_exec(s, "INSERT INTO users (id, name, created_at) VALUES (4, "
                         "'k', 'yesterday')", NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    dbconn_rows *r = NULL;
    assert_int_equal(dbconn_record_get(NULL, NULL, &rm_user_model,
                                       DBCONN_PARAMS(DBCONN_INT(3)), &r),
                     DBCONN_EINVAL);
    assert_non_null(strstr(dbconn_errmsg(NULL), "\"age\""));
    assert_int_equal(dbconn_record_get(NULL, NULL, &rm_user_model,
                                       DBCONN_PARAMS(DBCONN_INT(4)), &r),
                     DBCONN_EINVAL);
    assert_non_null(strstr(dbconn_errmsg(NULL), "\"created_at\""));
    assert_null(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(create_writes_back_key_and_timestamps),
        T(create_with_given_key_keeps_it),
        T(booleans_are_stored_as_booleans),
        T(get_not_found_is_a_code),
        T(null_text_takes_default_and_not_null_fails),
        T(unique_violation_names_the_column),
        T(current_timestamp_defaults_are_read_back),
        T(save_inserts_then_updates),
        T(update_writes_only_the_chosen_columns),
        T(update_errors),
        T(delete_and_destroy),
        T(deleting_a_user_cascades_to_notes),
        T(joins_the_callers_transaction),
        T(wrong_base_and_unbound_base),
        T(insert_many_writes_every_key),
        T(insert_many_is_all_or_nothing),
        cmocka_unit_test(insert_many_runs_one_statement_in_one_transaction),
        T(copy_outlives_the_rows),
        T(zero_is_null_columns),
        T(result_getters_by_name),
        T(wrong_kind_in_a_column_is_reported),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
