/* The first keyword of SQL text (src/sqlverb.c).  Three decisions rest on
 * it: a transaction whose first statement is a write begins IMMEDIATE;
 * only queries have their program read for the one-row proof; and after a
 * cached query or write succeeds the connection is not asked whether the
 * transaction is still open -- so transaction control, PRAGMAs and DDL
 * must never be taken for a query or a write. */
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

/* Everything that can end a transaction, act while it compiles or change
 * the schema is "other". */
static void test_control_pragma_and_ddl_are_other(void **state) {
    (void)state;
    static const verb_case cases[] = {
        {"BEGIN", DBC_VERB_OTHER},
        {"BEGIN IMMEDIATE", DBC_VERB_OTHER},
        {"COMMIT", DBC_VERB_OTHER},
        {"END", DBC_VERB_OTHER},
        {"ROLLBACK", DBC_VERB_OTHER},
        {"ROLLBACK TO SAVEPOINT a", DBC_VERB_OTHER},
        {"SAVEPOINT a", DBC_VERB_OTHER},
        {"RELEASE a", DBC_VERB_OTHER},
        {"PRAGMA user_version", DBC_VERB_OTHER},
        {"PRAGMA user_version = 3", DBC_VERB_OTHER},
        {"CREATE TABLE t (v)", DBC_VERB_OTHER},
        {"DROP TABLE t", DBC_VERB_OTHER},
        {"ALTER TABLE t ADD COLUMN w", DBC_VERB_OTHER},
        {"EXPLAIN SELECT 1", DBC_VERB_OTHER},
        {"VACUUM", DBC_VERB_OTHER},
        {"ATTACH 'x.db' AS x", DBC_VERB_OTHER},
    };
    check(cases, sizeof cases / sizeof cases[0]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queries_and_writes),
        cmocka_unit_test(test_space_and_comments_before_the_keyword),
        cmocka_unit_test(test_whole_words_only),
        cmocka_unit_test(test_control_pragma_and_ddl_are_other),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
