/* dbconn_timestamp <-> text.  The text form is what SQLite's date functions
 * and CURRENT_TIMESTAMP write (UTC, 'YYYY-MM-DD HH:MM:SS') with six digits
 * of fraction, so stored values sort and compare as text; the parser also
 * takes PostgreSQL's output, which carries a zone suffix.  Calendar
 * arithmetic is the proleptic Gregorian calendar on day numbers (days
 * since 1970-01-01), in integers only. */
#include <string.h>
#include <time.h>

#include "util/error.h"
#include "util/text.h"

#define US_PER_SEC INT64_C(1000000)
#define US_PER_DAY (INT64_C(86400) * US_PER_SEC)

/* Day number of a civil date; eras of 400 years make the leap rule a
 * matter of integer division. */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool leap(int64_t y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m) {
    static const int days[12] = {31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : days[m - 1];
}

/* The first and last microsecond of years 1 and 9999. */
static int64_t min_ts(void) { return days_from_civil(1, 1, 1) * US_PER_DAY; }
static int64_t max_ts(void) {
    return (days_from_civil(9999, 12, 31) + 1) * US_PER_DAY - 1;
}

dbconn_timestamp dbconn_timestamp_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * US_PER_SEC + t.tv_nsec / 1000;
}

static char *digits(char *p, int64_t v, int n) {
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

int dbconn_timestamp_format(dbconn_timestamp t, char *buf, size_t size) {
    if (!buf || size < DBCONN_TIMESTAMP_LEN)
        return dbc_fail(DBCONN_EINVAL,
                        "dbconn_timestamp_format: the buffer needs "
                        "DBCONN_TIMESTAMP_LEN (%d) bytes",
                        DBCONN_TIMESTAMP_LEN);
    buf[0] = '\0';
    if (t < min_ts() || t > max_ts())
        return dbc_fail(DBCONN_EINVAL,
                        "timestamp %lld is outside years 1..9999",
                        (long long)t);
    /* Floor division: times before 1970 are negative. */
    int64_t day = t / US_PER_DAY, us = t % US_PER_DAY;
    if (us < 0) {
        us += US_PER_DAY;
        day--;
    }
    int64_t y;
    int m, d;
    civil_from_days(day, &y, &m, &d);
    int64_t secs = us / US_PER_SEC;
    char *p = digits(buf, y, 4);
    *p++ = '-';
    p = digits(p, m, 2);
    *p++ = '-';
    p = digits(p, d, 2);
    *p++ = ' ';
    p = digits(p, secs / 3600, 2);
    *p++ = ':';
    p = digits(p, secs / 60 % 60, 2);
    *p++ = ':';
    p = digits(p, secs % 60, 2);
    *p++ = '.';
    p = digits(p, us % US_PER_SEC, 6);
    *p = '\0';
    return 0;
}

/* Reads exactly n digits at *p. */
static bool read_num(const char **p, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

/* '.fraction': any number of digits, the first six kept. */
static bool read_fraction(const char **p, int64_t *us) {
    const char *s = *p;
    int n = 0;
    *us = 0;
    for (; *s >= '0' && *s <= '9'; s++, n++)
        if (n < 6)
            *us = *us * 10 + (*s - '0');
    if (n == 0)
        return false;
    for (int i = n; i < 6; i++)
        *us *= 10;
    *p = s;
    return true;
}

/* Optional zone: Z, +HH, +HHMM, +HH:MM (or -), after an optional space.
 * *off = the zone's offset from UTC in microseconds. */
static bool read_zone(const char **p, int64_t *off) {
    const char *s = *p;
    *off = 0;
    if (*s == ' ' && (s[1] == '+' || s[1] == '-' || s[1] == 'Z'))
        s++;
    if (*s == 'Z' || *s == 'z') {
        *p = s + 1;
        return true;
    }
    if (*s != '+' && *s != '-') {
        *p = s;
        return true;
    }
    int sign = *s++ == '-' ? -1 : 1, hh, mm = 0;
    if (!read_num(&s, 2, &hh) || hh > 23)
        return false;
    if (*s == ':')
        s++;
    if (*s >= '0' && *s <= '9' && (!read_num(&s, 2, &mm) || mm > 59))
        return false;
    *off = sign * ((int64_t)hh * 3600 + (int64_t)mm * 60) * US_PER_SEC;
    *p = s;
    return true;
}

/* Time of day after the date: ' HH:MM[:SS[.f]]' ('T' for the space). */
static bool read_time(const char **p, int64_t *us) {
    const char *s = *p;
    int hh, mi, ss = 0;
    int64_t frac = 0;
    *us = 0;
    if (*s != ' ' && *s != 'T' && *s != 't')
        return true;
    s++;
    if (!read_num(&s, 2, &hh) || *s++ != ':' || !read_num(&s, 2, &mi) ||
        hh > 23 || mi > 59)
        return false;
    if (*s == ':') {
        s++;
        if (!read_num(&s, 2, &ss) || ss > 59)
            return false;
        if (*s == '.' && (s++, !read_fraction(&s, &frac)))
            return false;
    }
    *us = ((int64_t)hh * 3600 + (int64_t)mi * 60 + ss) * US_PER_SEC + frac;
    *p = s;
    return true;
}

/* Days from 0001-01-01 to 1970-01-01. */
#define EPOCH_DAYS INT64_C(719162)

#define DIG(t, i) ((unsigned)((t)[i] - '0'))
#define ISD(t, i) (DIG(t, i) <= 9)
#define NUM2(t, i) ((int)(DIG(t, i) * 10 + DIG(t, (i) + 1)))

/* The form the library itself stores, 'YYYY-MM-DD HH:MM:SS.ffffff', read
 * without the general parser's steps (every row of a result goes through
 * here).  False when the text has any other form.  The checks run left to
 * right and stop at the first mismatch, so a shorter string stops at its
 * NUL. */
static bool parse_stored(const char *t, int64_t *out) {
    if (!(ISD(t, 0) && ISD(t, 1) && ISD(t, 2) && ISD(t, 3) && t[4] == '-' &&
          ISD(t, 5) && ISD(t, 6) && t[7] == '-' && ISD(t, 8) && ISD(t, 9) &&
          t[10] == ' ' && ISD(t, 11) && ISD(t, 12) && t[13] == ':' &&
          ISD(t, 14) && ISD(t, 15) && t[16] == ':' && ISD(t, 17) &&
          ISD(t, 18) && t[19] == '.' && ISD(t, 20) && ISD(t, 21) &&
          ISD(t, 22) && ISD(t, 23) && ISD(t, 24) && ISD(t, 25) &&
          t[26] == '\0'))
        return false;
    int y = NUM2(t, 0) * 100 + NUM2(t, 2), m = NUM2(t, 5), d = NUM2(t, 8);
    int hh = NUM2(t, 11), mi = NUM2(t, 14), ss = NUM2(t, 17);
    int us = (NUM2(t, 20) * 100 + NUM2(t, 22)) * 100 + NUM2(t, 24);
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > month_days(y, m) ||
        hh > 23 || mi > 59 || ss > 59)
        return false;
    *out = days_from_civil(y, m, d) * US_PER_DAY +
           ((int64_t)hh * 3600 + (int64_t)mi * 60 + ss) * US_PER_SEC + us;
    return true;
}

int dbconn_timestamp_parse(const char *text, dbconn_timestamp *out) {
    if (out)
        *out = 0;
    if (!text || !out)
        return dbc_fail(DBCONN_EINVAL,
                        "dbconn_timestamp_parse: text and out must not be "
                        "NULL");
    if (parse_stored(text, out))
        return 0;
    const char *p = text;
    int y, m, d;
    int64_t tod, off;
    bool ok = read_num(&p, 4, &y) && *p++ == '-' && read_num(&p, 2, &m) &&
              *p++ == '-' && read_num(&p, 2, &d) && y >= 1 && m >= 1 &&
              m <= 12 && d >= 1 && d <= month_days(y, m) &&
              read_time(&p, &tod) && read_zone(&p, &off) && *p == '\0';
    if (!ok) {
        char shown[64];
        return dbc_fail(DBCONN_EINVAL,
                        "\"%s\" is not a timestamp: expected 'YYYY-MM-DD "
                        "HH:MM:SS[.ffffff][zone]'",
                        dbc_show(text, shown, sizeof shown));
    }
    *out = days_from_civil(y, m, d) * US_PER_DAY + tod - off;
    return 0;
}
