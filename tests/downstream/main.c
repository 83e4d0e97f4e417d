/*
 * A downstream program: what a project that installed libdbconn writes.
 *
 * tests/downstream/run.sh builds it against an installed tree, once through
 * pkg-config and once through find_package(dbconn), shared and static, and
 * runs every build.  It exits 0 only if the linked library matches the
 * header's version and a real in-memory database answers SELECT 1+1 with 2.
 */
#include <dbconn.h>

#include <stdio.h>

static int report(const char *what, int rc)
{
    fprintf(stderr, "downstream: %s failed: %s (%s): %s\n", what,
            dbconn_err_name(rc), dbconn_strerror(rc), dbconn_errmsg(NULL));
    return 1;
}

/* Runs SELECT 1+1 on a fresh session; 0 when the answer is one integer 2. */
static int select_two(dbconn *db)
{
    dbconn_session *s = NULL;
    dbconn_result *res = NULL;
    int rc = dbconn_session_open(db, &s);
    if (rc < 0)
        return report("dbconn_session_open", rc);
    rc = dbconn_exec(s, "SELECT 1+1", NULL, 0, &res);
    if (rc < 0) {
        dbconn_session_close(s);
        return report("dbconn_exec(\"SELECT 1+1\")", rc);
    }
    int bad = dbconn_result_nrows(res) != 1 || dbconn_result_ncols(res) != 1 ||
              dbconn_result_type(res, 0, 0) != DBCONN_TYPE_INTEGER ||
              dbconn_result_int(res, 0, 0) != 2;
    if (bad)
        fprintf(stderr,
                "downstream: SELECT 1+1 gave %zu row(s) x %zu column(s), "
                "first value %lld of type %d; expected one INTEGER 2\n",
                dbconn_result_nrows(res), dbconn_result_ncols(res),
                (long long)dbconn_result_int(res, 0, 0),
                dbconn_result_type(res, 0, 0));
    dbconn_result_free(res);
    dbconn_session_close(s);
    return bad;
}

int main(void)
{
    if (dbconn_version() != DBCONN_VERSION_HEX) {
        fprintf(stderr,
                "downstream: header is version %d.%d.%d but the linked "
                "library is %s\n",
                DBCONN_VERSION_MAJOR, DBCONN_VERSION_MINOR,
                DBCONN_VERSION_PATCH, dbconn_version_string());
        return 1;
    }

    dbconn *db = NULL;
    int rc = dbconn_open(&db, "sqlite+aiosqlite://", NULL);
    if (rc < 0)
        return report("dbconn_open(\"sqlite+aiosqlite://\")", rc);
    int failed = select_two(db);
    rc = dbconn_close(db, NULL);
    if (rc < 0)
        failed = report("dbconn_close", rc);
    if (failed)
        return 1;
    printf("downstream: libdbconn %s: SELECT 1+1 = 2\n",
           dbconn_version_string());
    return 0;
}
