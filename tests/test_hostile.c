/* Hostile input: what an attacker (or a careless caller) can put in a
 * parameter, an identifier, a URL, an option or a savepoint name.
 *
 *   - parameters are data: SQL in a value round-trips byte for byte and
 *     runs nothing; stacked statements in the SQL text are refused;
 *   - identifiers (tables, columns, explicit and generated index names)
 *     with ", ', ;, --, spaces, control and non-ASCII characters are quoted
 *     and round-trip through init_db and the catalog (tests/test_initdb.c
 *     covers table, column, FK and default-literal names; here: index names,
 *     spaces, control characters, composite and unique indexes);
 *   - URLs and option values of 1 MB, with control characters or invalid
 *     UTF-8 give DBCONN_EURL / DBCONN_EOPTION with a short, escaped message
 *     naming the input, and nothing is opened or created;
 *   - URI parameters cannot smuggle other parameters into SQLite's URI, and
 *     a percent-encoded '?' / '&' / '#' in a path names a file literally;
 *   - savepoint names that try injection are refused before any SQL runs,
 *     and leave the transaction usable.
 *
 * */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#define NELEM(a) (sizeof(a) / sizeof *(a))

/* ---- helpers ---------------------------------------------------------------- */

typedef struct fx {
    dbconn *db;
    dbconn_session *s;
} fx;

static int setup(void **state) {
    tu_fresh(NULL);
    static fx f;
    memset(&f, 0, sizeof f);
    if (dbconn_open(&f.db, tu_url(), NULL) ||
        dbconn_session_open(f.db, &f.s) ||
        dbconn_exec(f.s,
                    tu_ddl("CREATE TABLE users (id INTEGER PRIMARY KEY, name "
                           "TEXT, pic BLOB)"),
                    NULL, 0, NULL) ||
        dbconn_commit(f.s))
        return -1;
    *state = &f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    dbconn_session_close(f->s);
    return dbconn_close(f->db, NULL);
}

static int64_t count(dbconn_session *s, const char *sql, const dbconn_value *p,
                     size_t np) {
    dbconn_result *r;
    tu_ok(dbconn_exec(s, sql, p, np, &r));
    int64_t n = dbconn_result_int(r, 0, 0);
    dbconn_result_free(r);
    return n;
}

static int64_t tables_named(dbconn_session *s, const char *name) {
    /* tables and indexes (on a server: of the program's schema) */
    return count(s,
                 tu_is_sqlite()
                     ? "SELECT count(*) FROM sqlite_master WHERE name = ?"
                     : "SELECT count(*) FROM pg_class WHERE CAST(relname AS "
                       "TEXT) = ? AND relnamespace = CAST(current_schema() "
                       "AS regnamespace)",
                 DBCONN_PARAMS(DBCONN_TEXT(name)));
}

/* A message is short, names the input, and carries no raw control byte
 * (it may be logged or shown on a terminal). */
static void assert_clean_msg(const char *frag, size_t max) {
    const char *msg = dbconn_errmsg(NULL);
    if (frag && !strstr(msg, frag))
        fail_msg("message \"%s\" lacks \"%s\"", msg, frag);
    if (strlen(msg) > max)
        fail_msg("message of %zu bytes (at most %zu expected): %.200s...",
                 strlen(msg), max, msg);
    for (const char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            fail_msg("raw control byte 0x%02x in message \"%s\"",
                     (unsigned char)*p, msg);
}

static char *filled(size_t n, char c) {
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* ---- parameters are data ---------------------------------------------------- */

static const char *const evil_values[] = {
    "'); DROP TABLE users; --",
    "\"); DROP TABLE users; --",
    "' OR '1'='1",
    "x'; ATTACH DATABASE '/tmp/dbconn-pwned.db' AS pwned; --",
    "?; ?; :name; @p; $q",
    "*/ DROP TABLE users; /*",
    "\\'; DELETE FROM users; --",
    "line1\nCOMMIT;\nDROP TABLE users;",
    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \xff\xfe (invalid UTF-8 too)",
};

/* The last of evil_values: text that is not UTF-8. */
#define NOT_UTF8 (NELEM(evil_values) - 1)

static void test_parameter_values_round_trip_as_data(void **state) {
    fx *f = *state;
    for (size_t i = 0; i < NELEM(evil_values); i++) {
        const char *v = evil_values[i];
        dbconn_result *r;
        if (i == NOT_UTF8 && !tu_is_sqlite())
            continue; /* PostgreSQL refuses it as text: below */
        /* RETURNING id: the key on both engines (PostgreSQL has no rowid
         * for dbconn_result_last_insert_id to give otherwise) */
        tu_ok(dbconn_exec(f->s, "INSERT INTO users (name, pic) VALUES (?, ?) "
                                "RETURNING id",
                          DBCONN_PARAMS(DBCONN_TEXT(v),
                                        DBCONN_BLOB(v, strlen(v))),
                          &r));
        int64_t id = dbconn_result_last_insert_id(r);
        dbconn_result_free(r);
        tu_ok(dbconn_exec(f->s, "SELECT name, pic, ? FROM users WHERE id = ?",
                          DBCONN_PARAMS(DBCONN_TEXT(v), DBCONN_INT(id)), &r));
        assert_int_equal(dbconn_result_nrows(r), 1);
        assert_int_equal(dbconn_result_text_len(r, 0, 0), strlen(v));
        assert_memory_equal(dbconn_result_text(r, 0, 0), v, strlen(v));
        size_t len;
        const void *blob = dbconn_result_blob(r, 0, 1, &len);
        assert_int_equal(len, strlen(v));
        assert_memory_equal(blob, v, len);
        assert_memory_equal(dbconn_result_text(r, 0, 2), v, strlen(v));
        dbconn_result_free(r);
        /* As a predicate it matches itself only. */
        assert_int_equal(count(f->s, "SELECT count(*) FROM users WHERE name = ?",
                               DBCONN_PARAMS(DBCONN_TEXT(v))),
                         1);
    }
    tu_ok(dbconn_commit(f->s));
    assert_int_equal(tables_named(f->s, "users"), 1);
    assert_int_equal(count(f->s, "SELECT count(*) FROM users", NULL, 0),
                     (int64_t)NELEM(evil_values) - !tu_is_sqlite());
    if (tu_is_sqlite())
        assert_int_equal(count(f->s, "SELECT count(*) FROM "
                                     "pragma_database_list",
                               NULL, 0),
                         1); /* nothing was attached */
    tu_ok(dbconn_commit(f->s));
    if (!tu_is_sqlite()) {
        /* PostgreSQL's text is UTF-8: the server refuses the bytes as text
         * (SQLSTATE 22021), and keeps them as a BLOB */
        const char *v = evil_values[NOT_UTF8];
        assert_int_equal(dbconn_exec(f->s, "INSERT INTO users (name) VALUES (?)",
                                     DBCONN_PARAMS(DBCONN_TEXT(v)), NULL),
                         DBCONN_EDB);
        assert_string_equal(dbconn_session_sqlstate(f->s), "22021");
        assert_non_null(strstr(dbconn_errmsg(NULL), "UTF8"));
        tu_ok(dbconn_rollback(f->s));
        dbconn_result *r;
        tu_ok(dbconn_exec(f->s, "SELECT ?",
                          DBCONN_PARAMS(DBCONN_BLOB(v, strlen(v))), &r));
        size_t len;
        const void *blob = dbconn_result_blob(r, 0, 0, &len);
        assert_int_equal(len, strlen(v));
        assert_memory_equal(blob, v, len);
        dbconn_result_free(r);
        tu_ok(dbconn_commit(f->s));
    }
    assert_int_equal(access("/tmp/dbconn-pwned.db", F_OK), -1);
}

/* Text with an embedded NUL and an explicit length keeps every byte. */
static void test_parameter_with_nul_bytes(void **state) {
    fx *f = *state;
    static const char v[] = "a'\0'); DROP TABLE users; --";
    dbconn_result *r;
    if (!tu_is_sqlite()) {
        /* PostgreSQL text cannot hold NUL: refused before anything is
         * sent, naming the parameter; as a BLOB every byte is kept */
        assert_int_equal(dbconn_exec(f->s, "SELECT ?",
                                     DBCONN_PARAMS(DBCONN_TEXTN(v, sizeof v - 1)),
                                     &r),
                         DBCONN_EINVAL);
        assert_non_null(strstr(dbconn_errmsg(NULL), "parameter 1"));
        tu_ok(dbconn_rollback(f->s));
        tu_ok(dbconn_exec(f->s, "SELECT ?, length(?)",
                          DBCONN_PARAMS(DBCONN_BLOB(v, sizeof v - 1),
                                        DBCONN_BLOB(v, sizeof v - 1)),
                          &r));
        size_t len;
        const void *blob = dbconn_result_blob(r, 0, 0, &len);
        assert_int_equal(len, sizeof v - 1);
        assert_memory_equal(blob, v, sizeof v - 1);
        assert_int_equal(dbconn_result_int(r, 0, 1), (int64_t)(sizeof v - 1));
        dbconn_result_free(r);
        tu_ok(dbconn_commit(f->s));
        assert_int_equal(tables_named(f->s, "users"), 1);
        tu_ok(dbconn_commit(f->s));
        return;
    }
    tu_ok(dbconn_exec(f->s, "SELECT ?, length(CAST(? AS BLOB))",
                      DBCONN_PARAMS(DBCONN_TEXTN(v, sizeof v - 1),
                                    DBCONN_TEXTN(v, sizeof v - 1)),
                      &r));
    assert_int_equal(dbconn_result_text_len(r, 0, 0), sizeof v - 1);
    assert_memory_equal(dbconn_result_text(r, 0, 0), v, sizeof v - 1);
    assert_int_equal(dbconn_result_int(r, 0, 1), (int64_t)(sizeof v - 1));
    dbconn_result_free(r);
    tu_ok(dbconn_commit(f->s));
    assert_int_equal(tables_named(f->s, "users"), 1);
    tu_ok(dbconn_commit(f->s));
}

/* Concatenated SQL cannot stack a second statement onto dbconn_exec. */
static void test_stacked_statements_are_refused(void **state) {
    fx *f = *state;
    static const char *const stacked[] = {
        "SELECT 1; DROP TABLE users",
        "SELECT 1;DROP TABLE users;",
        "SELECT 1; -- comment\nDROP TABLE users",
        "SELECT 1; /* c */ DELETE FROM users",
        "INSERT INTO users (name) VALUES ('x'); DROP TABLE users; --",
    };
    for (size_t i = 0; i < NELEM(stacked); i++) {
        assert_int_equal(dbconn_exec(f->s, stacked[i], NULL, 0, NULL),
                         DBCONN_EINVAL);
        /* (The message quotes the program's own SQL as written, newlines
         * included: SQL text is not escaped.) */
        assert_non_null(strstr(dbconn_errmsg(NULL),
                               "more than one SQL statement"));
        tu_ok(dbconn_rollback(f->s));
    }
    assert_int_equal(tables_named(f->s, "users"), 1);
    assert_int_equal(count(f->s, "SELECT count(*) FROM users", NULL, 0), 0);
    tu_ok(dbconn_commit(f->s));
}

/* Echo shows a value escaped: a newline in a parameter cannot forge a log
 * line (e.g. a fake COMMIT). */
typedef struct lines {
    int n;
    char line[16][512];
} lines;

static void collect(void *data, int level, const char *line) {
    (void)level;
    lines *l = data;
    if (l->n < 16)
        snprintf(l->line[l->n++], sizeof l->line[0], "%s", line);
}

static void test_echo_escapes_hostile_values(void **state) {
    (void)state;
    lines l = {0};
    dbconn *db;
    dbconn_session *s;
    dbconn_options o = {.echo = 1, .log = collect, .log_data = &l};
    tu_ok(dbconn_open(&db, tu_url(), &o));
    tu_ok(dbconn_session_open(db, &s));
    tu_ok(dbconn_exec(s, "SELECT ?",
                      DBCONN_PARAMS(DBCONN_TEXT("a'\nCOMMIT\n\x1b[2J")), NULL));
    tu_ok(dbconn_rollback(s));
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, NULL));
    /* BEGIN (implicit), SELECT ?, the parameters, ROLLBACK */
    assert_int_equal(l.n, 4);
    assert_string_equal(l.line[0], "BEGIN (implicit)");
    assert_string_equal(l.line[1], "SELECT ?");
    assert_non_null(strstr(l.line[2], "('a\\'\\x0aCOMMIT\\x0a\\x1b[2J',)"));
    assert_string_equal(l.line[3], "ROLLBACK");
    for (int i = 0; i < l.n; i++)
        for (const char *p = l.line[i]; *p; p++)
            assert_true((unsigned char)*p >= 0x20);
}

/* ---- identifiers --------------------------------------------------------------- */

#define T_NAME "my table\"; DROP TABLE victim; --"
#define C_FIRST "first name"
#define C_MAIL "e'mail\"; --"
#define C_UNI "\xc3\xbc-\xc3\xb1 \xf0\x9f\x98\x80"
#define C_CTRL "tab\there\nnewline"
#define IX_EXPLICIT "ix\"; DROP TABLE victim; --"
#define IX_UNIQUE "unique 'ix' ; --"

static const char *const ix_cols[] = {C_FIRST, C_UNI};
static const char *const ux_cols[] = {C_MAIL};
static const dbconn_index hostile_indexes[] = {
    {.name = IX_EXPLICIT, .columns = ix_cols, .ncolumns = 2},
    {.name = IX_UNIQUE, .columns = ux_cols, .ncolumns = 1, .unique = true},
};
static const dbconn_column hostile_columns[] = {
    {.name = "id", .type = DBCONN_TYPE_INTEGER, .flags = DBCONN_PRIMARY_KEY},
    {.name = C_FIRST, .type = DBCONN_TYPE_TEXT},
    {.name = C_MAIL, .type = DBCONN_TYPE_TEXT},
    {.name = C_UNI, .type = DBCONN_TYPE_TEXT},
    {.name = C_CTRL, .type = DBCONN_TYPE_INTEGER, .flags = DBCONN_INDEXED},
};
static const dbconn_model hostile_model = {
    .table = T_NAME, .columns = hostile_columns,
    .ncolumns = NELEM(hostile_columns), .struct_size = 64,
    .indexes = hostile_indexes, .nindexes = NELEM(hostile_indexes)};
static const dbconn_column victim_columns[] = {
    {.name = "id", .type = DBCONN_TYPE_INTEGER, .flags = DBCONN_PRIMARY_KEY}};
static const dbconn_model victim_model = {
    .table = "victim", .columns = victim_columns, .ncolumns = 1,
    .struct_size = 8};

static void test_hostile_index_names_round_trip(void **state) {
    (void)state;
    dbconn_base *b;
    dbconn *db;
    dbconn_session *s;
    dbconn_result *r;
    tu_ok(dbconn_base_new(&b));
    tu_ok(dbconn_base_add(b, &victim_model));
    tu_ok(dbconn_base_add(b, &hostile_model));
    tu_ok(dbconn_open(&db, tu_url(), NULL));
    tu_ok(dbconn_init_db(db, b));
    tu_ok(dbconn_init_db(db, b)); /* idempotent with these names too */
    tu_ok(dbconn_session_open(db, &s));

    assert_int_equal(tables_named(s, "victim"), 1);
    tu_ok(dbconn_exec(s,
                      tu_is_sqlite()
                          ? "SELECT name FROM pragma_table_info(?) ORDER BY cid"
                          : "SELECT column_name FROM information_schema."
                            "columns WHERE table_schema = current_schema() "
                            "AND table_name = ? ORDER BY ordinal_position",
                      DBCONN_PARAMS(DBCONN_TEXT(T_NAME)), &r));
    assert_int_equal(dbconn_result_nrows(r), NELEM(hostile_columns));
    for (size_t i = 0; i < NELEM(hostile_columns); i++)
        assert_string_equal(dbconn_result_text(r, i, 0),
                            hostile_columns[i].name);
    dbconn_result_free(r);

    /* Every index: its name, uniqueness and columns, as declared. */
    static const struct {
        const char *name;
        int unique;
        const char *cols[2];
    } want[] = {
        {IX_EXPLICIT, 0, {C_FIRST, C_UNI}},
        {IX_UNIQUE, 1, {C_MAIL, NULL}},
        {"ix_" T_NAME "_" C_CTRL, 0, {C_CTRL, NULL}},
    };
    /* the indexes CREATE INDEX made (not those of keys, constraints) */
    tu_ok(dbconn_exec(s,
                      tu_is_sqlite()
                          ? "SELECT name, \"unique\" FROM pragma_index_list(?) "
                            "WHERE origin = 'c' ORDER BY name"
                          : "SELECT CAST(c.relname AS TEXT), CASE WHEN "
                            "i.indisunique THEN 1 ELSE 0 END FROM pg_index i "
                            "JOIN pg_class c ON c.oid = i.indexrelid WHERE "
                            "i.indrelid = to_regclass(quote_ident(?)) AND NOT "
                            "EXISTS (SELECT 1 FROM pg_constraint k WHERE "
                            "k.conindid = i.indexrelid) ORDER BY 1",
                      DBCONN_PARAMS(DBCONN_TEXT(T_NAME)), &r));
    assert_int_equal(dbconn_result_nrows(r), NELEM(want));
    for (size_t i = 0; i < NELEM(want); i++) {
        size_t row = 0;
        while (row < dbconn_result_nrows(r) &&
               strcmp(dbconn_result_text(r, row, 0), want[i].name) != 0)
            row++;
        if (row == dbconn_result_nrows(r))
            fail_msg("index \"%s\" is missing", want[i].name);
        assert_int_equal(dbconn_result_int(r, row, 1), want[i].unique);
        dbconn_result *c;
        tu_ok(dbconn_exec(
            s,
            tu_is_sqlite()
                ? "SELECT name FROM pragma_index_info(?) ORDER BY seqno"
                : "SELECT CAST(a.attname AS TEXT) FROM pg_index i JOIN "
                  "pg_class c ON c.oid = i.indexrelid JOIN pg_attribute a ON "
                  "a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE "
                  "CAST(c.relname AS TEXT) = ? AND c.relnamespace = "
                  "CAST(current_schema() AS regnamespace) ORDER BY "
                  "array_position(CAST(i.indkey AS int2[]), a.attnum)",
            DBCONN_PARAMS(DBCONN_TEXT(want[i].name)), &c));
        for (size_t k = 0; k < 2 && want[i].cols[k]; k++)
            assert_string_equal(dbconn_result_text(c, k, 0), want[i].cols[k]);
        dbconn_result_free(c);
    }
    dbconn_result_free(r);
    /* Only the two tables (and SQLite's own objects) exist. */
    assert_int_equal(
        count(s,
              tu_is_sqlite()
                  ? "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                  : "SELECT count(*) FROM information_schema.tables WHERE "
                    "table_schema = current_schema()",
              NULL, 0),
        2);
    tu_ok(dbconn_commit(s));

    /* The unique index works on the hostile column. */
    char *ddl;
    tu_ok(dbconn_base_ddl(db, b, &ddl));
    assert_non_null(strstr(ddl, "CREATE UNIQUE INDEX IF NOT EXISTS \"unique "
                                "'ix' ; --\" ON \"my table\"\"; DROP TABLE "
                                "victim; --\" (\"e'mail\"\"; --\")"));
    dbconn_free(ddl);
    dbconn_session_close(s);
    tu_ok(dbconn_close(db, b));
    tu_ok(dbconn_base_free(b));
}

/* ---- URLs and options ------------------------------------------------------ */

static void expect_open_fails(const char *url, const dbconn_options *o,
                              int code, const char *frag) {
    dbconn *db = (dbconn *)&db;
    assert_int_equal(dbconn_open(&db, url, o), code);
    assert_null(db);
    assert_clean_msg(frag, 1000);
}

static void test_huge_urls(void **state) {
    (void)state;
    const size_t mb = 1024 * 1024;
    char *u = filled(mb, 'a');
    static const char *const heads[] = {
        "sqlite:////tmp/",            /* a 1 MB path */
        "sqlite://?journal_mode=",    /* a 1 MB option value */
        "sqlite://?",                 /* a 1 MB option key */
        "sqlite://u:hunter2@h/",      /* a password that must stay masked */
        "",                           /* no scheme at all */
    };
    for (size_t i = 0; i < NELEM(heads); i++) {
        memcpy(u, heads[i], strlen(heads[i]));
        expect_open_fails(u, NULL, DBCONN_EURL, "URL is too long");
        assert_null(strstr(dbconn_errmsg(NULL), "hunter2"));
    }
    free(u);
    /* Under the URL limit, a 60 KB option key or value is the option's
     * error. */
    static const struct {
        const char *head, *frag;
    } big[] = {
        {"sqlite://?journal_mode=", "journal_mode"},
        {"sqlite://?pool_size=", "pool_size"},
        {"sqlite://?vfs=", "vfs"},
        {"sqlite://?", "unknown option"},
    };
    for (size_t i = 0; i < NELEM(big); i++) {
        u = filled(60000, 'w');
        memcpy(u, big[i].head, strlen(big[i].head));
        expect_open_fails(u, NULL, DBCONN_EOPTION, big[i].frag);
        free(u);
    }
}

static void test_control_characters_and_bad_utf8_in_urls(void **state) {
    (void)state;
    static const struct {
        const char *url, *frag;
    } bad[] = {
        {"sqlite:////tmp/a\x01" "b.db", "control character 0x01"},
        {"sqlite:////tmp/a.db\n", "control character 0x0A"},
        {"sqlite://?pool_size=5\r\n", "control character 0x0D"},
        {"sqlite://?pool\x7fsize=5", "0x7F"},
        {"sql\x1bite://", "control character 0x1B"},
        {"sqlite:////tmp/\xff\xfe.db", "invalid UTF-8"},
        {"sqlite:////tmp/\xc3.db", "invalid UTF-8"},            /* truncated */
        {"sqlite:////tmp/\xc0\xaf.db", "invalid UTF-8"},        /* overlong / */
        {"sqlite:////tmp/\xed\xa0\x80.db", "invalid UTF-8"},    /* surrogate */
        {"sqlite://?journal_mode=\xff", "invalid UTF-8"},
        {"sqlite:////tmp/a.db?cache=a%00b", "NUL"},
    };
    for (size_t i = 0; i < NELEM(bad); i++)
        expect_open_fails(bad[i].url, NULL, DBCONN_EURL, bad[i].frag);
    assert_int_equal(access("/tmp/a\x01" "b.db", F_OK), -1);
}

static void test_hostile_option_values(void **state) {
    (void)state;
    dbconn_options o = {0};
    char *huge = filled(1024 * 1024, 'z');
    static const char *const keys[] = {"pool_size",    "journal_mode",
                                       "echo",         "isolation_level",
                                       "pool_timeout", "synchronous",
                                       "busy_timeout_ms", "hide_parameters"};
    const char *values[] = {huge,          "wal; DROP TABLE x", "1\n",
                            "5\x01",       "\xff\xfe",          "normal\x1b[2J",
                            "0x10",        "-99999999999999999999", ""};
    for (size_t k = 0; k < NELEM(keys); k++) {
        for (size_t v = 0; v < NELEM(values); v++) {
            int rc = dbconn_options_set(&o, keys[k], values[v]);
            if (rc == 0) /* e.g. "1\n"? no: every value above is invalid */
                fail_msg("option %s accepted the value #%zu", keys[k], v);
            assert_int_equal(rc, DBCONN_EOPTION);
            assert_clean_msg(keys[k], 700);
        }
    }
    /* A hostile key. */
    assert_int_equal(dbconn_options_set(&o, huge, "1"), DBCONN_EOPTION);
    assert_clean_msg("unknown engine option", 700);
    assert_int_equal(dbconn_options_set(&o, "pool_size\n; DROP", "1"),
                     DBCONN_EOPTION);
    assert_clean_msg("\\x0A", 700);
    /* Nothing was stored by the failures. */
    dbconn_options zero = {0};
    assert_memory_equal(&o, &zero, sizeof o);
    /* Struct string options are checked against their fixed sets at open. */
    dbconn_options bad[] = {
        {.journal_mode = "wal; DROP TABLE x"},
        {.journal_mode = huge},
        {.synchronous = "off\n"},
        {.isolation_level = "SERIALIZABLE; --"},
    };
    static const char *const frag[] = {"journal_mode", "journal_mode",
                                       "synchronous", "isolation_level"};
    for (size_t i = 0; i < NELEM(bad); i++)
        expect_open_fails("sqlite://", &bad[i], DBCONN_EOPTION, frag[i]);
    free(huge);
}

/* SQLite URI parameters are validated, so a value cannot add another
 * parameter (vfs, mode) to the URI filename. */
static void test_uri_parameters_cannot_smuggle(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    char url[4400];
    static const struct {
        const char *query, *frag;
    } bad[] = {
        {"?vfs=unix%26mode%3Dro", "\"vfs\""},
        {"?mode=ro%26vfs%3Dmemdb", "\"mode\""},
        {"?cache=shared%26immutable%3D1", "\"cache\""},
        {"?immutable=1%26mode%3Drwc", "\"immutable\""},
        {"?vfs=..%2F..%2Fetc", "\"vfs\""},
    };
    for (size_t i = 0; i < NELEM(bad); i++) {
        snprintf(url, sizeof url, "%s%s", tu_file_url(dir, "x.db"),
                 bad[i].query);
        expect_open_fails(url, NULL, DBCONN_EOPTION, bad[i].frag);
    }
    char path[4300];
    snprintf(path, sizeof path, "%s/x.db", dir);
    assert_int_equal(access(path, F_OK), -1); /* nothing was created */
    tu_rmdir(dir);
}

/* URI metacharacters in a path -- escapes (kept as written, as SQLAlchemy
 * keeps them) and raw '&', '=', '#' -- name a file literally, also when the
 * filename becomes a URI (a SQLite URI parameter is present). */
static void test_path_metacharacters_name_a_file(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    static const char *const query[] = {"", "?cache=private"};
    for (size_t i = 0; i < NELEM(query); i++) {
        char url[4400], path[4400];
        /* The database is the file name as written (not decoded). */
        snprintf(url, sizeof url, "%s%s",
                 tu_file_url(dir, "a%3Fmode%3Dro&mode=ro#c%25d.db"), query[i]);
        dbconn *db;
        dbconn_session *s;
        tu_ok(dbconn_open(&db, url, NULL));
        tu_ok(dbconn_session_open(db, &s));
        tu_ok(dbconn_exec(s, "CREATE TABLE IF NOT EXISTS t (x)", NULL, 0,
                          NULL));
        tu_ok(dbconn_exec(s, "INSERT INTO t VALUES (1)", NULL, 0, NULL));
        tu_ok(dbconn_commit(s));
        dbconn_session_close(s);
        tu_ok(dbconn_close(db, NULL));
        snprintf(path, sizeof path, "%s/a%%3Fmode%%3Dro&mode=ro#c%%25d.db",
                 dir);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_true(st.st_size > 0);
    }
    tu_rmdir(dir);
}

/* ---- savepoints ---------------------------------------------------------------- */

static void test_savepoint_injection_is_refused(void **state) {
    fx *f = *state;
    static const char *const bad[] = {
        "sp; DROP TABLE users; --",
        "sp\"",
        "sp'",
        "sp --",
        "a b",
        "",
        "1sp",
        "sp\n",
        "\xc3\xa9t\xc3\xa9",
        "sp/**/",
        "sp)",
        "0123456789012345678901234567890123456789012345678901234567890123x",
    };
    tu_ok(dbconn_exec(f->s, "INSERT INTO users (name) VALUES ('kept')", NULL, 0,
                      NULL));
    for (size_t i = 0; i < NELEM(bad); i++) {
        assert_int_equal(dbconn_savepoint(f->s, bad[i]), DBCONN_EINVAL);
        assert_clean_msg("bad savepoint name", 400);
        assert_int_equal(dbconn_savepoint_release(f->s, bad[i]),
                         DBCONN_EINVAL);
        assert_int_equal(dbconn_savepoint_rollback(f->s, bad[i]),
                         DBCONN_EINVAL);
    }
    assert_int_equal(dbconn_savepoint(f->s, NULL), DBCONN_EINVAL);
    /* The refusals ran no SQL: the transaction is still usable. */
    assert_true(dbconn_in_transaction(f->s));
    tu_ok(dbconn_commit(f->s));
    assert_int_equal(tables_named(f->s, "users"), 1);
    assert_int_equal(count(f->s, "SELECT count(*) FROM users WHERE name = "
                                 "'kept'", NULL, 0),
                     1);
    tu_ok(dbconn_commit(f->s));
}

/* A name made of letters, digits and '_' is valid even when it is an SQL
 * keyword, reserved ones included; it must work (the library quotes it). */
static void test_savepoint_named_like_a_keyword(void **state) {
    fx *f = *state;
    static const char *const names[] = {"release", "savepoint", "rollback",
                                        "end",     "select",    "transaction",
                                        "to",      "table",     "x_1",
                                        "_"};
    for (size_t i = 0; i < NELEM(names); i++) {
        tu_ok(dbconn_exec(f->s, "INSERT INTO users (name) VALUES (?)",
                          DBCONN_PARAMS(DBCONN_TEXT(names[i])), NULL));
        tu_ok(dbconn_savepoint(f->s, names[i]));
        tu_ok(dbconn_exec(f->s, "INSERT INTO users (name) VALUES ('undone')",
                          NULL, 0, NULL));
        tu_ok(dbconn_savepoint_rollback(f->s, names[i]));
        tu_ok(dbconn_savepoint_release(f->s, names[i]));
        tu_ok(dbconn_commit(f->s));
    }
    assert_int_equal(count(f->s, "SELECT count(*) FROM users", NULL, 0),
                     (int64_t)NELEM(names));
    tu_ok(dbconn_commit(f->s));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_parameter_values_round_trip_as_data,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_parameter_with_nul_bytes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stacked_statements_are_refused,
                                        setup, teardown),
        tu_test(test_echo_escapes_hostile_values),
        tu_test(test_hostile_index_names_round_trip),
        tu_test(test_huge_urls),
        tu_test(test_control_characters_and_bad_utf8_in_urls),
        tu_test(test_hostile_option_values),
        tu_test(test_uri_parameters_cannot_smuggle),
        tu_test(test_path_metacharacters_name_a_file),
        cmocka_unit_test_setup_teardown(test_savepoint_injection_is_refused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_savepoint_named_like_a_keyword,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
