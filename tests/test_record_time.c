/* dbconn_timestamp <-> text (src/model/record_time.c), checked against the
 * C library's gmtime_r over the range time_t covers, and the parser against
 * the forms SQLite and PostgreSQL write. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

#define US INT64_C(1000000)

/* The text gmtime_r gives for t (whole seconds) plus the microseconds. */
static void oracle(int64_t t, char *buf, size_t n) {
    int64_t s = t / US, us = t % US;
    if (us < 0) {
        us += US;
        s--;
    }
    time_t tt = (time_t)s;
    struct tm tm;
    assert_non_null(gmtime_r(&tt, &tm));
    snprintf(buf, n, "%04d-%02d-%02d %02d:%02d:%02d.%06lld", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (long long)us);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void format_matches_gmtime(void **state) {
    (void)state;
    /* years 1..9999 span about +-2.5e17 microseconds around 1970 */
    int64_t lo, hi;
    tu_ok(dbconn_timestamp_parse("0001-01-01 00:00:00", &lo));
    tu_ok(dbconn_timestamp_parse("9999-12-31 23:59:59.999999", &hi));
    for (int i = 0; i < 20000; i++) {
        int64_t t = lo + (int64_t)(next_rand() % (uint64_t)(hi - lo));
        char got[DBCONN_TIMESTAMP_LEN], want[64];
        tu_ok(dbconn_timestamp_format(t, got, sizeof got));
        oracle(t, want, sizeof want);
        assert_string_equal(got, want);
        int64_t back;
        tu_ok(dbconn_timestamp_parse(got, &back));
        assert_int_equal(back, t);
    }
    char buf[DBCONN_TIMESTAMP_LEN];
    tu_ok(dbconn_timestamp_format(lo, buf, sizeof buf));
    assert_string_equal(buf, "0001-01-01 00:00:00.000000");
    tu_ok(dbconn_timestamp_format(hi, buf, sizeof buf));
    assert_string_equal(buf, "9999-12-31 23:59:59.999999");
    assert_int_equal(dbconn_timestamp_format(lo - 1, buf, sizeof buf),
                     DBCONN_EINVAL);
    assert_int_equal(dbconn_timestamp_format(hi + 1, buf, sizeof buf),
                     DBCONN_EINVAL);
    assert_int_equal(dbconn_timestamp_format(0, buf, 8), DBCONN_EINVAL);
}

static void parse_forms_and_zones(void **state) {
    (void)state;
    int64_t base;
    tu_ok(dbconn_timestamp_parse("2024-02-29 13:14:15.123456", &base));
    char buf[DBCONN_TIMESTAMP_LEN];
    tu_ok(dbconn_timestamp_format(base, buf, sizeof buf));
    assert_string_equal(buf, "2024-02-29 13:14:15.123456");
    static const struct {
        const char *text;
        int64_t delta; /* from base */
    } same[] = {
        {"2024-02-29T13:14:15.123456", 0},
        {"2024-02-29 13:14:15.123456Z", 0},
        {"2024-02-29 13:14:15.123456+00", 0},
        {"2024-02-29 13:14:15.123456 +00:00", 0},
        {"2024-02-29 18:44:15.123456+05:30", 0},
        {"2024-02-29 18:44:15.123456+0530", 0},
        {"2024-02-29 10:14:15.123456-03", 0},
        {"2024-02-29 13:14:15.1234567891", 0},
        {"2024-02-29 13:14:15.12", -3456},
        {"2024-02-29 13:14:15", -123456},
        {"2024-02-29 13:14", -15123456},
        {"2024-02-29", -(13 * 3600 + 14 * 60 + 15) * US - 123456},
    };
    for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
        int64_t t;
        tu_ok(dbconn_timestamp_parse(same[i].text, &t));
        assert_int_equal(t, base + same[i].delta);
    }
    static const char *const bad[] = {
        "", "2024", "2024-13-01", "2023-02-29 00:00:00", "2024-04-31",
        "2024-01-01 24:00:00", "2024-01-01 12:60", "2024-01-01 12:00:61",
        "2024-01-01 12:00:00.", "2024-01-01 12:00:00 junk",
        "2024-01-01 12:00:00+25", "24-01-01", "0000-01-01", "yesterday",
        "2024-01-01 12:00:00+05:3"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int64_t t = 5;
        if (dbconn_timestamp_parse(bad[i], &t) != DBCONN_EINVAL)
            fail_msg("\"%s\" parsed", bad[i]);
        assert_int_equal(t, 0);
    }
    int64_t t;
    assert_int_equal(dbconn_timestamp_parse(NULL, &t), DBCONN_EINVAL);
}

static void now_is_the_clock(void **state) {
    (void)state;
    int64_t before = (int64_t)time(NULL);
    dbconn_timestamp t = dbconn_timestamp_now();
    int64_t after = (int64_t)time(NULL);
    assert_true(t / US >= before && t / US <= after);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(format_matches_gmtime),
        cmocka_unit_test(parse_forms_and_zones),
        cmocka_unit_test(now_is_the_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
