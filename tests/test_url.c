/* URL parser, accessors, rendering and masking (src/url/url.c,
 * src/url/url_render.c).
 *
 * Table-driven: every valid case is checked part by part, rendered masked
 * (exact string), rendered unmasked and parsed back (equal in every part),
 * and the masked rendering is checked to be the unmasked one with the
 * encoded password replaced by ***.  Every invalid case must give its exact
 * error code and a message that names the part and the position and never
 * shows the password.  The parts are read as SQLAlchemy 1.4's make_url()
 * reads them (tests/url_diff compares the two over a large corpus; the
 * cases here pin each rule). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"
#include "testutil.h"
#include "url/url.h"
#include "url/url_render.h"

#define Q(...) ((const char *const[]){__VA_ARGS__, NULL})

typedef struct url_case {
    const char *url;
    const char *dialect, *driver, *user, *password, *host;
    int port;
    const char *database;
    const char *const *query; /* key, value, ..., NULL; NULL = no pairs */
    bool memory;
    const char *masked;       /* the expected default rendering */
} url_case;

static const url_case valid[] = {
    /* SQLite forms */
    {.url = "sqlite://", .dialect = "sqlite", .memory = true,
     .masked = "sqlite://"},
    {.url = "sqlite+aiosqlite://", .dialect = "sqlite", .driver = "aiosqlite",
     .memory = true, .masked = "sqlite+aiosqlite://"},
    {.url = "sqlite:///", .dialect = "sqlite", .database = "", .memory = true,
     .masked = "sqlite:///"},
    {.url = "sqlite:///:memory:", .dialect = "sqlite", .database = ":memory:",
     .memory = true, .masked = "sqlite:///:memory:"},
    {.url = "sqlite+pysqlite:///:memory:", .dialect = "sqlite",
     .driver = "pysqlite", .database = ":memory:", .memory = true,
     .masked = "sqlite+pysqlite:///:memory:"},
    {.url = "sqlite:///rel.db", .dialect = "sqlite", .database = "rel.db",
     .masked = "sqlite:///rel.db"},
    {.url = "sqlite+aiosqlite:///rel/path.db", .dialect = "sqlite",
     .driver = "aiosqlite", .database = "rel/path.db",
     .masked = "sqlite+aiosqlite:///rel/path.db"},
    {.url = "sqlite:////abs/path.db", .dialect = "sqlite",
     .database = "/abs/path.db", .masked = "sqlite:////abs/path.db"},
    {.url = "sqlite:///file:path?mode=ro&uri=true", .dialect = "sqlite",
     .database = "file:path", .query = Q("mode", "ro", "uri", "true"),
     .masked = "sqlite:///file:path?mode=ro&uri=true"},
    {.url = "sqlite:///app.db?pool_size=8&journal_mode=wal",
     .dialect = "sqlite", .database = "app.db",
     .query = Q("pool_size", "8", "journal_mode", "wal"),
     .masked = "sqlite:///app.db?pool_size=8&journal_mode=wal"},
    /* The database is kept as written, as SQLAlchemy keeps it: the same
     * URL names the same file. */
    {.url = "sqlite:///my%20data.db", .dialect = "sqlite",
     .database = "my%20data.db", .masked = "sqlite:///my%20data.db"},
    {.url = "sqlite:///caf%C3%A9.db", .dialect = "sqlite",
     .database = "caf%C3%A9.db", .masked = "sqlite:///caf%C3%A9.db"},
    {.url = "sqlite:///caf\xC3\xA9 b.db", .dialect = "sqlite",
     .database = "caf\xC3\xA9 b.db", .masked = "sqlite:///caf\xC3\xA9 b.db"},
    {.url = "sqlite:///%2F.db", .dialect = "sqlite", .database = "%2F.db",
     .masked = "sqlite:///%2F.db"},
    {.url = "sqlite:///%3Amemory%3A", .dialect = "sqlite",
     .database = "%3Amemory%3A", .masked = "sqlite:///%3Amemory%3A"},
    {.url = "sqlite:///a%00b%ff.db", .dialect = "sqlite",
     .database = "a%00b%ff.db", .masked = "sqlite:///a%00b%ff.db"},
    {.url = "sqlite:///a@b:c.db", .dialect = "sqlite", .database = "a@b:c.db",
     .masked = "sqlite:///a@b:c.db"},
    {.url = "SQLite:///x.db", .dialect = "SQLite", .database = "x.db",
     .masked = "SQLite:///x.db"},
    {.url = "sqlite:///:memory:?cache=shared", .dialect = "sqlite",
     .database = ":memory:", .query = Q("cache", "shared"), .memory = true,
     .masked = "sqlite:///:memory:?cache=shared"},
    /* Servers */
    {.url = "postgresql://user:p%40ss%3Aw%2Fd%25@host:5432/db",
     .dialect = "postgresql", .user = "user", .password = "p@ss:w/d%",
     .host = "host", .port = 5432, .database = "db",
     .masked = "postgresql://user:***@host:5432/db"},
    {.url = "postgresql+asyncpg://scott:tiger@localhost/test",
     .dialect = "postgresql", .driver = "asyncpg", .user = "scott",
     .password = "tiger", .host = "localhost", .database = "test",
     .masked = "postgresql+asyncpg://scott:***@localhost/test"},
    {.url = "postgresql://u:p@[::1]:5432/db", .dialect = "postgresql",
     .user = "u", .password = "p", .host = "::1", .port = 5432,
     .database = "db", .masked = "postgresql://u:***@[::1]:5432/db"},
    {.url = "postgresql://[2001:db8::7]/db", .dialect = "postgresql",
     .host = "2001:db8::7", .database = "db",
     .masked = "postgresql://[2001:db8::7]/db"},
    {.url = "postgresql://[fe80::1%eth0]:1/db", .dialect = "postgresql",
     .host = "fe80::1%eth0", .port = 1, .database = "db",
     .masked = "postgresql://[fe80::1%eth0]:1/db"},
    {.url = "postgresql://[fe80::1%25en-0._~Z]/db", .dialect = "postgresql",
     .host = "fe80::1%25en-0._~Z", .database = "db",
     .masked = "postgresql://[fe80::1%25en-0._~Z]/db"},
    {.url = "postgresql://[::ffff:1.2.3.4]", .dialect = "postgresql",
     .host = "::ffff:1.2.3.4", .masked = "postgresql://[::ffff:1.2.3.4]"},
    {.url = "postgresql://u:a+b@h/db", .dialect = "postgresql", .user = "u",
     .password = "a+b", .host = "h", .database = "db",
     .masked = "postgresql://u:***@h/db"},
    {.url = "postgresql://u:@h/db", .dialect = "postgresql", .user = "u",
     .password = "", .host = "h", .database = "db",
     .masked = "postgresql://u:***@h/db"},
    {.url = "postgresql://u@h/db", .dialect = "postgresql", .user = "u",
     .host = "h", .database = "db", .masked = "postgresql://u@h/db"},
    {.url = "postgresql://@h/db", .dialect = "postgresql", .user = "",
     .host = "h", .database = "db", .masked = "postgresql://@h/db"},
    {.url = "postgresql://:hunter2@h", .dialect = "postgresql", .user = "",
     .password = "hunter2", .host = "h", .masked = "postgresql://:***@h"},
    /* A raw '@' in the password: the last '@' before the host's '/' or
     * '?' ends it (SQLAlchemy would read the host "ss@h"). */
    {.url = "postgresql://u:p@ss@h/db", .dialect = "postgresql", .user = "u",
     .password = "p@ss", .host = "h", .database = "db",
     .masked = "postgresql://u:***@h/db"},
    {.url = "postgresql://u:p@ss@h:12@34/db", .dialect = "postgresql",
     .user = "u", .password = "p@ss@h:12", .host = "34", .database = "db",
     .masked = "postgresql://u:***@34/db"},
    {.url = "postgresql://u:p@s/s@h/db", .dialect = "postgresql", .user = "u",
     .password = "p", .host = "s", .database = "s@h/db",
     .masked = "postgresql://u:***@s/s@h/db"},
    /* The password runs from the username's ':' to the first '@' after
     * it, so it may hold '/', '?' and ':' unencoded. */
    {.url = "postgresql://u:1/2@h/db", .dialect = "postgresql", .user = "u",
     .password = "1/2", .host = "h", .database = "db",
     .masked = "postgresql://u:***@h/db"},
    {.url = "mysql://u:80/@[::1]/db", .dialect = "mysql", .user = "u",
     .password = "80/", .host = "::1", .database = "db",
     .masked = "mysql://u:***@[::1]/db"},
    {.url = "postgresql://u:x/y?z:w@h:5/db?a=1", .dialect = "postgresql",
     .user = "u", .password = "x/y?z:w", .host = "h", .port = 5,
     .database = "db", .query = Q("a", "1"),
     .masked = "postgresql://u:***@h:5/db?a=1"},
    {.url = "postgresql://:?@h", .dialect = "postgresql", .user = "",
     .password = "?", .host = "h", .masked = "postgresql://:***@h"},
    /* ... and an '@' after a port is such an '@', in SQLAlchemy too. */
    {.url = "postgresql://h:5432/db?x=a@b", .dialect = "postgresql",
     .user = "h", .password = "5432/db?x=a", .host = "b",
     .masked = "postgresql://h:***@b"},
    {.url = "postgresql://[::1]/db?x=a@b", .dialect = "postgresql",
     .user = "[", .password = ":1]/db?x=a", .host = "b",
     .masked = "postgresql://%5B:***@b"},
    /* The username runs to the first ':' or '/': it may hold '?' and '@'. */
    {.url = "postgresql://u?x:pw@h/db", .dialect = "postgresql",
     .user = "u?x", .password = "pw", .host = "h", .database = "db",
     .masked = "postgresql://u%3Fx:***@h/db"},
    {.url = "postgresql://u@x:p@h", .dialect = "postgresql", .user = "u@x",
     .password = "p", .host = "h", .masked = "postgresql://u%40x:***@h"},
    {.url = "postgresql://u@x@h/db", .dialect = "postgresql", .user = "u@x",
     .host = "h", .database = "db", .masked = "postgresql://u%40x@h/db"},
    {.url = "postgresql://h?x=a@b", .dialect = "postgresql", .user = "h?x=a",
     .host = "b", .masked = "postgresql://h%3Fx%3Da@b"},
    {.url = "postgresql://u@h:5432/db?x=1", .dialect = "postgresql",
     .user = "u", .host = "h", .port = 5432, .database = "db",
     .query = Q("x", "1"), .masked = "postgresql://u@h:5432/db?x=1"},
    {.url = "postgresql://h/db?email=a@b", .dialect = "postgresql",
     .host = "h", .database = "db", .query = Q("email", "a@b"),
     .masked = "postgresql://h/db?email=a%40b"},
    {.url = "postgresql://u:pa:ss@h", .dialect = "postgresql", .user = "u",
     .password = "pa:ss", .host = "h", .masked = "postgresql://u:***@h"},
    {.url = "postgresql://us%C3%A9r:p%C3%A0ss@h/db", .dialect = "postgresql",
     .user = "us\xC3\xA9r", .password = "p\xC3\xA0ss", .host = "h",
     .database = "db", .masked = "postgresql://us%C3%A9r:***@h/db"},
    {.url = "postgresql://u:p%0Aw@h", .dialect = "postgresql", .user = "u",
     .password = "p\nw", .host = "h", .masked = "postgresql://u:***@h"},
    {.url = "postgresql://u%2Bx+y:p@h", .dialect = "postgresql",
     .user = "u+x+y", .password = "p", .host = "h",
     .masked = "postgresql://u+x+y:***@h"},
    {.url = "postgresql://h", .dialect = "postgresql", .host = "h",
     .masked = "postgresql://h"},
    {.url = "postgresql://h/", .dialect = "postgresql", .host = "h",
     .database = "", .masked = "postgresql://h/"},
    {.url = "postgresql://", .dialect = "postgresql",
     .masked = "postgresql://"},
    {.url = "postgresql:///db", .dialect = "postgresql", .database = "db",
     .masked = "postgresql:///db"},
    {.url = "postgresql://:5432/db", .dialect = "postgresql", .port = 5432,
     .database = "db", .masked = "postgresql://:5432/db"},
    {.url = "postgresql://h:065535/db", .dialect = "postgresql", .host = "h",
     .port = 65535, .database = "db", .masked = "postgresql://h:65535/db"},
    {.url = "postgresql://192.168.0.1:1/db", .dialect = "postgresql",
     .host = "192.168.0.1", .port = 1, .database = "db",
     .masked = "postgresql://192.168.0.1:1/db"},
    {.url = "postgresql://h/db?a=1&a=2&b", .dialect = "postgresql",
     .host = "h", .database = "db", .query = Q("a", "1", "a", "2", "b", ""),
     .masked = "postgresql://h/db?a=1&a=2&b="},
    /* In the query '+' is a space and %2B a '+' (parse_qsl). */
    {.url = "postgresql://h/db?k%3D=v%26w&x=a+b=c", .dialect = "postgresql",
     .host = "h", .database = "db", .query = Q("k=", "v&w", "x", "a b=c"),
     .masked = "postgresql://h/db?k%3D=v%26w&x=a+b%3Dc"},
    {.url = "mssql+pyodbc://u:p@h:1433/db?driver=ODBC+Driver+17+for+SQL+Server",
     .dialect = "mssql", .driver = "pyodbc", .user = "u", .password = "p",
     .host = "h", .port = 1433, .database = "db",
     .query = Q("driver", "ODBC Driver 17 for SQL Server"),
     .masked = "mssql+pyodbc://u:***@h:1433/db?driver=ODBC+Driver+17+for+SQL+Server"},
    {.url = "postgresql://h/db?application+name=my+app%2B%20x",
     .dialect = "postgresql", .host = "h", .database = "db",
     .query = Q("application name", "my app+ x"),
     .masked = "postgresql://h/db?application+name=my+app%2B+x"},
    {.url = "postgresql://h?sslmode=require", .dialect = "postgresql",
     .host = "h", .query = Q("sslmode", "require"),
     .masked = "postgresql://h?sslmode=require"},
    {.url = "postgresql://h/db?", .dialect = "postgresql", .host = "h",
     .database = "db", .masked = "postgresql://h/db"},
    {.url = "postgresql://h/db%3Fx%23y%2Fz?q=%3F", .dialect = "postgresql",
     .host = "h", .database = "db%3Fx%23y%2Fz", .query = Q("q", "?"),
     .masked = "postgresql://h/db%3Fx%23y%2Fz?q=?"},
    {.url = "postgresql://h/my%20db#x", .dialect = "postgresql", .host = "h",
     .database = "my%20db#x", .masked = "postgresql://h/my%20db#x"},
    {.url = "mysql+pymysql://u:pw@db.example.com:3306/app?charset=utf8mb4",
     .dialect = "mysql", .driver = "pymysql", .user = "u", .password = "pw",
     .host = "db.example.com", .port = 3306, .database = "app",
     .query = Q("charset", "utf8mb4"),
     .masked = "mysql+pymysql://u:***@db.example.com:3306/app?charset=utf8mb4"},
    {.url = "my_db2+drv_1://h%41/x", .dialect = "my_db2", .driver = "drv_1",
     .host = "h%41", .database = "x", .masked = "my_db2+drv_1://h%41/x"},
    {.url = "postgresql://b\xC3\xBC" "cher.example/d", .dialect = "postgresql",
     .host = "b\xC3\xBC" "cher.example", .database = "d",
     .masked = "postgresql://b\xC3\xBC" "cher.example/d"},
};

typedef struct bad_case {
    const char *url;
    int rc;
    const char *part;   /* the message must contain it */
    const char *pos;    /* "position N" the message must contain */
    const char *secret; /* the message must not contain it */
    const char *also;   /* another substring the message must contain */
} bad_case;

static const bad_case invalid[] = {
    {"sqlite:/x.db", DBCONN_EURL, "dialect", "position 6", NULL,
     "expected \"://\" after the dialect"},
    {"sqlite", DBCONN_EURL, "dialect", "position 6", NULL, "\"://\""},
    {"://host/db", DBCONN_EURL, "dialect", "position 0", NULL, "missing"},
    {"", DBCONN_EURL, "dialect", "position 0", NULL, NULL},
    {"+pg://h", DBCONN_EURL, "dialect", "position 0", NULL, NULL},
    {"sqlite+://", DBCONN_EURL, "driver", "position 7", NULL, "empty"},
    {"post gres://h", DBCONN_EURL, "dialect", "position 4", NULL, "' '"},
    {"pg+a-b://h", DBCONN_EURL, "driver", "position 4", NULL, "'-'"},
    {"localhost:5432/db", DBCONN_EURL, "dialect", "position 9", NULL, NULL},
    {"postgresql://u:%zzhunter@h/db", DBCONN_EURL, "password", "position 15",
     "hunter", "percent escape"},
    {"postgresql://u:hunter%4@h/db", DBCONN_EURL, "password", "position 21",
     "hunter", "percent escape"},
    {"postgresql://us%g1:hunter@h", DBCONN_EURL, "username", "position 15",
     "hunter", "\"%g1\""},
    {"postgresql://u:hunter2@h:0/db", DBCONN_EURL, "port", "position 25",
     "hunter", "1-65535"},
    {"postgresql://h:65536/db", DBCONN_EURL, "port", "position 15", NULL,
     "\"65536\""},
    {"postgresql://h:/db", DBCONN_EURL, "port", "position 15", NULL, "empty"},
    {"postgresql://h:abc/db", DBCONN_EURL, "port", "position 15", NULL,
     "\"abc\""},
    {"postgresql://h:123456/db", DBCONN_EURL, "port", "position 15", NULL,
     NULL},
    {"postgresql://h:-1/db", DBCONN_EURL, "port", "position 15", NULL, NULL},
    {"postgresql://h:5432:1/db", DBCONN_EURL, "port", "position 15", NULL,
     NULL},
    {"postgresql://::1/db", DBCONN_EURL, "port", "position 14", NULL,
     "brackets"},
    {"postgresql://[::1/db", DBCONN_EURL, "host", "position 13", NULL,
     "unterminated"},
    {"postgresql://[::1]x/db", DBCONN_EURL, "host", "position 18", NULL,
     "'x'"},
    {"postgresql://[]/db", DBCONN_EURL, "host", "position 13", NULL, "empty"},
    {"postgresql://[zz::1]/db", DBCONN_EURL, "host", "position 14", NULL,
     "'z'"},
    {"postgresql://[1.2.3.4]/db", DBCONN_EURL, "host", "position 13", NULL,
     "not an IPv6"},
    {"postgresql://[fe80::1%]/db", DBCONN_EURL, "host", "position 21", NULL,
     "zone"},
    {"postgresql://ho st/db", DBCONN_EURL, "host", "position 15", NULL, "' '"},
    {"postgresql://h#x/db", DBCONN_EURL, "host", "position 14", NULL, "'#'"},
    {"postgresql://a]b/db", DBCONN_EURL, "host", "position 14", NULL, "']'"},
    {"postgresql://h/db?=v", DBCONN_EURL, "query", "position 18", NULL,
     "empty key"},
    {"postgresql://h/db?a=1&&b=2", DBCONN_EURL, "query", "position 22", NULL,
     "empty key"},
    {"postgresql://h/db?a=1&", DBCONN_EURL, "query", "position 22", NULL,
     "empty key"},
    {"postgresql://h/db?a=%zz", DBCONN_EURL, "query", "position 20", NULL,
     "\"%zz\""},
    {"sqlite:///50%.db", DBCONN_EURL, "database", "position 12", NULL,
     "percent escape"},
    {"sqlite://user@/x.db", DBCONN_EURL, "username", "position 9", NULL,
     "sqlite:////absolute/path.db"},
    {"sqlite://:hunter2@/x.db", DBCONN_EURL, "password", "position 10",
     "hunter", "sqlite:///relative/path.db"},
    {"sqlite://@/x.db", DBCONN_EURL, "username", "position 9", NULL,
     "sqlite:///:memory:"},
    {"sqlite://localhost/x.db", DBCONN_EURL, "host", "position 9", NULL,
     "sqlite://"},
    {"sqlite+aiosqlite://:5/x.db", DBCONN_EURL, "port", "position 20", NULL,
     "valid forms"},
    {"SQLITE://h/x.db", DBCONN_EURL, "host", "position 9", NULL, NULL},
    {"postgresql://h/d\nb", DBCONN_EURL, "database", "position 16", NULL,
     "control character 0x0A"},
    {"postgresql://u:hunter\x01" "2@h", DBCONN_EURL, "password", "position 21",
     "hunter", "control character 0x01"},
    {"postgresql://h/db\x7f", DBCONN_EURL, "database", "position 17", NULL,
     "0x7F"},
    {"post\tgresql://h", DBCONN_EURL, "dialect", "position 4", NULL,
     "control"},
    {"postgresql://h/\xff.db", DBCONN_EURL, "database", "position 15", NULL,
     "UTF-8"},
    {"postgresql://h/db?x=\xc3", DBCONN_EURL, "query", "position 20", NULL,
     "UTF-8"},
    {"postgresql://h\xc3\x28/db", DBCONN_EURL, "host", "position 14", NULL,
     "UTF-8"},
    {"postgresql://h/db?x=%ff.db", DBCONN_EURL, "query", "position 20", NULL,
     "UTF-8"},
    {"postgresql://h/db?%C0%AF", DBCONN_EURL, "query", "position 18", NULL,
     "UTF-8"},
    {"postgresql://h/db?x=%ED%A0%80", DBCONN_EURL, "query", "position 20",
     NULL, "UTF-8"},
    {"postgresql://%F4%90%80%80@h/db", DBCONN_EURL, "username", "position 13",
     NULL, "UTF-8"},
    {"postgresql://h/db?x=x%E2%82", DBCONN_EURL, "query", "position 21", NULL,
     "truncated"},
    {"postgresql://u:hunter%FF@h", DBCONN_EURL, "password", "position 21",
     "hunter", "UTF-8"},
    {"postgresql://h/db?x=db%00x", DBCONN_EURL, "query", "position 22", NULL,
     "NUL"},
    /* Not decoded, the database must still hold well-formed escapes. */
    {"postgresql://h/db%4", DBCONN_EURL, "database", "position 17", NULL,
     "\"%4\""},
    {"postgresql://h/a%2Fb%g0?x=1", DBCONN_EURL, "database", "position 20",
     NULL, "\"%g0\""},
    {"postgresql://u:hunter%00@h", DBCONN_EURL, "password", "position 21",
     "hunter", "NUL"},
    /* Whatever else fails, the password is hidden: behind a username with
     * an unencoded '?' ... */
    {"postgresql://u?x:hunter%zz@h/db", DBCONN_EURL, "password",
     "position 23", "hunter", "percent escape"},
    {"postgresql://u?x:hunter@h:0/db", DBCONN_EURL, "port", "position 26",
     "hunter", "1-65535"},
    /* ... one with '/', '?' or ':' in it ... */
    {"postgresql://u:hun/ter?2@h:x/db", DBCONN_EURL, "port", "position 27",
     "hun/ter", NULL},
    {"postgresql://u:hun:ter@[::1/db", DBCONN_EURL, "host", "position 23",
     "hun:ter", "unterminated"},
    /* ... one with a raw '@', the whole of it ... */
    {"postgresql://u:hunter@two@h:0/db", DBCONN_EURL, "port", "position 28",
     "hunter@two", NULL},
    {"postgresql://u:hunter@two@h:0/db", DBCONN_EURL, "port", "position 28",
     "two", NULL},
    /* ... one before a bad escape in the database or the query ... */
    {"postgresql://u:hunter@h/d%zz", DBCONN_EURL, "database", "position 25",
     "hunter", "\"%zz\""},
    {"postgresql://u:hunter/x@h/db?a=%zz", DBCONN_EURL, "query",
     "position 31", "hunter", "\"%zz\""},
    /* ... and a malformed scheme, with or without a "://". */
    {"post gres://u:hunter2@h", DBCONN_EURL, "dialect", "position 4",
     "hunter", "' '"},
    {"postgres//u:hunter2@h", DBCONN_EURL, "dialect", "position 8", "hunter",
     "'/'"},
    {"pg:u:hunter2@h", DBCONN_EURL, "dialect", "position 2", "hunter",
     "\"://\""},
};

/* ------------------------------------------------------------------------ */

static bool same_str(const char *a, const char *b) {
    return a == b || (a && b && strcmp(a, b) == 0);
}

#define SHOW(s) ((s) ? (s) : "(null)")

static void expect_str(const char *url, const char *what, const char *want,
                       const char *got) {
    if (!same_str(want, got))
        fail_msg("%s: %s is \"%s\", expected \"%s\"", url, what, SHOW(got),
                 SHOW(want));
}

/* Every part of a and b equal. */
static bool url_equal(const dbconn_url *a, const dbconn_url *b) {
    if (!same_str(dbconn_url_dialect(a), dbconn_url_dialect(b)) ||
        !same_str(dbconn_url_driver(a), dbconn_url_driver(b)) ||
        !same_str(dbconn_url_username(a), dbconn_url_username(b)) ||
        !same_str(dbconn_url_password(a), dbconn_url_password(b)) ||
        !same_str(dbconn_url_host(a), dbconn_url_host(b)) ||
        dbconn_url_port(a) != dbconn_url_port(b) ||
        !same_str(dbconn_url_database(a), dbconn_url_database(b)) ||
        dbconn_url_query_count(a) != dbconn_url_query_count(b))
        return false;
    for (size_t i = 0; i < dbconn_url_query_count(a); i++)
        if (!same_str(dbconn_url_query_key(a, i), dbconn_url_query_key(b, i)) ||
            !same_str(dbconn_url_query_value(a, i),
                      dbconn_url_query_value(b, i)))
            return false;
    return true;
}

static char *render(const dbconn_url *u, unsigned flags) {
    size_t n = dbconn_url_render(u, flags, NULL, 0);
    char *s = malloc(n + 1);
    assert_non_null(s);
    assert_int_equal(dbconn_url_render(u, flags, s, n + 1), n);
    assert_int_equal(strlen(s), n);
    return s;
}

/* Unmasked -> parse -> equal; masked == unmasked with the encoded password
 * replaced by ***; dbc_url_masked == masked rendering. */
static void check_round_trip(const char *label, const dbconn_url *u) {
    char *full = render(u, DBCONN_URL_SHOW_PASSWORD);
    char *masked = render(u, 0);
    dbconn_url *back = NULL;
    int rc = dbconn_url_parse(&back, full);
    if (rc != 0)
        fail_msg("%s: rendering \"%s\" does not parse back: %s", label, full,
                 dbconn_errmsg(NULL));
    if (!url_equal(u, back))
        fail_msg("%s: rendering \"%s\" parses back to a different URL", label,
                 full);
    dbconn_url_free(back);

    char *want = malloc(strlen(full) + 4);
    assert_non_null(want);
    if (dbconn_url_password(u)) {
        /* The encoded user has no ':' and the encoded password no '@'. */
        char *start = strchr(strstr(full, "://") + 3, ':') + 1;
        char *end = strchr(start, '@');
        snprintf(want, strlen(full) + 4, "%.*s***%s", (int)(start - full),
                 full, end);
    } else {
        strcpy(want, full);
    }
    if (strcmp(masked, want) != 0)
        fail_msg("%s: masked \"%s\" != \"%s\"", label, masked, want);
    char *m = dbc_url_masked(u);
    assert_non_null(m);
    assert_string_equal(m, masked);
    dbc_free(m);
    free(want);
    free(masked);
    free(full);
}

static void test_valid_urls(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof valid / sizeof *valid; i++) {
        const url_case *c = &valid[i];
        dbconn_url *u = NULL;
        int rc = dbconn_url_parse(&u, c->url);
        if (rc != 0)
            fail_msg("%s: %s: %s", c->url, dbconn_err_name(rc),
                     dbconn_errmsg(NULL));
        expect_str(c->url, "dialect", c->dialect, dbconn_url_dialect(u));
        expect_str(c->url, "driver", c->driver, dbconn_url_driver(u));
        expect_str(c->url, "username", c->user, dbconn_url_username(u));
        expect_str(c->url, "password", c->password, dbconn_url_password(u));
        expect_str(c->url, "host", c->host, dbconn_url_host(u));
        expect_str(c->url, "database", c->database, dbconn_url_database(u));
        if (dbconn_url_port(u) != c->port)
            fail_msg("%s: port %d, expected %d", c->url, dbconn_url_port(u),
                     c->port);
        size_t nq = 0;
        while (c->query && c->query[2 * nq])
            nq++;
        if (dbconn_url_query_count(u) != nq)
            fail_msg("%s: %zu query pairs, expected %zu", c->url,
                     dbconn_url_query_count(u), nq);
        for (size_t j = 0; j < nq; j++) {
            expect_str(c->url, "query key", c->query[2 * j],
                       dbconn_url_query_key(u, j));
            expect_str(c->url, "query value", c->query[2 * j + 1],
                       dbconn_url_query_value(u, j));
        }
        assert_null(dbconn_url_query_key(u, nq));
        assert_null(dbconn_url_query_value(u, nq));
        if (dbc_url_is_memory(u) != c->memory)
            fail_msg("%s: is_memory %d", c->url, dbc_url_is_memory(u));
        char *m = render(u, 0);
        if (strcmp(m, c->masked) != 0)
            fail_msg("%s: rendered \"%s\", expected \"%s\"", c->url, m,
                     c->masked);
        free(m);
        check_round_trip(c->url, u);
        dbconn_url_free(u);
    }
}

static void test_invalid_urls(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++) {
        const bad_case *c = &invalid[i];
        dbconn_url *u = (dbconn_url *)&u; /* must be reset to NULL */
        int rc = dbconn_url_parse(&u, c->url);
        const char *msg = dbconn_errmsg(NULL);
        if (rc != c->rc)
            fail_msg("case %zu \"%s\": got %s, expected %s (%s)", i, c->url,
                     dbconn_err_name(rc), dbconn_err_name(c->rc), msg);
        assert_null(u);
        const char *need[] = {"invalid URL \"", c->part, c->pos, c->also};
        for (size_t j = 0; j < 4; j++)
            if (need[j] && !strstr(msg, need[j]))
                fail_msg("case %zu: message lacks \"%s\": %s", i, need[j],
                         msg);
        if (c->secret && strstr(msg, c->secret))
            fail_msg("case %zu: message shows the password: %s", i, msg);
        if (c->secret && !strstr(msg, "***"))
            fail_msg("case %zu: message does not mask the password: %s", i,
                     msg);
    }
}

static void test_null_arguments(void **state) {
    (void)state;
    dbconn_url *u = (dbconn_url *)&u;
    assert_int_equal(dbconn_url_parse(&u, NULL), DBCONN_EINVAL);
    assert_null(u);
    assert_int_equal(dbconn_url_parse(NULL, "sqlite://"), DBCONN_EINVAL);
    assert_non_null(strstr(dbconn_errmsg(NULL), "out"));
    dbconn_url_free(NULL);
    assert_null(dbconn_url_dialect(NULL));
    assert_null(dbconn_url_driver(NULL));
    assert_null(dbconn_url_username(NULL));
    assert_null(dbconn_url_password(NULL));
    assert_null(dbconn_url_host(NULL));
    assert_int_equal(dbconn_url_port(NULL), 0);
    assert_null(dbconn_url_database(NULL));
    assert_int_equal(dbconn_url_query_count(NULL), 0);
    assert_null(dbconn_url_query_key(NULL, 0));
    assert_null(dbconn_url_query_value(NULL, 0));
    assert_null(dbconn_url_query_get(NULL, "a"));
    assert_false(dbc_url_is_memory(NULL));
    assert_null(dbc_url_masked(NULL));
    char buf[4] = "xyz";
    assert_int_equal(dbconn_url_render(NULL, 0, buf, sizeof buf), 0);
    assert_string_equal(buf, "");
}

static void test_query_get_last_wins(void **state) {
    (void)state;
    dbconn_url *u;
    tu_ok(dbconn_url_parse(&u, "sqlite:///x.db?a=1&b=2&a=3&c"));
    assert_string_equal(dbconn_url_query_get(u, "a"), "3");
    assert_string_equal(dbconn_url_query_get(u, "b"), "2");
    assert_string_equal(dbconn_url_query_get(u, "c"), "");
    assert_null(dbconn_url_query_get(u, "A"));
    assert_null(dbconn_url_query_get(u, "d"));
    assert_null(dbconn_url_query_get(u, NULL));
    dbconn_url_free(u);
}

/* snprintf semantics for every buffer size. */
static void test_render_truncation(void **state) {
    (void)state;
    dbconn_url *u;
    tu_ok(dbconn_url_parse(&u, "postgresql://u:s%40cret@[::1]:5432/d%20b?x=1%202"));
    char full[128], buf[128];
    size_t n = dbconn_url_render(u, DBCONN_URL_SHOW_PASSWORD, full, sizeof full);
    assert_string_equal(full, "postgresql://u:s%40cret@[::1]:5432/d%20b?x=1+2");
    assert_int_equal(n, strlen(full));
    assert_int_equal(dbconn_url_render(u, 0, NULL, 0),
                     strlen("postgresql://u:***@[::1]:5432/d%20b?x=1+2"));
    assert_int_equal(dbconn_url_render(u, 0, NULL, 50),
                     dbconn_url_render(u, 0, NULL, 0));
    for (size_t size = 0; size <= n + 1; size++) {
        memset(buf, '#', sizeof buf);
        assert_int_equal(
            dbconn_url_render(u, DBCONN_URL_SHOW_PASSWORD, buf, size), n);
        if (size == 0) {
            assert_int_equal(buf[0], '#');
            continue;
        }
        size_t w = size - 1 < n ? size - 1 : n;
        assert_memory_equal(buf, full, w);
        assert_int_equal(buf[w], '\0');
        assert_int_equal(buf[w + 1], '#'); /* nothing written past size */
    }
    dbconn_url_free(u);
}

/* Every byte a password can hold survives the round trip. */
static void test_render_encodes_every_byte(void **state) {
    (void)state;
    char url[1024], *p = url;
    p += sprintf(p, "postgresql://");
    for (int c = 1; c < 128; c++)
        p += sprintf(p, "%%%02X", c);
    p += sprintf(p, ":");
    for (int c = 1; c < 128; c++)
        p += sprintf(p, "%%%02X", c);
    sprintf(p, "@h/%%25%%3F%%23%%20%%0A?%%26%%3D%%23=%%25%%20%%0D%%2B%%40+");
    dbconn_url *u;
    tu_ok(dbconn_url_parse(&u, url));
    assert_int_equal(strlen(dbconn_url_username(u)), 127);
    assert_int_equal(strlen(dbconn_url_password(u)), 127);
    assert_string_equal(dbconn_url_database(u), "%25%3F%23%20%0A");
    assert_string_equal(dbconn_url_query_key(u, 0), "&=#");
    assert_string_equal(dbconn_url_query_value(u, 0), "% \r+@ ");
    check_round_trip("every byte", u);
    char *m = render(u, 0);
    for (const char *s = m; *s; s++) /* no raw control byte in a rendering */
        assert_true((unsigned char)*s >= 0x20 && *s != 0x7f);
    free(m);
    dbconn_url_free(u);
}

static void test_too_long(void **state) {
    (void)state;
    size_t n = 1024 * 1024;
    char *url = malloc(n + 1);
    assert_non_null(url);
    memset(url, 'a', n);
    memcpy(url, "postgresql://u:hunter2@host/", 28);
    url[n] = '\0';
    dbconn_url *u = (dbconn_url *)&u;
    assert_int_equal(dbconn_url_parse(&u, url), DBCONN_EURL);
    assert_null(u);
    const char *msg = dbconn_errmsg(NULL);
    assert_non_null(strstr(msg, "URL is too long (1048576 bytes, at most "
                                "65536)"));
    assert_non_null(strstr(msg, "postgresql://u:***@host/aaa"));
    assert_null(strstr(msg, "hunter"));
    assert_true(strlen(msg) < 600); /* the quote is short */

    /* The limit itself is accepted, one byte more is not. */
    url[DBC_URL_MAX] = '\0';
    tu_ok(dbconn_url_parse(&u, url));
    assert_int_equal(strlen(dbconn_url_database(u)), DBC_URL_MAX - 28);
    dbconn_url_free(u);
    url[DBC_URL_MAX] = 'a';
    url[DBC_URL_MAX + 1] = '\0';
    assert_int_equal(dbconn_url_parse(&u, url), DBCONN_EURL);
    assert_non_null(strstr(dbconn_errmsg(NULL), "(65537 bytes"));
    free(url);
}

/* Long and binary content is quoted safely: escaped, cut short. */
static void test_message_quoting(void **state) {
    (void)state;
    dbconn_url *u;
    assert_int_equal(dbconn_url_parse(&u, "pg://h/\"\\\x1b[31m"), DBCONN_EURL);
    const char *msg = dbconn_errmsg(NULL);
    assert_non_null(strstr(msg, "\"pg://h/\\x22\\x5C\\x1B[31m\""));
    char url[600];
    snprintf(url, sizeof url, "pg://h:x/%0500d", 0);
    assert_int_equal(dbconn_url_parse(&u, url), DBCONN_EURL);
    msg = dbconn_errmsg(NULL);
    assert_non_null(strstr(msg, "000...\": bad port \"x\" at position 7"));
}

/* The file a sqlite URL names is the one pysqlite opens for it: the
 * database as written (os.path.abspath(url.database)), through the plain
 * path and through the URI that SQLite options make; with uri=true the
 * database is itself a URI, which SQLite decodes, as it does for pysqlite. */
static bool exists_in(const char *dir, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* Opens and closes an engine on "<head><dir><tail>" (dir may be ""). */
static void open_and_close(const char *head, const char *dir,
                           const char *tail) {
    char url[1024];
    dbconn *db = NULL;
    snprintf(url, sizeof url, "%s%s%s", head, dir, tail);
    int rc = dbconn_open(&db, url, NULL);
    if (rc != 0)
        fail_msg("%s: %s: %s", url, dbconn_err_name(rc), dbconn_errmsg(NULL));
    assert_int_equal(dbconn_close(db, NULL), 0);
}

static void test_database_names_the_same_file(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    open_and_close("sqlite:///", dir, "/my%20db.db");
    assert_true(exists_in(dir, "my%20db.db"));
    assert_false(exists_in(dir, "my db.db"));
    open_and_close("sqlite:///", dir, "/a%2Fb.db?mode=rwc"); /* a file: URI */
    assert_true(exists_in(dir, "a%2Fb.db"));
    open_and_close("sqlite:///file:", dir, "/x%20y.db?uri=true");
    assert_true(exists_in(dir, "x y.db"));
    assert_false(exists_in(dir, "x%20y.db"));

    /* Relative: "%2F" is no path separator, the file is in the directory. */
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    open_and_close("sqlite:///", "", "sub%2Fr.db");
    assert_int_equal(chdir(cwd), 0);
    assert_true(exists_in(dir, "sub%2Fr.db"));
    tu_rmdir(dir);
}

/* dbconn_open's own messages hide the password as dbconn_url_parse's do
 * (loopback and port 1: nothing listens, should a PostgreSQL driver be
 * built). */
static void test_open_never_shows_password(void **state) {
    (void)state;
    static const char *const urls[] = {
        "postgresql://u:hunter/2@127.0.0.1:1/db",
        "postgresql://u?x:hunter%zz@127.0.0.1:1/db",
        "postgresql://u:hunter@two@127.0.0.1:0/db",
        "sqlite://u:hunter/2@/x.db",
    };
    for (size_t i = 0; i < sizeof urls / sizeof *urls; i++) {
        dbconn *db = (dbconn *)&db;
        int rc = dbconn_open(&db, urls[i], NULL);
        assert_true(rc < 0);
        assert_null(db);
        if (strstr(dbconn_errmsg(NULL), "hunter"))
            fail_msg("%s: %s", urls[i], dbconn_errmsg(NULL));
    }
}

/* A tiny deterministic fuzzer: random URLs from tricky pieces; whatever
 * parses must render and parse back to an equal URL, with masking exact. */
static void test_round_trip_fuzz(void **state) {
    (void)state;
    static const char *const heads[] = {
        "postgresql://", "sqlite://", "sqlite:///", "sqlite:////",
        "mysql+pymysql://", "pg://u:p@", "x://[::1]", "x://h:5432", ""};
    static const char *const pieces[] = {
        "a",    "Z",   "0",     "%41",   "%zz", "%",   "@",      ":",
        "/",    "?",   "&",     "=",     "[",   "]",   "::1",    "+",
        "%40",  "%2F", "\xC3\xA9", "\xff", " ",  "#",  "~",      "%00",
        "%E2%82%AC", ".", "-",  "_",     "%3A", "%25", "%0A",    "%C3",
        "%26",  "%3D", "h",     "5432",  "[::1]", "*", "u:p@h",  "?k=v"};
    unsigned long x = 12345;
    char url[256];
    size_t parsed = 0, total = 20000;
    for (size_t it = 0; it < total; it++) {
        x = x * 6364136223846793005UL + 1442695040888963407UL;
        size_t len = strlen(strcpy(url, heads[(x >> 33) % 9]));
        size_t np = (x >> 20) % 12;
        for (size_t k = 0; k < np; k++) {
            x = x * 6364136223846793005UL + 1442695040888963407UL;
            const char *p = pieces[(x >> 33) % (sizeof pieces / sizeof *pieces)];
            if (len + strlen(p) < sizeof url)
                len = strlen(strcat(url, p));
        }
        dbconn_url *u = NULL;
        int rc = dbconn_url_parse(&u, url);
        if (rc == 0) {
            parsed++;
            check_round_trip(url, u);
            dbconn_url_free(u);
        } else {
            assert_int_equal(rc, DBCONN_EURL);
            assert_null(u);
        }
    }
    assert_true(parsed > total / 20); /* the fuzzer reaches valid URLs */
}

/* Allocation failure at every step: ENOMEM, no leak (ASan), no half-built
 * URL; with enough memory the same call succeeds. */
static int budget;
static void *lim_malloc(size_t n) { return budget-- > 0 ? malloc(n) : NULL; }
static void *lim_calloc(size_t c, size_t n) {
    return budget-- > 0 ? calloc(c, n) : NULL;
}
static void *lim_realloc(void *p, size_t n) {
    return budget-- > 0 ? realloc(p, n) : NULL;
}

static void test_out_of_memory(void **state) {
    (void)state;
    const dbconn_allocator lim = {lim_malloc, lim_calloc, lim_realloc, free};
    const char *url = "pg+drv://u%40:p%3A@[::1]:5/d%20b?a=1&b&c=%26";
    for (int n = 0;; n++) {
        dbconn_url *u = (dbconn_url *)&u;
        budget = n;
        dbconn_set_allocator(&lim, NULL);
        int rc = dbconn_url_parse(&u, url);
        char *m = rc == 0 ? dbc_url_masked(u) : NULL;
        dbconn_set_allocator(NULL, NULL);
        if (rc == 0 && m) {
            assert_string_equal(m, "pg+drv://u%40:***@[::1]:5/d%20b?a=1&b=&c=%26");
            assert_true(n > 10); /* every part was allocated under the limit */
            dbc_free(m);
            dbconn_url_free(u);
            break;
        }
        if (rc == 0) { /* the URL fit, its masked copy did not */
            dbconn_url_free(u);
            continue;
        }
        assert_int_equal(rc, DBCONN_ENOMEM);
        assert_null(u);
        assert_string_equal(dbconn_errmsg(NULL), "out of memory");
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_urls),
        cmocka_unit_test(test_invalid_urls),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_query_get_last_wins),
        cmocka_unit_test(test_render_truncation),
        cmocka_unit_test(test_render_encodes_every_byte),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_message_quoting),
        cmocka_unit_test(test_database_names_the_same_file),
        cmocka_unit_test(test_open_never_shows_password),
        cmocka_unit_test(test_round_trip_fuzz),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
