/* libpq is loaded when the first PostgreSQL engine opens, not with the
 * program (src/driver/postgres/pg_lib.c): a program that uses only SQLite
 * never maps it; a libpq that cannot be loaded is DBCONN_ENODRIVER naming
 * the library and the reason.  No server needed.  The tests run in order:
 * the first checks that nothing loaded libpq yet. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#include "driver/postgres/pg_lib.h"

/* Whether a libpq is mapped into this process. */
static bool libpq_mapped(void) {
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[1024];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, "/libpq.so") != NULL;
    fclose(f);
    return found;
}

static void test_sqlite_only_program_never_maps_libpq(void **state) {
    (void)state;
    assert_false(libpq_mapped());
    dbconn *db;
    dbconn_session *s;
    tu_ok(dbconn_open(&db, "sqlite://", NULL));
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, "SELECT 1", NULL, 0, NULL));
    tu_ok(dbconn_commit(s));
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
    assert_false(libpq_mapped());
}

/* Opening a PostgreSQL engine loads it (the URL's options are checked
 * against libpq's own, before any connection is made). */
static void test_postgresql_open_loads_libpq(void **state) {
    (void)state;
    dbconn *db = NULL;
    int rc = dbconn_open(&db, "postgresql://u@/d?host=/nonexistent-dir",
                         NULL);
    assert_true(libpq_mapped());
    if (rc == 0)
        tu_ok(dbconn_close(db, NULL));
    else /* no server there: a connection failure, never a load failure */
        assert_int_not_equal(rc, DBCONN_ENODRIVER);
    /* and an unknown key is still named (libpq's keyword list) */
    assert_int_equal(dbconn_open(&db, "postgresql://u@/d?nosuchkey=1", NULL),
                     DBCONN_EOPTION);
    assert_non_null(strstr(dbconn_errmsg(NULL), "nosuchkey"));
}

static void test_missing_library(void **state) {
    (void)state;
    assert_int_equal(dbc_pq_try_load("libdbconn-no-such-libpq.so.5"),
                     DBCONN_ENODRIVER);
    const char *m = dbconn_errmsg(NULL);
    assert_non_null(strstr(m, "cannot load libpq"));
    assert_non_null(strstr(m, "libdbconn-no-such-libpq.so.5"));
    assert_non_null(strstr(m, "libpq5"));
}

/* A library that is not libpq (or an older one) lacks a function. */
static void test_library_without_the_functions(void **state) {
    (void)state;
    assert_int_equal(dbc_pq_try_load("libc.so.6"), DBCONN_ENODRIVER);
    assert_non_null(strstr(dbconn_errmsg(NULL), "has no function PQ"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sqlite_only_program_never_maps_libpq),
        cmocka_unit_test(test_postgresql_open_loads_libpq),
        cmocka_unit_test(test_missing_library),
        cmocka_unit_test(test_library_without_the_functions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
