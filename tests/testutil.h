/* Helpers shared by the tests. */
#ifndef DBCONN_TESTUTIL_H
#define DBCONN_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include <uv.h>

#include "dbconn.h"

/* A fresh private directory under $TMPDIR (or /tmp); removed with
 * tu_rmdir().  Returns a static buffer per call slot (8 slots). */
const char *tu_tmpdir(void);
void tu_rmdir(const char *dir);
/* "sqlite:///<dir>/<name>" in a static buffer slot. */
const char *tu_file_url(const char *dir, const char *name);

/* assert_int_equal with the thread's dbconn_errmsg printed on mismatch. */
#define tu_ok(expr)                                                             \
    do {                                                                        \
        int tu_rc_ = (expr);                                                    \
        if (tu_rc_ != 0)                                                        \
            print_error("%s -> %s: %s\n", #expr, dbconn_err_name(tu_rc_),        \
                        dbconn_errmsg(NULL));                                   \
        assert_int_equal(tu_rc_, 0);                                            \
    } while (0)

#endif
