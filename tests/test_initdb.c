/* dbconn_init_db and binding (src/initdb.c, src/base.c) end to end on
 * SQLite: creation order, quoting, atomicity, idempotence, bind / unbind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "util/alloc.h"
#include "util/buf.h"
#include "model/ddl.h"

#define NCOLS(a) (sizeof(a) / sizeof *(a))

/* ---- models ---------------------------------------------------------------- */

typedef struct user {
    int64_t id;
    char *name;
    char *email;
    int64_t team_id;
    char *created_at;
} user;

typedef struct team {
    int64_t id;
    char *name;
} team;

static const dbconn_column team_columns[] = {
    {.name = "id", .type = DBCONN_TYPE_INTEGER, .flags = DBCONN_PRIMARY_KEY,
     .offset = offsetof(team, id)},
    {.name = "name", .type = DBCONN_TYPE_TEXT, .flags = DBCONN_NOT_NULL,
     .offset = offsetof(team, name)},
};
static const dbconn_model team_model = {
    .table = "teams", .columns = team_columns, .ncolumns = NCOLS(team_columns),
    .struct_size = sizeof(team)};

static const dbconn_column user_columns[] = {
    {.name = "id", .type = DBCONN_TYPE_INTEGER, .flags = DBCONN_PRIMARY_KEY,
     .offset = offsetof(user, id)},
    {.name = "name", .type = DBCONN_TYPE_TEXT, .flags = DBCONN_NOT_NULL,
     .offset = offsetof(user, name)},
    {.name = "email", .type = DBCONN_TYPE_TEXT,
     .flags = DBCONN_UNIQUE | DBCONN_INDEXED, .offset = offsetof(user, email)},
    {.name = "team_id", .type = DBCONN_TYPE_INTEGER, .references = "teams(id)",
     .on_delete = DBCONN_FK_CASCADE, .offset = offsetof(user, team_id)},
    {.name = "created_at", .type = DBCONN_TYPE_TIMESTAMP,
     .default_sql = "CURRENT_TIMESTAMP", .offset = offsetof(user, created_at)},
};
static const dbconn_model user_model = {
    .table = "users", .columns = user_columns, .ncolumns = NCOLS(user_columns),
    .struct_size = sizeof(user)};

/* A third level: grants -> users -> teams. */
static const dbconn_column grant_columns[] = {
    {.name = "id", .type = DBCONN_TYPE_INTEGER,
     .flags = DBCONN_PRIMARY_KEY | DBCONN_AUTOINCREMENT},
    {.name = "user_id", .type = DBCONN_TYPE_INTEGER, .flags = DBCONN_NOT_NULL,
     .references = "users", .on_delete = DBCONN_FK_CASCADE},
    {.name = "what", .type = DBCONN_TYPE_TEXT, .default_literal = "read"},
};
static const dbconn_model grant_model = {
    .table = "grants", .columns = grant_columns,
    .ncolumns = NCOLS(grant_columns), .struct_size = 64};

/* Self-referencing tree. */
static const dbconn_column node_columns[] = {
    {.name = "id", .type = DBCONN_TYPE_INTEGER, .flags = DBCONN_PRIMARY_KEY},
    {.name = "parent", .type = DBCONN_TYPE_INTEGER, .references = "nodes(id)"},
};
static const dbconn_model node_model = {
    .table = "nodes", .columns = node_columns, .ncolumns = NCOLS(node_columns),
    .struct_size = 16};

/* ---- helpers --------------------------------------------------------------- */

/* Leaves the default base empty and unbound, also after a failed test. */
static int teardown_default(void **state) {
    (void)state;
    dbconn *db = dbconn_base_bound(dbconn_active_record_base());
    if (db)
        dbconn_close(db, NULL);
    return dbconn_base_clear(dbconn_active_record_base());
}

static dbconn *open_db(const char *url) {
    dbconn *db = NULL;
    tu_ok(dbconn_open(&db, url, NULL));
    return db;
}

/* Runs one statement in a fresh session; returns the result (caller frees). */
static dbconn_result *query(dbconn *db, const char *sql,
                            const dbconn_value *p, size_t np) {
    dbconn_session *s;
    tu_ok(dbconn_session_open(db, &s));
    dbconn_result *r = NULL;
    tu_ok(dbconn_exec(s, sql, p, np, &r));
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    return r;
}

/* The schema as one string: "type name sql\n" for every object, by name. */
static char *schema(dbconn *db) {
    /* PostgreSQL: the columns, indexes and constraints of the program's
     * schema (tu_fresh), from the catalog */
    dbconn_result *r = query(
        db,
        tu_is_sqlite()
            ? "SELECT type, name, sql FROM sqlite_master ORDER BY type, name"
            : "SELECT 'column', table_name || '.' || column_name, data_type "
              "|| ' ' || is_nullable || ' ' || coalesce(column_default, '') "
              "|| ' ' || is_identity FROM information_schema.columns WHERE "
              "table_schema = current_schema() UNION ALL SELECT 'index', "
              "indexname, indexdef FROM pg_indexes WHERE schemaname = "
              "current_schema() UNION ALL SELECT 'constraint', conname, "
              "pg_get_constraintdef(oid) FROM pg_constraint WHERE "
              "connamespace = CAST(current_schema() AS regnamespace) "
              "ORDER BY 1, 2",
        NULL, 0);
    dbc_buf b = DBC_BUF_INIT;
    dbc_buf_puts(&b, "");
    for (size_t i = 0; i < dbconn_result_nrows(r); i++) {
        const char *sql = dbconn_result_text(r, i, 2);
        dbc_buf_printf(&b, "%s %s %s\n", dbconn_result_text(r, i, 0),
                       dbconn_result_text(r, i, 1), sql ? sql : "-");
    }
    dbconn_result_free(r);
    char *s = dbc_buf_take(&b);
    assert_non_null(s);
    return s;
}

static size_t table_count(dbconn *db) {
    dbconn_result *r = query(
        db,
        tu_is_sqlite() ? "SELECT count(*) FROM sqlite_master WHERE type = "
                         "'table' AND name NOT LIKE 'sqlite_%'"
                       : "SELECT count(*) FROM information_schema.tables "
                         "WHERE table_schema = current_schema()",
        NULL, 0);
    size_t n = (size_t)dbconn_result_int(r, 0, 0);
    dbconn_result_free(r);
    return n;
}

static void assert_msg_has(const char *frag) {
    if (!strstr(dbconn_errmsg(NULL), frag))
        fail_msg("message \"%s\" lacks \"%s\"", dbconn_errmsg(NULL), frag);
}

/* ---- tests ------------------------------------------------------------------ */

static void test_null_db(void **state) {
    (void)state;
    assert_int_equal(dbconn_init_db(NULL, NULL), DBCONN_EINVAL);
    assert_msg_has("db is NULL");
    char *out = (char *)state;
    assert_int_equal(dbconn_base_ddl(NULL, NULL, &out), DBCONN_EINVAL);
    assert_null(out);
}

/* The DESIGN.md flow on the default base, children declared first. */
static void test_default_base_end_to_end(void **state) {
    (void)state;
    dbconn_base *b = dbconn_active_record_base();
    tu_ok(dbconn_base_add(b, &grant_model));
    tu_ok(dbconn_base_add(b, &user_model));
    tu_ok(dbconn_base_add(b, &team_model));
    /* SQLite: through the +aiosqlite alias */
    dbconn *db = open_db(tu_is_sqlite() ? "sqlite+aiosqlite://" : tu_url());
    assert_null(dbconn_base_bound(b));
    tu_ok(dbconn_init_db(db, NULL));
    assert_ptr_equal(dbconn_base_bound(b), db);
    assert_int_equal(table_count(db), 3);

    dbconn_session *s, *s2;
    tu_ok(dbconn_base_session(b, &s));
    tu_ok(dbconn_scoped_session(db, &s2));
    assert_ptr_equal(s, s2); /* the task's scoped session */
    tu_ok(dbconn_exec(s, "INSERT INTO teams (name) VALUES (?)",
                      DBCONN_PARAMS(DBCONN_TEXT("core")), NULL));
    tu_ok(dbconn_exec(s, "INSERT INTO users (name, email, team_id) "
                         "VALUES (?, ?, 1)",
                      DBCONN_PARAMS(DBCONN_TEXT("ann"), DBCONN_TEXT("a@x")),
                      NULL));
    tu_ok(dbconn_exec(s, "INSERT INTO grants (user_id) VALUES (1)", NULL, 0,
                      NULL));
    tu_ok(dbconn_commit(s));

    /* Defaults, the unique index, foreign keys (on by default). */
    dbconn_result *r = NULL;
    tu_ok(dbconn_exec(s, "SELECT g.what, u.created_at IS NOT NULL FROM grants "
                         "g JOIN users u ON u.id = g.user_id", NULL, 0, &r));
    assert_string_equal(dbconn_result_text(r, 0, 0), "read");
    assert_int_equal(dbconn_result_int(r, 0, 1), 1);
    dbconn_result_free(r);
    assert_int_equal(dbconn_exec(s, "INSERT INTO users (name, email) VALUES "
                                    "('bob', 'a@x')", NULL, 0, NULL),
                     DBCONN_ECONSTRAINT);
    tu_ok(dbconn_rollback(s));
    assert_int_equal(dbconn_exec(s, "INSERT INTO users (name, team_id) VALUES "
                                    "('bob', 99)", NULL, 0, NULL),
                     DBCONN_ECONSTRAINT);
    tu_ok(dbconn_rollback(s));
    /* Cascades: teams -> users -> grants. */
    tu_ok(dbconn_exec(s, "DELETE FROM teams", NULL, 0, NULL));
    tu_ok(dbconn_exec(s, "SELECT (SELECT count(*) FROM users) + (SELECT "
                         "count(*) FROM grants)", NULL, 0, &r));
    assert_int_equal(dbconn_result_int(r, 0, 0), 0);
    dbconn_result_free(r);
    tu_ok(dbconn_commit(s));
    tu_ok(dbconn_scoped_remove(db));

    tu_ok(dbconn_close(db, NULL));
    assert_null(dbconn_base_bound(b));
    assert_int_equal(dbconn_base_session(b, &s), DBCONN_ECLOSED);
    assert_null(s);
    assert_string_equal(dbconn_errmsg(NULL),
                        "base is not bound: call dbconn_init_db");
}

static void test_indexes_are_created(void **state) {
    (void)state;
    dbconn_base *b = dbconn_active_record_base();
    tu_ok(dbconn_base_add(b, &user_model));
    tu_ok(dbconn_base_add(b, &team_model));
    dbconn *db = open_db(tu_url());
    tu_ok(dbconn_init_db(db, b));
    /* the indexes made by CREATE INDEX (not those of PRIMARY KEY) */
    dbconn_result *r = query(
        db,
        tu_is_sqlite()
            ? "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND "
              "sql IS NOT NULL"
            : "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index "
              "i JOIN pg_class c ON c.oid = i.indexrelid WHERE "
              "c.relnamespace = CAST(current_schema() AS regnamespace) AND "
              "NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = "
              "i.indexrelid)",
        NULL, 0);
    assert_int_equal(dbconn_result_nrows(r), 1);
    assert_string_equal(dbconn_result_text(r, 0, 0), "ix_users_email");
    assert_non_null(strstr(dbconn_result_text(r, 0, 1), "UNIQUE INDEX"));
    dbconn_result_free(r);
    tu_ok(dbconn_close(db, b));
}

/* Names with ", ', ;, -- and non-ASCII round-trip through the catalog. */
#define HOSTILE_TABLE "t\"a'b; DROP TABLE x; --\xc3\xa9"
#define HOSTILE_COL "c\"o'l;--\xe2\x82\xac"
static const dbconn_column hostile_columns[] = {
    {.name = "i\"d", .type = DBCONN_TYPE_INTEGER,
     .flags = DBCONN_PRIMARY_KEY | DBCONN_AUTOINCREMENT},
    {.name = HOSTILE_COL, .type = DBCONN_TYPE_TEXT, .flags = DBCONN_INDEXED,
     .default_literal = "it's; --"},
    {.name = "up", .type = DBCONN_TYPE_INTEGER,
     .references = HOSTILE_TABLE "(i\"d)"},
};
static const dbconn_model hostile_model = {
    .table = HOSTILE_TABLE, .columns = hostile_columns,
    .ncolumns = NCOLS(hostile_columns), .struct_size = 64};

static void test_hostile_identifiers_round_trip(void **state) {
    (void)state;
    dbconn_base *b;
    tu_ok(dbconn_base_new(&b));
    tu_ok(dbconn_base_add(b, &hostile_model));
    dbconn *db = open_db(tu_url());
    tu_ok(dbconn_init_db(db, b));

    dbconn_result *r = query(
        db,
        tu_is_sqlite() ? "SELECT name FROM pragma_table_info(?) ORDER BY cid"
                       : "SELECT column_name FROM information_schema.columns "
                         "WHERE table_schema = current_schema() AND "
                         "table_name = ? ORDER BY ordinal_position",
        DBCONN_PARAMS(DBCONN_TEXT(HOSTILE_TABLE)));
    assert_int_equal(dbconn_result_nrows(r), 3);
    assert_string_equal(dbconn_result_text(r, 0, 0), "i\"d");
    assert_string_equal(dbconn_result_text(r, 1, 0), HOSTILE_COL);
    assert_string_equal(dbconn_result_text(r, 2, 0), "up");
    dbconn_result_free(r);
    r = query(db,
              tu_is_sqlite()
                  ? "SELECT \"table\" FROM pragma_foreign_key_list(?)"
                  : "SELECT CAST(f.relname AS TEXT) FROM pg_constraint k JOIN "
                    "pg_class t ON t.oid = k.conrelid JOIN pg_class f ON "
                    "f.oid = k.confrelid WHERE k.contype = 'f' AND "
                    "CAST(t.relname AS TEXT) = ?",
              DBCONN_PARAMS(DBCONN_TEXT(HOSTILE_TABLE)));
    assert_string_equal(dbconn_result_text(r, 0, 0), HOSTILE_TABLE);
    dbconn_result_free(r);
    r = query(db,
              tu_is_sqlite()
                  ? "SELECT name FROM pragma_index_list(?)"
                  : "SELECT CAST(c.relname AS TEXT) FROM pg_index i JOIN "
                    "pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON "
                    "t.oid = i.indrelid WHERE NOT i.indisprimary AND "
                    "CAST(t.relname AS TEXT) = ?",
              DBCONN_PARAMS(DBCONN_TEXT(HOSTILE_TABLE)));
    assert_string_equal(dbconn_result_text(r, 0, 0),
                        "ix_" HOSTILE_TABLE "_" HOSTILE_COL);
    dbconn_result_free(r);
    assert_int_equal(table_count(db), 1); /* only ours: no "x" appeared */

    /* The literal default arrives intact. */
    dbc_buf sql = DBC_BUF_INIT;
    dbc_buf_puts(&sql, "INSERT INTO ");
    dbc_quote_ident(&sql, HOSTILE_TABLE);
    dbc_buf_puts(&sql, " DEFAULT VALUES RETURNING ");
    dbc_quote_ident(&sql, HOSTILE_COL);
    r = query(db, sql.data, NULL, 0);
    assert_string_equal(dbconn_result_text(r, 0, 0), "it's; --");
    dbconn_result_free(r);
    dbc_buf_free(&sql);

    tu_ok(dbconn_close(db, b));
    tu_ok(dbconn_base_free(b));
}

static void test_self_reference(void **state) {
    (void)state;
    dbconn_base *b = dbconn_active_record_base();
    tu_ok(dbconn_base_add(b, &node_model));
    dbconn *db = open_db(tu_url());
    tu_ok(dbconn_init_db(db, NULL));
    dbconn_result *r = query(db, "INSERT INTO nodes (id, parent) VALUES (1, "
                                 "NULL), (2, 1) RETURNING id", NULL, 0);
    assert_int_equal(dbconn_result_nrows(r), 2);
    dbconn_result_free(r);
    dbconn_session *s;
    tu_ok(dbconn_session_open(db, &s));
    assert_int_equal(dbconn_exec(s, "INSERT INTO nodes VALUES (3, 42)", NULL,
                                 0, NULL),
                     DBCONN_ECONSTRAINT);
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
}

/* Two tables that reference each other, and one that is fine. */
static const dbconn_column a_columns[] = {
    {.name = "id", .type = DBCONN_TYPE_INTEGER, .flags = DBCONN_PRIMARY_KEY},
    {.name = "b_id", .type = DBCONN_TYPE_INTEGER, .references = "b"},
};
static const dbconn_column b_columns[] = {
    {.name = "id", .type = DBCONN_TYPE_INTEGER, .flags = DBCONN_PRIMARY_KEY},
    {.name = "a_id", .type = DBCONN_TYPE_INTEGER, .references = "a(id)"},
};
static const dbconn_column orphan_columns[] = {
    {.name = "id", .type = DBCONN_TYPE_INTEGER, .flags = DBCONN_PRIMARY_KEY},
    {.name = "p", .type = DBCONN_TYPE_INTEGER, .references = "parents(id)"},
};
static const dbconn_model a_model = {.table = "a", .columns = a_columns,
                                     .ncolumns = 2, .struct_size = 16};
static const dbconn_model b_model = {.table = "b", .columns = b_columns,
                                     .ncolumns = 2, .struct_size = 16};
static const dbconn_model orphan_model = {
    .table = "orphans", .columns = orphan_columns, .ncolumns = 2,
    .struct_size = 16};

/* Errors found while planning come before any DDL: nothing is created and
 * the base stays unbound. */
static void test_plan_errors_create_nothing(void **state) {
    (void)state;
    dbconn_base *b = dbconn_active_record_base();
    dbconn *db = open_db(tu_url());

    tu_ok(dbconn_base_add(b, &team_model));
    tu_ok(dbconn_base_add(b, &orphan_model));
    assert_int_equal(dbconn_init_db(db, NULL), DBCONN_EINVAL);
    assert_msg_has("foreign key \"orphans\".\"p\" references unknown table "
                   "\"parents\"");
    assert_int_equal(table_count(db), 0);
    assert_null(dbconn_base_bound(b));

    tu_ok(dbconn_base_clear(b));
    tu_ok(dbconn_base_add(b, &team_model));
    tu_ok(dbconn_base_add(b, &a_model));
    tu_ok(dbconn_base_add(b, &b_model));
    assert_int_equal(dbconn_init_db(db, NULL), DBCONN_EINVAL);
    assert_msg_has("foreign key cycle: \"a\" -> \"b\" -> \"a\"");
    assert_int_equal(table_count(db), 0);
    assert_null(dbconn_base_bound(b));

    char *ddl = (char *)db;
    assert_int_equal(dbconn_base_ddl(db, NULL, &ddl), DBCONN_EINVAL);
    assert_null(ddl);
    tu_ok(dbconn_close(db, NULL));
}

/* A statement that fails in the third table rolls back the first two. */
static const dbconn_column bad_columns[] = {
    {.name = "id", .type = DBCONN_TYPE_INTEGER, .flags = DBCONN_PRIMARY_KEY},
    {.name = "v", .type = DBCONN_TYPE_INTEGER, .default_sql = "nonsense("},
};
static const dbconn_model bad_model = {.table = "third", .columns = bad_columns,
                                       .ncolumns = 2, .struct_size = 16};

static void test_failure_is_atomic(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    const char *url = tu_db_url(dir, "atomic.db", NULL);
    dbconn_base *b;
    tu_ok(dbconn_base_new(&b));
    tu_ok(dbconn_base_add(b, &team_model));
    tu_ok(dbconn_base_add(b, &node_model));
    tu_ok(dbconn_base_add(b, &bad_model));
    dbconn *db = open_db(url);
    int rc = dbconn_init_db(db, b);
    assert_int_equal(rc, DBCONN_EDB);
    assert_msg_has("init_db: creating table \"third\" failed: ");
    assert_msg_has("CREATE TABLE IF NOT EXISTS \"third\" (");
    assert_msg_has("nonsense(");
    assert_null(dbconn_base_bound(b));
    assert_int_equal(table_count(db), 0);
    tu_ok(dbconn_close(db, NULL));

    /* A fresh engine on the same file sees no table either. */
    db = open_db(url);
    assert_int_equal(table_count(db), 0);
    char *sch = schema(db);
    assert_string_equal(sch, "");
    dbc_free(sch);
    tu_ok(dbconn_close(db, NULL));
    tu_ok(dbconn_base_free(b));
    tu_rmdir(dir);
}

/* Echo shows the look in a read transaction (which only reads and is
 * rolled back), then the one write transaction: BEGIN IMMEDIATE, the
 * statements in order, COMMIT; and ROLLBACK after a failing statement. */
static void collect(void *data, int level, const char *line) {
    (void)level;
    dbc_buf_puts(data, line);
    dbc_buf_putc(data, '\n');
}

static void test_one_immediate_transaction(void **state) {
    (void)state;
    dbc_buf log = DBC_BUF_INIT;
    dbconn_options o = {.echo = 1, .log = collect, .log_data = &log};
    dbconn *db = NULL;
    tu_ok(dbconn_open(&db, tu_url(), &o));
    dbconn_base *b = dbconn_active_record_base();
    tu_ok(dbconn_base_add(b, &user_model));
    tu_ok(dbconn_base_add(b, &team_model));
    dbc_buf_reset(&log);
    tu_ok(dbconn_init_db(db, NULL));
    assert_non_null(log.data);
    /* PostgreSQL has no write lock to take at BEGIN: a plain BEGIN */
    const char *begin_line = tu_is_sqlite() ? "BEGIN IMMEDIATE\n" : "BEGIN\n";
    const char *begin = strstr(log.data, begin_line);
    const char *teams = strstr(log.data, "CREATE TABLE IF NOT EXISTS \"teams\"");
    const char *users = strstr(log.data, "CREATE TABLE IF NOT EXISTS \"users\"");
    const char *index = strstr(log.data, "CREATE UNIQUE INDEX");
    const char *commit = strstr(log.data, "\nCOMMIT\n");
    const char *look = strstr(log.data, "\nROLLBACK\n");
    assert_true(strstr(log.data, "BEGIN (implicit)\nSELECT ") == log.data);
    assert_true(look && look + strlen("\nROLLBACK\n") == begin);
    assert_true(begin && teams && users && index && commit);
    assert_true(begin < teams && teams < users && users < index &&
                index < commit);
    assert_null(strstr(begin + 1, "BEGIN"));
    tu_ok(dbconn_close(db, NULL));
    tu_ok(dbconn_base_clear(b));

    tu_ok(dbconn_open(&db, tu_url(), &o));
    tu_ok(dbconn_base_add(b, &team_model));
    tu_ok(dbconn_base_add(b, &bad_model));
    dbc_buf_reset(&log);
    assert_int_equal(dbconn_init_db(db, NULL), DBCONN_EDB);
    /* the look (a read transaction) first, then the write transaction */
    begin = strstr(log.data, tu_is_sqlite() ? "\nBEGIN IMMEDIATE\n"
                                            : "\nBEGIN\n");
    assert_non_null(begin);
    assert_non_null(strstr(begin, "\nROLLBACK\n"));
    assert_null(strstr(log.data, "COMMIT"));
    tu_ok(dbconn_close(db, NULL));
    dbc_buf_free(&log);
}

/* An index that cannot be created (its name is taken by a table already in
 * the database) undoes the tables created before it too. */
static const dbconn_column ixc_columns[] = {
    {.name = "id", .type = DBCONN_TYPE_INTEGER, .flags = DBCONN_PRIMARY_KEY},
    {.name = "c", .type = DBCONN_TYPE_TEXT, .flags = DBCONN_INDEXED},
};
static const dbconn_model ixc_model = {.table = "t", .columns = ixc_columns,
                                       .ncolumns = 2, .struct_size = 16};

static void test_index_failure_names_index(void **state) {
    (void)state;
    dbconn *db = open_db(tu_url());
    dbconn_result_free(query(db, "CREATE TABLE ix_t_c (x INTEGER)", NULL, 0));
    dbconn_base *b = dbconn_active_record_base();
    tu_ok(dbconn_base_add(b, &team_model));
    tu_ok(dbconn_base_add(b, &ixc_model));
    assert_int_equal(dbconn_init_db(db, NULL), DBCONN_EDB);
    assert_msg_has("init_db: creating index \"ix_t_c\" on table \"t\" "
                   "failed: ");
    /* SQLite refuses the index itself; PostgreSQL's IF NOT EXISTS skips
     * it, and init_db's check of the name reports it */
    assert_msg_has(tu_is_sqlite() ? "already a table named ix_t_c"
                                  : "already taken by a relation that is not "
                                    "an index on this table");
    assert_msg_has("CREATE INDEX IF NOT EXISTS \"ix_t_c\" ON \"t\" (\"c\")");
    assert_int_equal(table_count(db), 1); /* only the one made by hand */
    assert_null(dbconn_base_bound(b));
    tu_ok(dbconn_close(db, NULL));
}

static void test_idempotent(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    const char *url = tu_db_url(dir, "idem.db", NULL);
    dbconn_base *b = dbconn_active_record_base();
    tu_ok(dbconn_base_add(b, &grant_model));
    tu_ok(dbconn_base_add(b, &user_model));
    tu_ok(dbconn_base_add(b, &team_model));

    dbconn *db = open_db(url);
    tu_ok(dbconn_init_db(db, NULL));
    char *first = schema(db);
    dbconn_result_free(query(db, "INSERT INTO teams (name) VALUES ('kept')",
                             NULL, 0));
    tu_ok(dbconn_init_db(db, NULL)); /* same db: re-binding is fine */
    assert_ptr_equal(dbconn_base_bound(b), db);
    char *second = schema(db);
    assert_string_equal(first, second);
    tu_ok(dbconn_close(db, NULL));
    assert_null(dbconn_base_bound(b));

    db = open_db(url); /* a new engine, existing tables */
    tu_ok(dbconn_init_db(db, NULL));
    char *third = schema(db);
    assert_string_equal(first, third);
    dbconn_result *r = query(db, "SELECT name FROM teams", NULL, 0);
    assert_int_equal(dbconn_result_nrows(r), 1);
    assert_string_equal(dbconn_result_text(r, 0, 0), "kept");
    dbconn_result_free(r);
    tu_ok(dbconn_close(db, NULL));
    dbc_free(first);
    dbc_free(second);
    dbc_free(third);
    tu_rmdir(dir);
}

static void test_custom_base_bind_unbind(void **state) {
    (void)state;
    dbconn_base *b;
    tu_ok(dbconn_base_new(&b));
    tu_ok(dbconn_base_add(b, &team_model));
    dbconn *db = open_db(tu_url());
    dbconn_session *s = (dbconn_session *)b;
    assert_null(dbconn_base_bound(b));
    assert_int_equal(dbconn_base_session(b, &s), DBCONN_ECLOSED);
    assert_null(s);

    tu_ok(dbconn_init_db(db, b));
    assert_ptr_equal(dbconn_base_bound(b), db);
    assert_null(dbconn_base_bound(dbconn_active_record_base()));
    /* Bound: neither freed nor cleared. */
    assert_int_equal(dbconn_base_free(b), DBCONN_EINVAL);
    char bound[4200];
    snprintf(bound, sizeof bound, "bound to \"%s\"", dbconn_url_string(db));
    assert_msg_has(bound);
    assert_int_equal(dbconn_base_clear(b), DBCONN_EINVAL);
    assert_int_equal(dbconn_base_count(b), 1);
    /* Models may still be added; the next init_db creates them. */
    tu_ok(dbconn_base_add(b, &node_model));
    tu_ok(dbconn_init_db(db, b));
    assert_int_equal(table_count(db), 2);

    tu_ok(dbconn_base_session(b, &s));
    assert_ptr_equal(dbconn_session_db(s), db);
    tu_ok(dbconn_exec(s, "INSERT INTO teams (name) VALUES ('x')", NULL, 0,
                      NULL));
    tu_ok(dbconn_commit(s));
    tu_ok(dbconn_scoped_remove(db));

    tu_ok(dbconn_close(db, b));
    assert_null(dbconn_base_bound(b));
    assert_int_equal(dbconn_base_session(b, &s), DBCONN_ECLOSED);
    tu_ok(dbconn_base_clear(b));
    tu_ok(dbconn_base_free(b));
}

static void test_double_bind_names_both_urls(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    char url1[4096], url2[4096];
    snprintf(url1, sizeof url1, "%s", tu_db_url(dir, "one.db", NULL));
    snprintf(url2, sizeof url2, "%s", tu_db_url(dir, "two.db", "?pool_size=2"));
    dbconn_base *b;
    tu_ok(dbconn_base_new(&b));
    tu_ok(dbconn_base_add(b, &team_model));
    dbconn *db1 = open_db(url1), *db2 = open_db(url2);

    tu_ok(dbconn_init_db(db1, b));
    assert_int_equal(dbconn_init_db(db2, b), DBCONN_EINVAL);
    /* dbconn_url_string is the engine's password-masked form (SQLite URLs
     * cannot carry credentials, so masking itself is the URL tests'). */
    assert_msg_has(dbconn_url_string(db1));
    assert_msg_has(dbconn_url_string(db2));
    assert_msg_has("already bound");
    assert_ptr_equal(dbconn_base_bound(b), db1);
    /* nothing done on db2 (a server: the same database as db1, which holds
     * db1's tables and no more) */
    assert_int_equal(table_count(db2), tu_is_sqlite() ? 0 : table_count(db1));

    /* Once db1 is closed the base may move to db2. */
    tu_ok(dbconn_close(db1, b));
    tu_ok(dbconn_init_db(db2, b));
    assert_ptr_equal(dbconn_base_bound(b), db2);
    tu_ok(dbconn_close(db2, NULL)); /* NULL: the default base; b unbound too */
    assert_null(dbconn_base_bound(b));
    tu_ok(dbconn_base_free(b));
    tu_rmdir(dir);
}

static void test_close_unbinds_only_its_bases(void **state) {
    (void)state;
    dbconn_base *b1, *b2, *other;
    tu_ok(dbconn_base_new(&b1));
    tu_ok(dbconn_base_new(&b2));
    tu_ok(dbconn_base_new(&other));
    tu_ok(dbconn_base_add(b1, &team_model));
    tu_ok(dbconn_base_add(b2, &node_model));
    tu_ok(dbconn_base_add(other, &team_model));
    tu_ok(dbconn_base_add(dbconn_active_record_base(), &node_model));
    dbconn *db = open_db(tu_url()), *db2 = open_db(tu_url());
    tu_ok(dbconn_init_db(db, b1));
    tu_ok(dbconn_init_db(db, b2));
    tu_ok(dbconn_init_db(db, NULL));
    tu_ok(dbconn_init_db(db2, other));

    tu_ok(dbconn_close(db, b2));
    assert_null(dbconn_base_bound(b1));
    assert_null(dbconn_base_bound(b2));
    assert_null(dbconn_base_bound(dbconn_active_record_base()));
    assert_ptr_equal(dbconn_base_bound(other), db2);
    dbconn_session *s;
    tu_ok(dbconn_base_session(other, &s));
    assert_ptr_equal(dbconn_session_db(s), db2);
    tu_ok(dbconn_scoped_remove(db2));

    tu_ok(dbconn_close(db2, other));
    assert_null(dbconn_base_bound(other));
    tu_ok(dbconn_base_free(b1));
    tu_ok(dbconn_base_free(b2));
    tu_ok(dbconn_base_free(other));
}

static void test_base_ddl_matches_init_db(void **state) {
    (void)state;
    dbconn_base *b = dbconn_active_record_base();
    tu_ok(dbconn_base_add(b, &user_model));
    tu_ok(dbconn_base_add(b, &team_model));
    dbconn *db = open_db(tu_url());
    char *ddl = NULL;
    tu_ok(dbconn_base_ddl(db, NULL, &ddl));
    if (!tu_is_sqlite())
        assert_string_equal(
            ddl,
            "CREATE TABLE IF NOT EXISTS \"teams\" (\"id\" BIGINT GENERATED BY "
            "DEFAULT AS IDENTITY PRIMARY KEY, \"name\" TEXT NOT NULL);\n"
            "CREATE TABLE IF NOT EXISTS \"users\" (\"id\" BIGINT GENERATED BY "
            "DEFAULT AS IDENTITY PRIMARY KEY, \"name\" TEXT NOT NULL, "
            "\"email\" TEXT, \"team_id\" BIGINT, \"created_at\" TIMESTAMPTZ "
            "DEFAULT (CURRENT_TIMESTAMP), FOREIGN KEY (\"team_id\") REFERENCES "
            "\"teams\"(\"id\") ON DELETE CASCADE);\n"
            "CREATE UNIQUE INDEX IF NOT EXISTS \"ix_users_email\" ON "
            "\"users\" (\"email\");\n");
    else
    assert_string_equal(
        ddl,
        "CREATE TABLE IF NOT EXISTS \"teams\" (\"id\" INTEGER PRIMARY KEY, "
        "\"name\" TEXT NOT NULL);\n"
        "CREATE TABLE IF NOT EXISTS \"users\" (\"id\" INTEGER PRIMARY KEY, "
        "\"name\" TEXT NOT NULL, \"email\" TEXT, \"team_id\" INTEGER, "
        "\"created_at\" TIMESTAMP DEFAULT (CURRENT_TIMESTAMP), FOREIGN KEY "
        "(\"team_id\") REFERENCES \"teams\"(\"id\") ON DELETE CASCADE);\n"
        "CREATE UNIQUE INDEX IF NOT EXISTS \"ix_users_email\" ON \"users\" "
        "(\"email\");\n");
    /* The rendered script is what init_db runs: running it by hand gives
     * the same schema. */
    dbconn *db2 = open_db(tu_url());
    dbconn_session *s;
    tu_ok(dbconn_session_open(db2, &s));
    tu_ok(dbconn_exec_script(s, ddl));
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    char *s2 = schema(db2);
    /* a server has one database for both: empty it again for init_db */
    if (!tu_is_sqlite())
        tu_fresh(NULL);
    tu_ok(dbconn_init_db(db, NULL));
    char *s1 = schema(db);
    assert_non_null(strstr(s1, "ix_users_email"));
    assert_string_equal(s1, s2);
    dbc_free(s1);
    dbc_free(s2);
    dbconn_free(ddl);
    /* Not bound by dbconn_base_ddl. */
    assert_ptr_equal(dbconn_base_bound(b), db);
    tu_ok(dbconn_close(db2, NULL));
    assert_ptr_equal(dbconn_base_bound(b), db);
    tu_ok(dbconn_close(db, NULL));
}

static void test_empty_base(void **state) {
    (void)state;
    dbconn *db = open_db(tu_url());
    char *ddl = NULL;
    tu_ok(dbconn_base_ddl(db, NULL, &ddl));
    assert_string_equal(ddl, "");
    dbconn_free(ddl);
    tu_ok(dbconn_init_db(db, NULL));
    assert_ptr_equal(dbconn_base_bound(dbconn_active_record_base()), db);
    assert_int_equal(table_count(db), 0);
    tu_ok(dbconn_close(db, NULL));
    assert_null(dbconn_base_bound(dbconn_active_record_base()));
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, tu_fresh, teardown_default)
    const struct CMUnitTest tests[] = {
        T(test_null_db),
        T(test_default_base_end_to_end),
        T(test_indexes_are_created),
        T(test_hostile_identifiers_round_trip),
        T(test_self_reference),
        T(test_plan_errors_create_nothing),
        T(test_failure_is_atomic),
        T(test_one_immediate_transaction),
        T(test_index_failure_names_index),
        T(test_idempotent),
        T(test_custom_base_bind_unbind),
        T(test_double_bind_names_both_urls),
        T(test_close_unbinds_only_its_bases),
        T(test_base_ddl_matches_init_db),
        T(test_empty_base),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
