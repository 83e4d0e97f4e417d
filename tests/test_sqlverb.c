/* The first keyword of SQL text (src/sqlverb.c).  Three decisions rest on
 * it: a transaction whose first statement is a write begins IMMEDIATE;
 * only queries have their program read for the one-row proof; and after a
 * cached query or write succeeds the connection is not asked whether the
 * transaction is still open -- so transaction control, PRAGMAs and DDL
 * must never be taken for a query or a write. */
#include <string.h>

#include "util/sqlverb.h"
#include "testutil.h"

typedef struct verb_case {
    const char *sql;
    dbc_verb verb;
} verb_case;

static void check(const verb_case *cases, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (dbc_sql_verb(cases[i].sql) != cases[i].verb)
            fail_msg("dbc_sql_verb(\"%s\") is %d, expected %d", cases[i].sql,
                     (int)dbc_sql_verb(cases[i].sql), (int)cases[i].verb);
    }
}

static void test_queries_and_writes(void **state) {
    (void)state;
    static const verb_case cases[] = {
        {"SELECT 1", DBC_VERB_SELECT},
        {"select * from t", DBC_VERB_SELECT},
        {"SeLeCt(1)", DBC_VERB_SELECT},
        {"VALUES (1), (2)", DBC_VERB_SELECT},
        {"WITH x AS (SELECT 1) SELECT * FROM x", DBC_VERB_WITH},
        {"with x as (select 1) delete from t", DBC_VERB_WITH},
        {"INSERT INTO t VALUES (1)", DBC_VERB_WRITE},
        {"insert or replace into t values (1)", DBC_VERB_WRITE},
        {"UPDATE t SET v = 1", DBC_VERB_WRITE},
        {"DELETE FROM t", DBC_VERB_WRITE},
        {"REPLACE INTO t VALUES (1)", DBC_VERB_WRITE},
    };
    check(cases, sizeof cases / sizeof cases[0]);
}

static void test_space_and_comments_before_the_keyword(void **state) {
    (void)state;
    static const verb_case cases[] = {
        {"  \t\n\r\v\fSELECT 1", DBC_VERB_SELECT},
        {"-- a note\nINSERT INTO t VALUES (1)", DBC_VERB_WRITE},
        {"/* a note */ UPDATE t SET v = 1", DBC_VERB_WRITE},
        {"/* one */ -- two\n  /* three\n */DELETE FROM t", DBC_VERB_WRITE},
        {"-- only a comment", DBC_VERB_OTHER},
        {"/* never closed SELECT 1", DBC_VERB_OTHER},
        {"", DBC_VERB_OTHER},
        {"   ", DBC_VERB_OTHER},
    };
    check(cases, sizeof cases / sizeof cases[0]);
    assert_int_equal(dbc_sql_verb(NULL), DBC_VERB_OTHER);
}

/* A keyword is a whole word: a longer identifier is not it. */
static void test_whole_words_only(void **state) {
    (void)state;
    static const verb_case cases[] = {
        {"SELECTED", DBC_VERB_OTHER},
        {"select_all()", DBC_VERB_OTHER},
        {"INSERT2", DBC_VERB_OTHER},
        {"updates", DBC_VERB_OTHER},
        {"WITHOUT", DBC_VERB_OTHER},
        {"DELETE\xc3\xa9", DBC_VERB_OTHER},
        {"SELEC 1", DBC_VERB_OTHER},
    };
    check(cases, sizeof cases / sizeof cases[0]);
}

/* Transaction control is its own kind, in every spelling of both engines;
 * none of it is ever taken for a query or a write (which would let a
 * session keep a connection whose transaction has ended). */
static void test_transaction_control(void **state) {
    (void)state;
    static const verb_case cases[] = {
        {"BEGIN", DBC_VERB_TXN},
        {"begin immediate", DBC_VERB_TXN},
        {"BEGIN TRANSACTION", DBC_VERB_TXN},
        {"COMMIT", DBC_VERB_TXN},
        {"  commit transaction;", DBC_VERB_TXN},
        {"END", DBC_VERB_TXN},
        {"/* x */ END TRANSACTION", DBC_VERB_TXN},
        {"ROLLBACK", DBC_VERB_TXN},
        {"ROLLBACK TO SAVEPOINT a", DBC_VERB_TXN},
        {"SAVEPOINT a", DBC_VERB_TXN},
        {"RELEASE a", DBC_VERB_TXN},
        {"RELEASE SAVEPOINT a", DBC_VERB_TXN},
        {"START TRANSACTION", DBC_VERB_TXN},
        {"start\n-- c\n transaction isolation level serializable",
         DBC_VERB_TXN},
        {"ABORT", DBC_VERB_TXN},
        {"PREPARE TRANSACTION 'x'", DBC_VERB_TXN},
        {"COMMIT PREPARED 'x'", DBC_VERB_TXN},
        {"PREPARE q AS SELECT 1", DBC_VERB_OTHER},
        {"START", DBC_VERB_OTHER},
        {"STARTED", DBC_VERB_OTHER},
        {"BEGINNING", DBC_VERB_OTHER},
        {"ENDS", DBC_VERB_OTHER},
    };
    check(cases, sizeof cases / sizeof cases[0]);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_false(dbc_verb_keeps_tx(dbc_sql_verb(cases[i].sql)));
}

/* What can act while it compiles is "other"; DDL is its own kind: it
 * writes (so the async layer takes the write gate for it first) but is
 * never trusted to leave the transaction open. */
static void test_pragma_and_ddl(void **state) {
    (void)state;
    static const verb_case ddl[] = {
        {"CREATE TABLE t (v)", DBC_VERB_DDL},
        {" create index i on t (v)", DBC_VERB_DDL},
        {"DROP TABLE t", DBC_VERB_DDL},
        {"ALTER TABLE t ADD COLUMN w", DBC_VERB_DDL},
        {"CREATED", DBC_VERB_OTHER},
    };
    check(ddl, sizeof ddl / sizeof ddl[0]);
    for (size_t i = 0; i < 4; i++) {
        assert_true(dbc_verb_writes(dbc_sql_verb(ddl[i].sql)));
        assert_false(dbc_verb_keeps_tx(dbc_sql_verb(ddl[i].sql)));
    }
    assert_true(dbc_verb_writes(DBC_VERB_WRITE));
    assert_false(dbc_verb_writes(DBC_VERB_SELECT));
    assert_false(dbc_verb_writes(DBC_VERB_WITH));
    assert_false(dbc_verb_writes(DBC_VERB_TXN));
    static const verb_case cases[] = {
        {"PRAGMA user_version", DBC_VERB_OTHER},
        {"PRAGMA user_version = 3", DBC_VERB_OTHER},
        {"EXPLAIN SELECT 1", DBC_VERB_OTHER},
        {"VACUUM", DBC_VERB_OTHER},
        {"ATTACH 'x.db' AS x", DBC_VERB_OTHER},
    };
    check(cases, sizeof cases / sizeof cases[0]);
}

/* The statements of a script, as "a\0b\0..." in `want`. */
static void check_split(const char *script, const char *const *want,
                        size_t n) {
    dbc_sql_stmt st = {0};
    size_t i = 0;
    while (dbc_sql_next_stmt(script, &st)) {
        if (i >= n)
            fail_msg("script \"%s\": extra statement %zu \"%.*s\"", script,
                     st.index, (int)st.len, st.start);
        if (strlen(want[i]) != st.len ||
            strncmp(want[i], st.start, st.len) != 0)
            fail_msg("script \"%s\": statement %zu is \"%.*s\", expected "
                     "\"%s\"", script, st.index, (int)st.len, st.start,
                     want[i]);
        assert_int_equal(st.index, i + 1);
        i++;
    }
    if (i != n)
        fail_msg("script \"%s\": %zu statements, expected %zu", script, i,
                 n);
}

static void test_script_statements(void **state) {
    (void)state;
    static const char *const two[] = {"CREATE TABLE a (x)",
                                      "INSERT INTO a VALUES (1)"};
    check_split("CREATE TABLE a (x); INSERT INTO a VALUES (1)", two, 2);
    check_split("  ;; CREATE TABLE a (x);\n-- note\n;INSERT INTO a VALUES "
                "(1);  /* end */ ;", two, 2);
    check_split("", NULL, 0);
    check_split(" ; ;-- only\n", NULL, 0);
    static const char *const one[] = {"SELECT 1 /* never closed; COMMIT"};
    check_split("SELECT 1 /* never closed; COMMIT", one, 1);
}

/* What hides a ';': literals, identifiers, dollar quotes, E'' strings, and
 * the bodies of SQLite triggers and PostgreSQL's BEGIN ATOMIC. */
static void test_script_bodies_and_quotes(void **state) {
    (void)state;
    static const char *const lit[] = {"INSERT INTO a VALUES ('x;y''; COMMIT')",
                                      "SELECT \"c;d\" FROM [e;f], `g;h`",
                                      "SELECT $$ ; COMMIT; $$, $t$;$$;$t$",
                                      "SELECT E'\\'; COMMIT'", "SELECT $1"};
    check_split("INSERT INTO a VALUES ('x;y''; COMMIT');"
                "SELECT \"c;d\" FROM [e;f], `g;h`;"
                "SELECT $$ ; COMMIT; $$, $t$;$$;$t$;"
                "SELECT E'\\'; COMMIT';SELECT $1",
                lit, 5);
    static const char *const trig[] = {
        "CREATE TEMP TRIGGER tr AFTER INSERT ON a BEGIN UPDATE a SET x = "
        "CASE WHEN x > 1 THEN 0 ELSE x END; DELETE FROM b; END",
        "COMMIT"};
    check_split("CREATE TEMP TRIGGER tr AFTER INSERT ON a BEGIN UPDATE a SET "
                "x = CASE WHEN x > 1 THEN 0 ELSE x END; DELETE FROM b; END;"
                "COMMIT",
                trig, 2);
    static const char *const atomic[] = {
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; "
        "SELECT 2; END",
        "END"};
    check_split("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC "
                "SELECT 1; SELECT 2; END; END",
                atomic, 2);
    /* BEGIN outside those bodies is a statement of its own. */
    static const char *const plain[] = {"CREATE TABLE begin_at (x)", "BEGIN",
                                        "END"};
    check_split("CREATE TABLE begin_at (x); BEGIN; END", plain, 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queries_and_writes),
        cmocka_unit_test(test_space_and_comments_before_the_keyword),
        cmocka_unit_test(test_whole_words_only),
        cmocka_unit_test(test_transaction_control),
        cmocka_unit_test(test_pragma_and_ddl),
        cmocka_unit_test(test_script_statements),
        cmocka_unit_test(test_script_bodies_and_quotes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
