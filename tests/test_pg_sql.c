/* The PostgreSQL driver's SQL translation (src/driver/postgres/pg_sql.c):
 * '?' -> $n outside literals, identifiers, dollar quotes and comments; one
 * statement per text.  Pure: no server. */
#include <string.h>

#include "testutil.h"

#include "util/alloc.h"
#include "driver/postgres/pg_int.h"

/* Translates sql and checks the text and the parameter count. */
static void expect(const char *sql, const char *want, int nparams) {
    char *text = NULL;
    int n = -1;
    int rc = dbc_pg_translate(sql, strlen(sql), &text, &n);
    if (rc != 0)
        fail_msg("\"%s\" -> %s: %s", sql, dbconn_err_name(rc),
                 dbconn_errmsg(NULL));
    if (strcmp(text, want) != 0)
        fail_msg("\"%s\" -> \"%s\", want \"%s\"", sql, text, want);
    assert_int_equal(n, nparams);
    dbc_free(text);
}

static void expect_einval(const char *sql, const char *fragment) {
    char *text = (char *)1;
    int n = -1;
    assert_int_equal(dbc_pg_translate(sql, strlen(sql), &text, &n),
                     DBCONN_EINVAL);
    assert_null(text);
    if (!strstr(dbconn_errmsg(NULL), fragment))
        fail_msg("message \"%s\" lacks \"%s\"", dbconn_errmsg(NULL), fragment);
}

static void test_plain_placeholders(void **state) {
    (void)state;
    expect("SELECT 1", "SELECT 1", 0);
    expect("SELECT ?", "SELECT $1", 1);
    expect("INSERT INTO t (a, b, c) VALUES (?,?, ?)",
           "INSERT INTO t (a, b, c) VALUES ($1,$2, $3)", 3);
    expect("SELECT * FROM t WHERE a=?AND b>?", "SELECT * FROM t WHERE "
           "a=$1AND b>$2", 2);
    /* ten and more: the numbers are not pasted into the next digits */
    expect("VALUES (?,?,?,?,?,?,?,?,?,?,?)",
           "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)", 11);
}

static void test_string_literals(void **state) {
    (void)state;
    expect("SELECT '?', ?", "SELECT '?', $1", 1);
    expect("SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1", 1);
    /* standard strings: a backslash is a character, the quote ends it */
    expect("SELECT 'a\\', ?", "SELECT 'a\\', $1", 1);
    /* E'' strings: backslash escapes the quote */
    expect("SELECT E'a\\'?', ?", "SELECT E'a\\'?', $1", 1);
    expect("SELECT e'\\\\', ?", "SELECT e'\\\\', $1", 1);
    /* an identifier ending in e before a quote is not an E string */
    expect("SELECT name'x\\', ?", "SELECT name'x\\', $1", 1);
    expect("SELECT U&'d\\0061t?', B'101', X'1F', ?",
           "SELECT U&'d\\0061t?', B'101', X'1F', $1", 1);
    expect("SELECT ';' , ?", "SELECT ';' , $1", 1);
}

static void test_quoted_identifiers(void **state) {
    (void)state;
    expect("SELECT \"a?b\" FROM \"t\"\"?\" WHERE x = ?",
           "SELECT \"a?b\" FROM \"t\"\"?\" WHERE x = $1", 1);
    expect("SELECT \"semi;colon\" FROM t", "SELECT \"semi;colon\" FROM t", 0);
}

static void test_dollar_quotes(void **state) {
    (void)state;
    expect("SELECT $$a ? ' \" $$, ?", "SELECT $$a ? ' \" $$, $1", 1);
    expect("SELECT $fn$ ? $$ ? $fn$, ?", "SELECT $fn$ ? $$ ? $fn$, $1", 1);
    expect("DO $body$ BEGIN PERFORM 1; END $body$",
           "DO $body$ BEGIN PERFORM 1; END $body$", 0);
    /* '$' inside an identifier is not a quote: a$b$ ? */
    expect("SELECT a$b$ FROM t WHERE x = ?",
           "SELECT a$b$ FROM t WHERE x = $1", 1);
}

static void test_comments(void **state) {
    (void)state;
    expect("SELECT ? -- why? ;\n, ?", "SELECT $1 -- why? ;\n, $2", 2);
    expect("SELECT /* ? ; */ ?", "SELECT /* ? ; */ $1", 1);
    /* block comments nest in postgresql */
    expect("SELECT /* a /* ? */ ? */ ?", "SELECT /* a /* ? */ ? */ $1", 1);
    /* a '-' alone is an operator */
    expect("SELECT 3 - ?", "SELECT 3 - $1", 1);
}

static void test_numbered_and_escaped(void **state) {
    (void)state;
    expect("SELECT $1, $2, $1", "SELECT $1, $2, $1", 2);
    expect("SELECT $3", "SELECT $3", 3);
    expect("SELECT ?2, ?1", "SELECT $2, $1", 2);
    /* "??" is the jsonb operator '?' */
    expect("SELECT '{\"a\":1}'::jsonb ?? 'a', ?",
           "SELECT '{\"a\":1}'::jsonb ? 'a', $1", 1);
    expect("SELECT x ??| ?", "SELECT x ?| $1", 1);
    expect_einval("SELECT ?, $1", "mixes");
    expect_einval("SELECT ?1, ?", "mixes");
}

static void test_one_statement(void **state) {
    (void)state;
    expect("SELECT 1;", "SELECT 1", 0);
    expect("SELECT 1 ;  \n-- done\n /* end */ ;", "SELECT 1 ", 0);
    expect("  SELECT 1", "  SELECT 1", 0);
    expect_einval("SELECT 1; SELECT 2", "more than one SQL statement");
    expect_einval("SELECT 1;x", "dbconn_exec_script");
    expect_einval("", "empty SQL statement");
    expect_einval("  -- nothing\n /* at all */ ", "empty SQL statement");
    expect_einval(";", "empty SQL statement");
}

static void test_unterminated(void **state) {
    (void)state;
    /* the server reports these; the scanner only must not run off */
    expect("SELECT 'abc ?", "SELECT 'abc ?", 0);
    expect("SELECT \"abc ?", "SELECT \"abc ?", 0);
    expect("SELECT $q$ ?", "SELECT $q$ ?", 0);
    expect("SELECT ? /* ?", "SELECT $1 /* ?", 1);
    expect("SELECT E'\\", "SELECT E'\\", 0);
}

static void test_length_bound(void **state) {
    (void)state;
    /* only len bytes are read: the rest of the buffer is not SQL */
    const char sql[] = "SELECT ?; garbage";
    char *text;
    int n;
    tu_ok(dbc_pg_translate(sql, 8, &text, &n));
    assert_string_equal(text, "SELECT $1");
    assert_int_equal(n, 1);
    dbc_free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_placeholders),
        cmocka_unit_test(test_string_literals),
        cmocka_unit_test(test_quoted_identifiers),
        cmocka_unit_test(test_dollar_quotes),
        cmocka_unit_test(test_comments),
        cmocka_unit_test(test_numbered_and_escaped),
        cmocka_unit_test(test_one_statement),
        cmocka_unit_test(test_unterminated),
        cmocka_unit_test(test_length_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
