/* Operations (issue 17): "did you mean" for unknown URL keys, pragmas on
 * every pooled connection, logging_name in every log line, and init_db of
 * a base whose tables all exist without the write lock.  Runs on tu_url():
 * sqlite:// by default, and on the PostgreSQL test server as
 * test_ops_postgres (tests/CMakeLists.txt, DBCONN_BOTH_ENGINES).  Tables
 * are named ops_* and dropped first: the server keeps them. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

/* tu_url() with `query` ("k=v&...") added to its query. */
static const char *url_with(const char *query) {
    static char buf[8][1024];
    static int slot;
    char *b = buf[slot++ % 8];
    const char *u = tu_url();
    (void)snprintf(b, sizeof buf[0], "%s%c%s", u, strchr(u, '?') ? '&' : '?',
                   query);
    return b;
}

/* dbconn_open(url) fails with code and a message holding want. */
static void open_fails(const char *url, int code, const char *want) {
    dbconn *db = (dbconn *)1;
    int rc = dbconn_open(&db, url, NULL);
    const char *msg = dbconn_errmsg(NULL);
    if (rc != code || !strstr(msg, want))
        fail_msg("%s: got %s \"%s\", expected %s with \"%s\"", url,
                 dbconn_err_name(rc), msg, dbconn_err_name(code), want);
    assert_null(db);
}

/* ---- did you mean ---------------------------------------------------------- */

static void test_url_key_did_you_mean(void **state) {
    (void)state;
    /* an engine option misspelt in the URL: the driver's message suggests
     * it, on every engine */
    open_fails(url_with("pool_sise=3"), DBCONN_EOPTION,
               "unknown option \"pool_sise\" (did you mean \"pool_size\"?)");
    open_fails(url_with("Pool_Timeout=3"), DBCONN_EOPTION,
               "(did you mean \"pool_timeout\"?)");
    /* a value of a fixed set, from the URL */
    open_fails(url_with("isolation_level=serialisable"), DBCONN_EOPTION,
               "(did you mean \"SERIALIZABLE\"?)");
    /* and the driver's own keys */
    if (tu_is_sqlite())
        open_fails(url_with("mdoe=ro"), DBCONN_EOPTION,
                   "(did you mean \"mode\"?)");
    else
        open_fails(url_with("sslmdoe=disable"), DBCONN_EOPTION,
                   "(did you mean \"sslmode\"?)");
    /* nothing near: no suggestion */
    dbconn *db;
    assert_int_equal(dbconn_open(&db, url_with("frobnicate=1"), NULL),
                     DBCONN_EOPTION);
    assert_null(strstr(dbconn_errmsg(NULL), "did you mean"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_key_did_you_mean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
