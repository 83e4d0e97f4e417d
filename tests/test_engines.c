/* The same program on every engine: a base model written once, typed
 * defaults, placeholders, typed parameters and results, constraint codes,
 * streaming, one statement per exec.  Runs on tu_url(): sqlite:// by
 * default, and on the PostgreSQL test server as test_engines_postgres
 * (tests/CMakeLists.txt, DBCONN_BOTH_ENGINES).  Tables are named eng_* and
 * dropped first: the server keeps them between runs. */
#include <stddef.h>
#include <string.h>

#include "testutil.h"

typedef struct team {
    int64_t id;
    char *name;
} team;

typedef struct member {
    int64_t id;
    int64_t team_id;
    char *name;
    int64_t active;
    int64_t admin;
    char *joined;
    double score;
} member;

static const dbconn_column team_columns[] = {
    {.name = "id", .type = DBCONN_TYPE_INTEGER, .flags = DBCONN_PRIMARY_KEY,
     .offset = offsetof(team, id)},
    {.name = "name", .type = DBCONN_TYPE_TEXT,
     .flags = DBCONN_NOT_NULL | DBCONN_UNIQUE, .offset = offsetof(team, name)},
};

/* Defaults as a sqlite program writes them: 0 / 1 for booleans (as an
 * expression and as a literal), CURRENT_TIMESTAMP, a number. */
static const dbconn_column member_columns[] = {
    {.name = "id", .type = DBCONN_TYPE_INTEGER, .flags = DBCONN_PRIMARY_KEY,
     .offset = offsetof(member, id)},
    {.name = "team_id", .type = DBCONN_TYPE_INTEGER, .flags = DBCONN_INDEXED,
     .references = "eng_teams(id)", .on_delete = DBCONN_FK_CASCADE,
     .offset = offsetof(member, team_id)},
    {.name = "name", .type = DBCONN_TYPE_TEXT, .flags = DBCONN_NOT_NULL,
     .offset = offsetof(member, name)},
    {.name = "active", .type = DBCONN_TYPE_BOOLEAN, .default_sql = "1",
     .offset = offsetof(member, active)},
    {.name = "admin", .type = DBCONN_TYPE_BOOLEAN, .default_literal = "0",
     .offset = offsetof(member, admin)},
    {.name = "joined", .type = DBCONN_TYPE_TIMESTAMP,
     .default_sql = "CURRENT_TIMESTAMP", .offset = offsetof(member, joined)},
    {.name = "score", .type = DBCONN_TYPE_REAL, .default_sql = "0",
     .offset = offsetof(member, score)},
};

static const dbconn_model team_model = {
    .table = "eng_teams",
    .columns = team_columns,
    .ncolumns = sizeof team_columns / sizeof *team_columns,
    .struct_size = sizeof(team),
};

static const dbconn_model member_model = {
    .table = "eng_members",
    .columns = member_columns,
    .ncolumns = sizeof member_columns / sizeof *member_columns,
    .struct_size = sizeof(member),
};

typedef struct fx {
    dbconn *db;
    dbconn_session *s;
    dbconn_base *base;
} fx;

static void drop_tables(dbconn *db) {
    dbconn_session *s;
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, "DROP TABLE IF EXISTS eng_members", NULL, 0, NULL));
    tu_ok(dbconn_exec(s, "DROP TABLE IF EXISTS eng_teams", NULL, 0, NULL));
    tu_ok(dbconn_exec(s, "DROP TABLE IF EXISTS eng_t", NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
}

static int setup(void **state) {
    fx *f = test_calloc(1, sizeof *f);
    tu_ok(dbconn_open(&f->db, tu_url(), NULL));
    drop_tables(f->db);
    tu_ok(dbconn_base_new(&f->base));
    tu_ok(dbconn_base_add(f->base, &member_model)); /* before its target */
    tu_ok(dbconn_base_add(f->base, &team_model));
    tu_ok(dbconn_session_open(f->db, &f->s));
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    dbconn_session_close(f->s);
    drop_tables(f->db);
    tu_ok(dbconn_close(f->db, NULL));
    tu_ok(dbconn_base_free(f->base));
    test_free(f);
    return 0;
}

static int64_t one_int(fx *f, const char *sql) {
    dbconn_result *r;
    tu_ok(dbconn_exec(f->s, sql, NULL, 0, &r));
    assert_int_equal(dbconn_result_nrows(r), 1);
    int64_t v = dbconn_result_int(r, 0, 0);
    dbconn_result_free(r);
    return v;
}

/* "YYYY-MM-DD HH:MM:SS" at the start of s. */
static bool looks_like_timestamp(const char *s) {
    static const char shape[] = "dddd-dd-dd dd:dd:dd";
    if (!s || strlen(s) < sizeof shape - 1)
        return false;
    for (size_t i = 0; i < sizeof shape - 1; i++)
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            return false;
    return true;
}

/* One base model, its defaults rendered per dialect: keys assigned on
 * insert, booleans as 0/1, the current time, cascades. */
static void test_base_model_with_typed_defaults(void **state) {
    fx *f = *state;
    dbconn_result *r;
    tu_ok(dbconn_init_db(f->db, f->base));
    tu_ok(dbconn_init_db(f->db, f->base)); /* idempotent */
    tu_ok(dbconn_exec(f->s, "INSERT INTO eng_teams (name) VALUES (?) "
                            "RETURNING id",
                      DBCONN_PARAMS(DBCONN_TEXT("red")), &r));
    assert_int_equal(dbconn_result_int(r, 0, 0), 1);
    assert_int_equal(dbconn_result_last_insert_id(r), 1);
    assert_int_equal(dbconn_result_changes(r), 1);
    dbconn_result_free(r);
    tu_ok(dbconn_exec(f->s,
                      "INSERT INTO eng_members (team_id, name) VALUES (?, ?)",
                      DBCONN_PARAMS(DBCONN_INT(1), DBCONN_TEXT("ann")), NULL));
    tu_ok(dbconn_exec(f->s, "SELECT id, active, admin, joined, score FROM "
                            "eng_members",
                      NULL, 0, &r));
    assert_int_equal(dbconn_result_nrows(r), 1);
    assert_int_equal(dbconn_result_int(r, 0, 0), 1);
    assert_int_equal(dbconn_result_type(r, 0, 1), DBCONN_TYPE_INTEGER);
    assert_int_equal(dbconn_result_int(r, 0, 1), 1);
    assert_int_equal(dbconn_result_type(r, 0, 2), DBCONN_TYPE_INTEGER);
    assert_int_equal(dbconn_result_int(r, 0, 2), 0);
    assert_int_equal(dbconn_result_type(r, 0, 3), DBCONN_TYPE_TEXT);
    assert_true(looks_like_timestamp(dbconn_result_text(r, 0, 3)));
    assert_int_equal(dbconn_result_type(r, 0, 4), DBCONN_TYPE_REAL);
    dbconn_result_free(r);
    tu_ok(dbconn_exec(f->s, "DELETE FROM eng_teams WHERE id = ?",
                      DBCONN_PARAMS(DBCONN_INT(1)), &r));
    assert_int_equal(dbconn_result_changes(r), 1);
    dbconn_result_free(r);
    assert_int_equal(one_int(f, "SELECT count(*) FROM eng_members"), 0);
    tu_ok(dbconn_commit(f->s));
}

static void test_constraint_codes_and_abort(void **state) {
    fx *f = *state;
    tu_ok(dbconn_init_db(f->db, f->base));
    tu_ok(dbconn_exec(f->s, "INSERT INTO eng_teams (name) VALUES ('blue')",
                      NULL, 0, NULL));
    assert_int_equal(dbconn_exec(f->s, "INSERT INTO eng_teams (name) VALUES "
                                       "('blue')",
                                 NULL, 0, NULL),
                     DBCONN_ECONSTRAINT);
    assert_int_equal(dbconn_exec(f->s, "SELECT 1", NULL, 0, NULL),
                     DBCONN_EABORTED);
    tu_ok(dbconn_rollback(f->s));
    assert_int_equal(
        dbconn_exec(f->s, "INSERT INTO eng_members (team_id, name) VALUES "
                          "(42, 'nobody')",
                    NULL, 0, NULL),
        DBCONN_ECONSTRAINT); /* no team 42 */
    tu_ok(dbconn_rollback(f->s));
    assert_int_equal(one_int(f, "SELECT count(*) FROM eng_teams"), 0);
    tu_ok(dbconn_commit(f->s));
}

/* Typed parameters come back as the types they went in as. */
static void test_parameter_and_result_types(void **state) {
    fx *f = *state;
    dbconn_result *r;
    tu_ok(dbconn_exec(f->s, "SELECT ?, ?, ?, ?, '?'",
                      DBCONN_PARAMS(DBCONN_INT(-9007199254740993),
                                    DBCONN_REAL(0.1), DBCONN_TEXT("héllo"),
                                    DBCONN_NULL),
                      &r));
    assert_int_equal(dbconn_result_type(r, 0, 0), DBCONN_TYPE_INTEGER);
    assert_int_equal(dbconn_result_int(r, 0, 0), -9007199254740993);
    assert_int_equal(dbconn_result_type(r, 0, 1), DBCONN_TYPE_REAL);
    assert_true(dbconn_result_real(r, 0, 1) == 0.1);
    assert_int_equal(dbconn_result_type(r, 0, 2), DBCONN_TYPE_TEXT);
    assert_string_equal(dbconn_result_text(r, 0, 2), "héllo");
    assert_int_equal(dbconn_result_type(r, 0, 3), DBCONN_TYPE_NULL);
    assert_string_equal(dbconn_result_text(r, 0, 4), "?");
    dbconn_result_free(r);
    /* Type names both engines take (sqlite has no BYTEA, but any name
     * will do there). */
    tu_ok(dbconn_exec(f->s, "CREATE TABLE eng_t (b BYTEA, ts TIMESTAMP, "
                            "flag BOOLEAN)",
                      NULL, 0, NULL));
    dbconn_value ts = {.type = DBCONN_TYPE_TIMESTAMP,
                       .u.b = {"2024-02-29 23:59:58", DBCONN_NTS}};
    dbconn_value yes = {.type = DBCONN_TYPE_BOOLEAN, .u.i = 1};
    tu_ok(dbconn_exec(f->s, "INSERT INTO eng_t VALUES (?, ?, ?)",
                      DBCONN_PARAMS(DBCONN_BLOB("\0\xff\x01", 3), ts, yes),
                      NULL));
    tu_ok(dbconn_exec(f->s, "SELECT b, ts, flag FROM eng_t", NULL, 0, &r));
    size_t len;
    const void *b = dbconn_result_blob(r, 0, 0, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(b, "\0\xff\x01", 3);
    assert_string_equal(dbconn_result_text(r, 0, 1), "2024-02-29 23:59:58");
    assert_int_equal(dbconn_result_type(r, 0, 2), DBCONN_TYPE_INTEGER);
    assert_int_equal(dbconn_result_int(r, 0, 2), 1);
    dbconn_result_free(r);
    tu_ok(dbconn_commit(f->s));
}

typedef struct seen {
    int rows;
    int64_t sum;
    int stop_after;
} seen;

static int on_row(void *data, const dbconn_result *row) {
    seen *s = data;
    s->rows++;
    s->sum += dbconn_result_int(row, 0, 0);
    return s->stop_after && s->rows == s->stop_after;
}

#define COUNT_TO_5000                                                          \
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE "    \
    "x < 5000) SELECT x FROM c"

static void test_streaming_first_and_one_statement(void **state) {
    fx *f = *state;
    seen all = {0}, some = {.stop_after = 10};
    tu_ok(dbconn_exec_each(f->s, COUNT_TO_5000, NULL, 0, on_row, &all));
    assert_int_equal(all.rows, 5000);
    assert_int_equal(all.sum, 5000 * 5001 / 2);
    tu_ok(dbconn_exec_each(f->s, COUNT_TO_5000, NULL, 0, on_row, &some));
    assert_int_equal(some.rows, 10);
    /* the session goes on after a stop */
    dbconn_result *r;
    tu_ok(dbconn_exec_first(f->s, COUNT_TO_5000, NULL, 0, &r));
    assert_int_equal(dbconn_result_nrows(r), 1);
    assert_int_equal(dbconn_result_int(r, 0, 0), 1);
    dbconn_result_free(r);
    tu_ok(dbconn_exec(f->s, "SELECT 1; -- trailing comment", NULL, 0, NULL));
    tu_ok(dbconn_commit(f->s));
    assert_int_equal(dbconn_exec(f->s, "SELECT 1; SELECT 2", NULL, 0, NULL),
                     DBCONN_EINVAL);
    assert_int_equal(dbconn_exec(f->s, "SELECT 1", NULL, 0, NULL),
                     DBCONN_EABORTED);
    tu_ok(dbconn_rollback(f->s));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_base_model_with_typed_defaults,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_constraint_codes_and_abort, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_parameter_and_result_types, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_streaming_first_and_one_statement,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
