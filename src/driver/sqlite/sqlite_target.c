/* SQLite driver, engine level: URL + options -> what sqlite3_open_v2 gets. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "driver/sqlite/sqlite_conn.h"
#include "driver/sqlite/sqlite_pragma.h"
#include "driver/sqlite/sqlite_target.h"
#include "util/editdist.h"
#include "util/text.h"
#include "url/url.h"

/* URI parameters SQLite itself understands; passed through when given. */
static const char *const uri_params[] = {"mode", "cache", "immutable",
                                         "nolock", "psow", "vfs", NULL};

static bool is_uri_param(const char *key) {
    for (const char *const *p = uri_params; *p; p++)
        if (strcmp(*p, key) == 0)
            return true;
    return false;
}

static bool parse_bool(const char *v, bool *out) {
    int b = dbc_parse_bool(v);
    if (b >= 0)
        *out = b == 1;
    return b >= 0;
}

static bool one_of(const char *v, const char *const *set) {
    for (; *set; set++)
        if (strcmp(v, *set) == 0)
            return true;
    return false;
}

/* An unknown key, with the nearest sqlite or engine option suggested. */
static int unknown_key(const char *key, const dbc_config *cfg) {
    static const char *const own[] = {"uri", "check_same_thread", "memdb", NULL};
    char k[80], hint[96] = "";
    const char *best = NULL;
    size_t dist = SIZE_MAX;
    for (const char *const *p = uri_params; *p; p++)
        dbc_nearest_step(key, *p, &best, &dist);
    for (const char *const *p = own; *p; p++)
        dbc_nearest_step(key, *p, &best, &dist);
    if (cfg->suggest)
        cfg->suggest(key, &best, &dist);
    if (best)
        (void)snprintf(hint, sizeof hint, " (did you mean \"%s\"?)", best);
    return dbc_fail(DBCONN_EOPTION,
                    "unknown option \"%s\"%s: not an engine option and not a "
                    "sqlite driver option (mode, cache, immutable, nolock, "
                    "psow, vfs, uri, check_same_thread, memdb, pragma.NAME)",
                    dbc_show(key, k, sizeof k), hint);
}

/* Validates one driver option; values of URI parameters go to SQLite
 * verbatim (percent-encoded), so they are checked against fixed sets. */
static int check_param(const dbc_qparam *p, const dbc_config *cfg,
                       bool *uri) {
    static const char *const modes[] = {"ro", "rw", "rwc", "memory", NULL};
    static const char *const caches[] = {"shared", "private", NULL};
    bool b;
    if (strcmp(p->key, "uri") == 0) {
        if (!parse_bool(p->value, uri))
            goto bad_bool;
        return 0;
    }
    if (strcmp(p->key, "memdb") == 0) {
        if (!parse_bool(p->value, &b))
            goto bad_bool;
        return 0;
    }
    if (strcmp(p->key, "check_same_thread") == 0) {
        /* pysqlite's; meaningless here (a connection serves one job at a
         * time), accepted so URLs written for SQLAlchemy keep working. */
        if (!parse_bool(p->value, &b))
            goto bad_bool;
        return 0;
    }
    if (strcmp(p->key, "mode") == 0 && !one_of(p->value, modes))
        return dbc_fail(DBCONN_EOPTION,
                        "sqlite option \"mode\": bad value \"%.64s\" "
                        "(expected ro, rw, rwc or memory)",
                        p->value);
    if (strcmp(p->key, "cache") == 0 && !one_of(p->value, caches))
        return dbc_fail(DBCONN_EOPTION,
                        "sqlite option \"cache\": bad value \"%.64s\" "
                        "(expected shared or private)",
                        p->value);
    if ((strcmp(p->key, "immutable") == 0 || strcmp(p->key, "nolock") == 0 ||
         strcmp(p->key, "psow") == 0) &&
        !parse_bool(p->value, &b))
        goto bad_bool;
    if (strcmp(p->key, "vfs") == 0) {
        size_t n = strspn(p->value, "abcdefghijklmnopqrstuvwxyz"
                                    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
        if (n == 0 || p->value[n] != '\0' || n > 64)
            return dbc_fail(DBCONN_EOPTION,
                            "sqlite option \"vfs\": bad value \"%.64s\" "
                            "(letters, digits, '_' and '-' only)",
                            p->value);
    }
    if (is_uri_param(p->key))
        return 0;
    return unknown_key(p->key, cfg);
bad_bool:
    return dbc_fail(DBCONN_EOPTION,
                    "sqlite option \"%s\": bad value \"%.64s\" (expected a "
                    "boolean: true/false, 1/0, yes/no, on/off)",
                    p->key, p->value);
}

/* Appends `s` percent-encoding what a URI filename cannot hold literally. */
static void put_uri_encoded(dbc_buf *b, const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '%' || c == '?' || c == '#' || c == '&' || c == '=' ||
            c <= 0x20 || c >= 0x7f)
            dbc_buf_printf(b, "%%%02X", c);
        else
            dbc_buf_putc(b, (char)c);
    }
}

static void put_bool_param(dbc_buf *b, const dbc_qparam *p) {
    bool v = false;
    parse_bool(p->value, &v);
    dbc_buf_printf(b, "%s=%d", p->key, v ? 1 : 0);
}

/* The per-engine memdb name, or ":memory:" under memdb=false; URI
 * parameters other than cache= mean nothing there. */
static int memory_filename(dbc_target *t, dbc_buf *b, const dbc_qparam *q,
                           size_t nq) {
    for (size_t i = 0; i < nq; i++)
        if (is_uri_param(q[i].key) &&
            (strcmp(q[i].key, "cache") != 0 || t->plain_memory))
            return dbc_fail(DBCONN_EOPTION,
                            "sqlite option \"%s\" has no meaning for an "
                            "in-memory database%s",
                            q[i].key,
                            t->plain_memory ? " with memdb=false" : "");
    if (t->plain_memory) { /* the anchor's own private database */
        dbc_buf_puts(b, ":memory:");
        return 0;
    }
    /* A name unique among live engines: the pid and this target's address
     * (the memdb vanishes with its last connection, before the address can
     * be reused).  The leading '/' shares it between the engine's
     * connections. */
    dbc_buf_printf(b, "file:/dbconn-%ld-%p?vfs=memdb", (long)getpid(),
                   (void *)t);
    t->flags |= SQLITE_OPEN_URI;
    return 0;
}

/* Appends the URI parameters of q after `sep` ('?' or '&'); `raw`: the
 * values as given, percent-encoded (the database part was a URI), else
 * the mode/cache/vfs words as they are and the booleans as 0/1. */
static void put_uri_params(dbc_buf *b, char sep, const dbc_qparam *q,
                           size_t nq, bool raw) {
    for (size_t i = 0; i < nq; i++) {
        if (!is_uri_param(q[i].key))
            continue;
        dbc_buf_putc(b, sep);
        sep = '&';
        if (raw) {
            dbc_buf_puts(b, q[i].key);
            dbc_buf_putc(b, '=');
            put_uri_encoded(b, q[i].value);
        } else if (strcmp(q[i].key, "mode") == 0 ||
                   strcmp(q[i].key, "cache") == 0 ||
                   strcmp(q[i].key, "vfs") == 0) {
            dbc_buf_printf(b, "%s=%s", q[i].key, q[i].value);
        } else {
            put_bool_param(b, &q[i]);
        }
    }
}

/* A path: absolute (a relative one resolved against the working
 * directory), made a "file:" URI when SQLite URI parameters were given. */
static int path_filename(dbc_target *t, dbc_buf *b, const char *db,
                         const dbc_qparam *q, size_t nq) {
    char cwd[PATH_MAX];
    bool relative = db[0] != '/';
    size_t nuri = 0;
    for (size_t i = 0; i < nq; i++)
        nuri += is_uri_param(q[i].key);
    if (relative && !getcwd(cwd, sizeof cwd))
        return dbc_fail(DBCONN_EURL,
                        "cannot resolve relative sqlite path \"%s\": the "
                        "working directory is not accessible",
                        db);
    if (!nuri) {
        if (relative)
            dbc_buf_printf(b, "%s/", cwd);
        dbc_buf_puts(b, db);
        return 0;
    }
    dbc_buf_puts(b, "file:");
    if (relative) {
        put_uri_encoded(b, cwd);
        dbc_buf_putc(b, '/');
    }
    put_uri_encoded(b, db);
    put_uri_params(b, '?', q, nq, false);
    t->flags |= SQLITE_OPEN_URI;
    return 0;
}

/* Builds the filename: a plain absolute path, or a URI when SQLite URI
 * parameters were given (or uri=true), or the per-engine memdb name. */
static int build_filename(dbc_target *t, const dbconn_url *url,
                          const dbc_qparam *q, size_t nq, bool uri) {
    dbc_buf b = DBC_BUF_INIT;
    const char *db = dbconn_url_database(url);
    int rc = 0;
    if (t->memory) {
        rc = memory_filename(t, &b, q, nq);
    } else if (uri) { /* the database part is already a URI ("file:path") */
        dbc_buf_puts(&b, db);
        put_uri_params(&b, strchr(db, '?') ? '&' : '?', q, nq, true);
        t->flags |= SQLITE_OPEN_URI;
    } else {
        rc = path_filename(t, &b, db, q, nq);
    }
    if (rc) {
        dbc_buf_free(&b);
        return rc;
    }
    t->filename = dbc_buf_take(&b);
    return t->filename ? 0 : dbc_nomem();
}

static int check_config(dbc_target *t, const dbc_config *cfg) {
    const char *iso = cfg->isolation_level;
    if (iso && strcmp(iso, "SERIALIZABLE") != 0 &&
        strcmp(iso, "READ UNCOMMITTED") != 0 && !cfg->autocommit)
        return dbc_fail(DBCONN_EOPTION,
                        "option \"isolation_level\": \"%s\" is not supported "
                        "by sqlite (SERIALIZABLE, READ UNCOMMITTED or "
                        "AUTOCOMMIT)",
                        iso);
    t->read_uncommitted = iso && strcmp(iso, "READ UNCOMMITTED") == 0;
    if (t->memory && cfg->journal_mode && strcmp(cfg->journal_mode, "wal") == 0)
        return dbc_fail(DBCONN_EOPTION,
                        "option \"journal_mode\": \"wal\" is not available "
                        "for an in-memory database");
    int rc = dbc_sqlite_pragma_script(cfg->pragmas, &t->pragmas);
    if (rc)
        return rc;
    t->busy_timeout_ms = cfg->busy_timeout_ms;
    t->foreign_keys = cfg->foreign_keys;
    t->synchronous = cfg->synchronous;
    t->journal_mode = cfg->journal_mode;
    if (!t->journal_mode && !t->memory)
        t->journal_mode = "wal"; /* readers never wait for the writer */
    /* memdb keeps its journal in memory already; setting it would take a
     * lock for every new connection. */
    return 0;
}

/* memdb=false: a plain ":memory:" database instead of the memdb VFS.  It
 * is one connection's own, so it is offered only to an engine whose pool
 * holds one connection: its sessions take turns on it, each transaction
 * isolated by having the database to itself. */
static int check_memdb(dbc_target *t, const dbc_config *cfg,
                       const dbc_qparam *q, size_t nq) {
    bool memdb = true;
    const char *given = NULL;
    for (size_t i = 0; i < nq; i++)
        if (strcmp(q[i].key, "memdb") == 0) {
            given = q[i].value;
            (void)parse_bool(given, &memdb); /* checked by check_param */
        }
    if (!given)
        return 0;
    if (!t->memory)
        return dbc_fail(DBCONN_EOPTION,
                        "sqlite option \"memdb\": only an in-memory database "
                        "(sqlite://) has a choice of VFS; this URL names a "
                        "file");
    if (memdb)
        return 0;
    if (cfg->pool_size < 0 || cfg->max_overflow < 0 ||
        cfg->pool_size + cfg->max_overflow > 1)
        return dbc_fail(DBCONN_EOPTION,
                        "sqlite option \"memdb\": false (a plain :memory: "
                        "database, one connection's own) needs a pool of one "
                        "connection: pool_size=1 and max_overflow=0 (this "
                        "engine's pool could hold %s: pool_size %d, "
                        "max_overflow %d)",
                        cfg->pool_size < 0 || cfg->max_overflow < 0
                            ? "any number"
                            : "more than one",
                        cfg->pool_size, cfg->max_overflow);
    t->plain_memory = true;
    return 0;
}

static bool is_wal(const dbc_target *t) {
    return t->journal_mode && strcmp(t->journal_mode, "wal") == 0;
}

/* See dbc_target.anchor.  Setting it up switches a WAL file to WAL; a
 * first read then opens the WAL and its index for good (switching a new
 * file does not).  It waits for other processes' locks with SQLite's own
 * busy handler (it is no pooled connection). */
static int open_anchor(dbc_target *t) {
    int rc = dbc_sqlite_open(t, &t->anchor);
    if (rc)
        return rc;
    sqlite3_busy_timeout(t->anchor, t->busy_timeout_ms);
    if ((rc = dbc_sqlite_setup(t, t->anchor)) != 0 || t->memory)
        return rc;
    static const char read[] = "PRAGMA schema_version";
    int src = sqlite3_exec(t->anchor, read, NULL, NULL, NULL);
    return src == SQLITE_OK ? 0 : dbc_sqlite_fail(t->anchor, src, read);
}

int dbc_sqlite_target_open(dbc_target **out, const dbconn_url *url,
                           const dbc_config *cfg, const dbc_qparam *q,
                           size_t nq) {
    *out = NULL;
    if (sqlite3_threadsafe() == 0)
        return dbc_fail(DBCONN_ENODRIVER,
                        "this SQLite library was built without thread safety "
                        "(SQLITE_THREADSAFE=0); libdbconn needs a thread-safe "
                        "build");
    bool uri = false;
    for (size_t i = 0; i < nq; i++) {
        int rc = check_param(&q[i], cfg, &uri);
        if (rc)
            return rc;
    }
    dbc_target *t = dbc_calloc(1, sizeof *t);
    if (!t)
        return dbc_nomem();
    t->memory = dbc_url_is_memory(url);
    t->flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
               SQLITE_OPEN_NOMUTEX;
    int rc = check_config(t, cfg);
    if (!rc)
        rc = check_memdb(t, cfg, q, nq);
    if (!rc)
        rc = build_filename(t, url, q, nq, uri);
    if (!rc && (t->memory || is_wal(t)))
        rc = open_anchor(t);
    if (rc) {
        dbc_sqlite_target_close(t);
        return rc;
    }
    *out = t;
    return 0;
}

void dbc_sqlite_target_close(dbc_target *t) {
    if (!t)
        return;
    /* The last connection: checkpoint and delete the WAL as it closes. */
    if (t->anchor)
        sqlite3_db_config(t->anchor, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0,
                          (int *)NULL);
    sqlite3_close_v2(t->anchor);
    dbc_free(t->pragmas);
    dbc_free(t->filename);
    dbc_free(t);
}
