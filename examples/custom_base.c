/*
 * custom_base — one base model per database.
 *
 * The Python original allows `await db.init_db(CustomBase)`; here two custom
 * bases are bound at once to two in-memory databases, each base with its
 * own model, and each base hands out sessions of its own database:
 *
 *   catalog = dbconn_base_new()  + products  -> bound to the catalog engine
 *   audit   = dbconn_base_new()  + events    -> bound to the audit engine
 *
 * The engines carry a logging_name each, and the shop's runs a pragma on
 * every pooled connection (pragma.cache_size).
 *
 * Build: part of the examples (cmake); run: ./custom_base
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <dbconn.h>

typedef struct product {
    int64_t id;
    char *name;
    double price;
} product;

static const dbconn_column product_columns[] = {
    {.name = "id", .type = DBCONN_TYPE_INTEGER,
     .flags = DBCONN_PRIMARY_KEY | DBCONN_AUTOINCREMENT,
     .offset = offsetof(product, id)},
    {.name = "name", .type = DBCONN_TYPE_TEXT,
     .flags = DBCONN_NOT_NULL | DBCONN_UNIQUE | DBCONN_INDEXED,
     .offset = offsetof(product, name)},
    {.name = "price", .type = DBCONN_TYPE_REAL, .flags = DBCONN_NOT_NULL,
     .default_literal = "0", .offset = offsetof(product, price)},
};
static const dbconn_model product_model = {
    .table = "products",
    .columns = product_columns,
    .ncolumns = sizeof product_columns / sizeof *product_columns,
    .struct_size = sizeof(product),
};

typedef struct event {
    int64_t id;
    char *what;
    char *at;
} event;

static const dbconn_column event_columns[] = {
    {.name = "id", .type = DBCONN_TYPE_INTEGER, .flags = DBCONN_PRIMARY_KEY,
     .offset = offsetof(event, id)},
    {.name = "what", .type = DBCONN_TYPE_TEXT, .flags = DBCONN_NOT_NULL,
     .offset = offsetof(event, what)},
    {.name = "at", .type = DBCONN_TYPE_TIMESTAMP,
     .default_sql = "CURRENT_TIMESTAMP", .offset = offsetof(event, at)},
};
static const dbconn_model event_model = {
    .table = "events",
    .columns = event_columns,
    .ncolumns = sizeof event_columns / sizeof *event_columns,
    .struct_size = sizeof(event),
};

static int fail(const char *what, int rc) {
    fprintf(stderr, "custom_base: %s: %s (%s)\n", what, dbconn_errmsg(NULL),
            dbconn_err_name(rc));
    return 1;
}

/* Writes one row through the base's session and commits. */
static int insert(dbconn_base *base, const char *sql, const dbconn_value *p,
                  size_t np) {
    dbconn_session *s;
    int rc = dbconn_base_session(base, &s);
    if (rc == 0)
        rc = dbconn_exec(s, sql, p, np, NULL);
    if (rc == 0)
        rc = dbconn_commit(s);
    return rc;
}

/* Prints every row of `sql` read through the base's session. */
static int show(dbconn_base *base, const char *label, const char *sql) {
    dbconn_session *s;
    dbconn_result *r = NULL;
    int rc = dbconn_base_session(base, &s);
    if (rc == 0)
        rc = dbconn_exec(s, sql, NULL, 0, &r);
    if (rc == 0)
        rc = dbconn_commit(s);
    if (rc != 0)
        return rc;
    printf("%s (%s):\n", label, dbconn_url_string(dbconn_session_db(s)));
    for (size_t i = 0; i < dbconn_result_nrows(r); i++) {
        printf(" ");
        for (size_t c = 0; c < dbconn_result_ncols(r); c++) {
            const char *name = dbconn_result_colname(r, c);
            const char *v = dbconn_result_text(r, i, c);
            switch (dbconn_result_type(r, i, c)) {
            case DBCONN_TYPE_REAL:
                printf(" %s=%.2f", name, dbconn_result_real(r, i, c));
                break;
            case DBCONN_TYPE_INTEGER:
                printf(" %s=%lld", name, (long long)dbconn_result_int(r, i, c));
                break;
            default:
                printf(" %s=%s", name, v ? v : "NULL");
            }
        }
        printf("\n");
    }
    dbconn_result_free(r);
    return 0;
}

/* The database: argv[1], else $DATABASE_URL, else the example's own. */
static const char *database_url(int argc, char **argv, const char *own) {
    const char *env = getenv("DATABASE_URL");
    if (argc > 1 && argv[1][0])
        return argv[1];
    return env && *env ? env : own;
}

/* A server keeps its tables between runs: the example starts without
 * them (DROP TABLE IF EXISTS, a no-op in a new SQLite database). */
static int drop_tables(dbconn *db, const char *const *tables, size_t n) {
    dbconn_session *s;
    int rc = dbconn_session_open(db, &s);
    char sql[128];
    for (size_t i = 0; i < n && !rc; i++) {
        snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s", tables[i]);
        rc = dbconn_exec(s, sql, NULL, 0, NULL);
    }
    if (!rc)
        rc = dbconn_commit(s);
    dbconn_session_close(s);
    return rc;
}

/* ./custom_base [URL]: two private in-memory databases unless a URL is
 * given; then both engines open it (on a server: the same database, so
 * the audit engine sees the catalog's table too). */
int main(int argc, char **argv) {
    static const char *const tables[] = {"products", "events"};
    const char *url = database_url(argc, argv, NULL);
    dbconn_base *catalog = NULL, *audit = NULL;
    dbconn *shop = NULL, *log = NULL;
    int rc, status = 1;

    if ((rc = dbconn_base_new(&catalog)) || (rc = dbconn_base_new(&audit))) {
        status = fail("dbconn_base_new", rc);
        goto out;
    }
    if ((rc = dbconn_base_add(catalog, &product_model)) ||
        (rc = dbconn_base_add(audit, &event_model))) {
        status = fail("dbconn_base_add", rc);
        goto out;
    }
    /* Two engines, each its own private in-memory database (or, given a
     * URL, the same server database).  The shop's is named in its log
     * lines (logging_name) and, on SQLite, runs a pragma on every pooled
     * connection (pragma.NAME; the URL could say ?pragma.cache_size=-8000
     * too).  Values set by name that are copied are released with
     * dbconn_options_clear once dbconn_open has run. */
    dbconn_options o = {0};
    if ((rc = dbconn_options_set(&o, "logging_name", "shop")) ||
        (!url && (rc = dbconn_options_set(&o, "pragma.cache_size", "-8000"))) ||
        (rc = dbconn_open(&shop, url ? url : "sqlite://", &o)) ||
        (rc = dbconn_open(&log, url ? url
                                    : "sqlite+aiosqlite://?logging_name=audit",
                          NULL)) ||
        (rc = drop_tables(shop, tables, 2))) {
        dbconn_options_clear(&o);
        status = fail("dbconn_open", rc);
        goto out;
    }
    dbconn_options_clear(&o);
    if ((rc = dbconn_init_db(shop, catalog)) ||
        (rc = dbconn_init_db(log, audit))) {
        status = fail("dbconn_init_db", rc);
        goto out;
    }
    printf("catalog base bound: %s, audit base bound: %s\n",
           dbconn_base_bound(catalog) == shop ? "yes" : "no",
           dbconn_base_bound(audit) == log ? "yes" : "no");

    /* A base cannot serve two databases at once: */
    rc = dbconn_init_db(log, catalog);
    printf("binding the catalog base to the second engine: %s\n  %s\n",
           dbconn_err_name(rc), dbconn_errmsg(NULL));

    if ((rc = insert(catalog, "INSERT INTO products (name, price) VALUES (?, ?)",
                     DBCONN_PARAMS(DBCONN_TEXT("teapot"), DBCONN_REAL(24.5)))) ||
        (rc = insert(catalog, "INSERT INTO products (name) VALUES (?)",
                     DBCONN_PARAMS(DBCONN_TEXT("sample")))) ||
        (rc = insert(audit, "INSERT INTO events (what) VALUES (?)",
                     DBCONN_PARAMS(DBCONN_TEXT("added 2 products"))))) {
        status = fail("insert", rc);
        goto out;
    }
    if ((rc = show(catalog, "products", "SELECT id, name, price FROM products "
                                        "ORDER BY id")) ||
        (rc = show(audit, "events", "SELECT id, what FROM events"))) {
        status = fail("select", rc);
        goto out;
    }
    /* Each in-memory database has only its own base's table (a query of
     * the other's fails: no such table). */
    dbconn_session *s;
    if ((rc = dbconn_base_session(audit, &s))) {
        status = fail("check", rc);
        goto out;
    }
    int has = dbconn_exec(s, "SELECT 1 FROM products LIMIT 1", NULL, 0,
                          NULL) == 0;
    printf("audit database has a products table: %s\n", has ? "yes" : "no");
    dbconn_rollback(s);
    if (has != (url != NULL)) {
        fprintf(stderr, "FAIL: expected %s products table there\n",
                url ? "the shared" : "no");
        goto out;
    }
    /* The shop's SQLite connections run PRAGMA cache_size=-8000 when they
     * open. */
    dbconn_result *r = NULL;
    if (!url) {
        if ((rc = dbconn_base_session(catalog, &s)) ||
            (rc = dbconn_exec(s, "PRAGMA cache_size", NULL, 0, &r)) ||
            dbconn_result_int(r, 0, 0) != -8000) {
            dbconn_result_free(r);
            status = fail("pragma.cache_size", rc ? rc : DBCONN_EDB);
            goto out;
        }
        printf("shop connections' cache_size: %lld\n",
               (long long)dbconn_result_int(r, 0, 0));
        dbconn_result_free(r);
        dbconn_commit(s);
    }
    status = 0;

out:
    /* dbconn_close unbinds the bases bound to each engine (and closes the
     * scoped sessions they handed out); then the bases can be freed. */
    if (shop) {
        dbconn_scoped_remove(shop);
        dbconn_close(shop, catalog);
    }
    if (log) {
        dbconn_scoped_remove(log);
        dbconn_close(log, audit);
    }
    if (status == 0)
        printf("after close, catalog bound: %s, session: %s\n",
               dbconn_base_bound(catalog) ? "yes" : "no",
               dbconn_err_name(dbconn_base_session(catalog, &s)));
    dbconn_base_free(catalog);
    dbconn_base_free(audit);
    return status;
}
