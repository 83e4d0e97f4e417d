/* PostgreSQL driver, engine level: the URL and the options become the
 * keyword/value arrays of PQconnectdbParams (every value passed as a value,
 * never pasted into a conninfo string), after every key and value was
 * checked: libpq's own keywords pass, sqlite's options and the engine
 * options that mean nothing on a server are refused naming the engine. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/alloc.h"
#include "util/buf.h"
#include "util/editdist.h"
#include "driver/postgres/pg_int.h"
#include "url/url.h"
#include "url/url_render.h"
#include "util/text.h"

/* Connection settings every connection gets (startup options, so they cost
 * no round trip): timestamps read back as written in UTC, dates as ISO,
 * doubles exact, bytea in hex, backslashes in '...' literal (what the
 * placeholder scanner assumes). */
static const char BASE_OPTIONS[] =
    "-c TimeZone=UTC -c DateStyle=ISO,YMD -c extra_float_digits=3 "
    "-c bytea_output=hex -c standard_conforming_strings=on";

/* ---- building the arrays ------------------------------------------------ */

/* Keeps s (owned from now on) in the target; false without memory. */
static bool keep(dbc_target *t, char *s) {
    if (!s)
        return false;
    char **n = dbc_realloc(t->strings, (t->nstrings + 1) * sizeof *n);
    if (!n) {
        dbc_free(s);
        return false;
    }
    t->strings = n;
    t->strings[t->nstrings++] = s;
    return true;
}

/* Appends keyword = value (both copied); DBCONN_ENOMEM on failure. */
static int add(dbc_target *t, const char *key, const char *value) {
    char *kc = dbc_strdup(key), *vc = NULL;
    if (!keep(t, kc) || !keep(t, vc = dbc_strdup(value)))
        return dbc_nomem();
    const char **k = dbc_realloc(t->keys, (t->nkeys + 2) * sizeof *k);
    if (!k)
        return dbc_nomem();
    t->keys = k;
    const char **v = dbc_realloc(t->values, (t->nkeys + 2) * sizeof *v);
    if (!v)
        return dbc_nomem();
    t->values = v;
    t->keys[t->nkeys] = kc;
    t->values[t->nkeys] = vc;
    t->nkeys++;
    t->keys[t->nkeys] = NULL;
    t->values[t->nkeys] = NULL;
    return 0;
}

/* ---- keys --------------------------------------------------------------- */

static bool in_set(const char *v, const char *const *set) {
    for (; *set; set++)
        if (strcmp(v, *set) == 0)
            return true;
    return false;
}

static const char *const sqlite_keys[] = {
    "mode", "cache", "immutable", "nolock", "psow", "vfs", "uri",
    "check_same_thread", NULL};

/* Keywords this driver sets itself or refuses. */
static const char *const managed_keys[] = {"host", "port", "options",
                                           "client_encoding", NULL};

typedef struct enum_key {
    const char *key;
    const char *const values[8];
} enum_key;

static const enum_key enum_keys[] = {
    {"sslmode",
     {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}},
    {"target_session_attrs",
     {"any", "read-write", "read-only", "primary", "standby",
      "prefer-standby"}},
    {"gssencmode", {"disable", "prefer", "require"}},
    {"channel_binding", {"disable", "prefer", "require"}},
    {"sslcompression", {"0", "1"}},
    {"sslsni", {"0", "1"}},
};

static const char *const int_keys[] = {
    "connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
    "keepalives_count", "tcp_user_timeout", NULL};

static int check_enum(const dbc_qparam *p, const enum_key *e) {
    char list[200] = "";
    size_t n = 0;
    for (int i = 0; i < 8 && e->values[i]; i++) {
        if (strcmp(p->value, e->values[i]) == 0)
            return 0;
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "",
                              e->values[i]);
    }
    char v[80];
    return dbc_fail(DBCONN_EOPTION,
                    "postgresql option \"%s\": invalid value \"%s\" (expected "
                    "one of %s)",
                    p->key, dbc_show(p->value, v, sizeof v), list);
}

static int check_int(const dbc_qparam *p) {
    const char *s = p->value;
    size_t n = strspn(s, "0123456789");
    char v[80];
    if (n == 0 || s[n] || n > 9)
        return dbc_fail(DBCONN_EOPTION,
                        "postgresql option \"%s\": invalid value \"%s\" "
                        "(expected a non-negative decimal integer)",
                        p->key, dbc_show(s, v, sizeof v));
    return 0;
}

/* True when libpq knows `key` as a connection keyword. */
static bool libpq_knows(const PQconninfoOption *opts, const char *key) {
    for (const PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, key) == 0)
            return true;
    return false;
}

static int refuse_secret(const dbc_qparam *p) {
    return dbc_fail(DBCONN_EOPTION,
                    "postgresql option \"%s\" is refused in a URL query: it "
                    "would be shown wherever the URL is (dbconn_url_string, "
                    "echo, errors); put the password in the URL "
                    "(postgresql://user:password@host/db), where it is "
                    "masked, or in a passfile",
                    p->key);
}

/* Checks a query key the engine did not take. */
/* An unknown key, with the nearest libpq keyword or engine option
 * suggested. */
static int unknown_key(const char *key, const PQconninfoOption *opts,
                       const dbc_config *cfg) {
    char k[80], hint[96] = "";
    const char *best = NULL;
    size_t dist = SIZE_MAX;
    for (const PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, "password") != 0 &&
            strcmp(o->keyword, "sslpassword") != 0)
            dbc_nearest_step(key, o->keyword, &best, &dist);
    for (const char *const *m = managed_keys; *m; m++)
        dbc_nearest_step(key, *m, &best, &dist);
    if (cfg->suggest)
        cfg->suggest(key, &best, &dist);
    if (best)
        (void)snprintf(hint, sizeof hint, " (did you mean \"%s\"?)", best);
    return dbc_fail(DBCONN_EOPTION,
                    "unknown option \"%s\"%s: not an engine option and not a "
                    "libpq connection keyword (e.g. sslmode, connect_timeout, "
                    "application_name, target_session_attrs, options)",
                    dbc_show(key, k, sizeof k), hint);
}

static int check_key(const dbc_qparam *p, const PQconninfoOption *opts,
                     const dbconn_url *url, const dbc_config *cfg) {
    if (in_set(p->key, sqlite_keys))
        return dbc_fail(DBCONN_EOPTION,
                        "sqlite option \"%s\" does not apply to postgresql",
                        p->key);
    if (strcmp(p->key, "password") == 0 || strcmp(p->key, "sslpassword") == 0)
        return refuse_secret(p);
    if (strcmp(p->key, "replication") == 0)
        return dbc_fail(DBCONN_EOPTION,
                        "postgresql option \"replication\" is not supported: "
                        "libdbconn runs SQL, not the replication protocol");
    if ((strcmp(p->key, "user") == 0 && dbconn_url_username(url)) ||
        (strcmp(p->key, "dbname") == 0 && dbconn_url_database(url) &&
         dbconn_url_database(url)[0]))
        return dbc_fail(DBCONN_EOPTION,
                        "postgresql option \"%s\" is given twice: in the URL "
                        "and in its query; keep one",
                        p->key);
    if (strcmp(p->key, "client_encoding") == 0) {
        if (strcasecmp(p->value, "UTF8") == 0 ||
            strcasecmp(p->value, "UTF-8") == 0)
            return 0;
        return dbc_fail(DBCONN_EOPTION,
                        "postgresql option \"client_encoding\": only UTF8 is "
                        "supported (libdbconn's text is UTF-8)");
    }
    for (size_t i = 0; i < sizeof enum_keys / sizeof *enum_keys; i++)
        if (strcmp(p->key, enum_keys[i].key) == 0)
            return check_enum(p, &enum_keys[i]);
    if (in_set(p->key, int_keys))
        return check_int(p);
    if (in_set(p->key, managed_keys) || libpq_knows(opts, p->key))
        return 0;
    return unknown_key(p->key, opts, cfg);
}

/* ---- hosts -------------------------------------------------------------- */

static int bad_host(const char *h, const char *why) {
    char v[80];
    return dbc_fail(DBCONN_EOPTION, "postgresql option \"host\": \"%s\": %s",
                    dbc_show(h, v, sizeof v), why);
}

static int check_port(const char *h, const char *port, size_t n) {
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (port[i] < '0' || port[i] > '9')
            return bad_host(h, "the port must be a decimal number 1-65535");
        v = v * 10 + (port[i] - '0');
        if (v > 65535)
            break;
    }
    if (n == 0 || v < 1 || v > 65535)
        return bad_host(h, "the port must be a decimal number 1-65535");
    return 0;
}

/* One entry of ?host=: "name", "name:port", "[v6]", "[v6]:port" or a
 * socket directory "/dir".  Appends the host to hosts and its port (or
 * `dflt`, which may be "") to ports. */
static int add_host(const char *h, size_t len, const char *dflt,
                    dbc_buf *hosts, dbc_buf *ports) {
    char *e = dbc_strndup(h, len);
    if (!e)
        return dbc_nomem();
    const char *name = e, *port = NULL;
    size_t nlen = len;
    int rc = 0;
    if (len == 0) {
        rc = bad_host(e, "empty host in the list");
    } else if (e[0] == '/') {
        /* a directory: taken whole */
    } else if (e[0] == '[') {
        char *close = strchr(e, ']');
        if (!close)
            rc = bad_host(e, "unterminated '[' (an IPv6 address is [addr])");
        else if (close[1] && close[1] != ':')
            rc = bad_host(e, "expected ':port' after ']'");
        else {
            name = e + 1;
            nlen = (size_t)(close - e - 1);
            port = close[1] ? close + 2 : NULL;
        }
    } else {
        char *colon = strchr(e, ':');
        if (colon && strchr(colon + 1, ':'))
            rc = bad_host(e, "an IPv6 address must be in brackets: [::1]:5432");
        else if (colon) {
            nlen = (size_t)(colon - e);
            port = colon + 1;
        }
    }
    if (!rc && port)
        rc = check_port(e, port, strlen(port));
    if (!rc) {
        if (hosts->len)
            dbc_buf_putc(hosts, ',');
        dbc_buf_append(hosts, name, nlen);
        if (hosts->len > nlen) /* not the first host */
            dbc_buf_putc(ports, ',');
        dbc_buf_puts(ports, port ? port : dflt);
    }
    dbc_free(e);
    return rc;
}

/* Hosts and ports: the URL's host and port, or the ?host= entries (each
 * a comma-separated list; repeating the key adds more), whose ports default
 * to the URL's port or ?port=. */
static int hosts_and_ports(dbc_target *t, const dbconn_url *url,
                           const dbc_qparam *q, size_t nq) {
    dbc_buf hosts = DBC_BUF_INIT, ports = DBC_BUF_INIT;
    char dflt[16] = "";
    const char *qport = NULL;
    size_t nhost = 0;
    int rc = 0;
    for (size_t i = 0; i < nq; i++) {
        nhost += strcmp(q[i].key, "host") == 0;
        if (strcmp(q[i].key, "port") == 0)
            qport = q[i].value;
    }
    if (dbconn_url_port(url) && qport)
        return dbc_fail(DBCONN_EOPTION,
                        "postgresql option \"port\" is given twice: in the "
                        "URL and in its query; keep one");
    if (dbconn_url_port(url))
        (void)snprintf(dflt, sizeof dflt, "%d", dbconn_url_port(url));
    else if (qport && !strchr(qport, ','))
        (void)snprintf(dflt, sizeof dflt, "%.15s", qport);
    if (nhost && dbconn_url_host(url))
        return dbc_fail(DBCONN_EOPTION,
                        "postgresql option \"host\": the URL names a host "
                        "and its query too; give every host in ?host= (e.g. "
                        "?host=a:5432,b:5433)");
    if (!nhost && dbconn_url_host(url)) {
        dbc_buf_puts(&hosts, dbconn_url_host(url));
        dbc_buf_puts(&ports, dflt);
    }
    for (size_t i = 0; i < nq && !rc; i++) {
        if (strcmp(q[i].key, "host") != 0)
            continue;
        for (const char *h = q[i].value; !rc;) {
            size_t n = strcspn(h, ",");
            rc = add_host(h, n, dflt, &hosts, &ports);
            if (!h[n])
                break;
            h += n + 1;
        }
    }
    if (!rc && hosts.len)
        rc = add(t, "host", hosts.data);
    /* A port list from ?port= is libpq's to match to the hosts. */
    if (!rc && qport && strchr(qport, ','))
        rc = add(t, "port", qport);
    else if (!rc && ports.len && strspn(ports.data, ",") != ports.len)
        rc = add(t, "port", ports.data);
    if (!rc && (hosts.oom || ports.oom))
        rc = dbc_nomem();
    dbc_buf_free(&hosts);
    dbc_buf_free(&ports);
    return rc;
}

/* ---- engine options ----------------------------------------------------- */

static int refuse(const char *option, const char *why) {
    return dbc_fail(DBCONN_EOPTION,
                    "option \"%s\" does not apply to postgresql: %s", option,
                    why);
}

/* What the resolved engine options mean here; builds the BEGIN text. */
static int check_config(dbc_target *t, const dbc_config *cfg) {
    if (cfg->pragmas)
        return dbc_fail(DBCONN_EOPTION,
                        "option \"pragma.%.*s\" does not apply to "
                        "postgresql: pragmas are SQLite's; per-connection "
                        "server settings go in the URL's options (e.g. "
                        "?options=-c%%20work_mem%%3D64MB)",
                        (int)strcspn(cfg->pragmas, "="), cfg->pragmas);
    if (cfg->journal_mode)
        return refuse("journal_mode",
                      "the server keeps its own write-ahead log");
    if (cfg->synchronous)
        return refuse("synchronous",
                      "durability is the server's: use "
                      "options=-c%20synchronous_commit%3Doff in the URL");
    if (!cfg->foreign_keys)
        return refuse("foreign_keys",
                      "postgresql always enforces foreign keys");
    const char *iso = cfg->isolation_level;
    if (!iso)
        t->begin = "BEGIN";
    else if (strcmp(iso, "AUTOCOMMIT") == 0)
        t->begin = NULL;
    else if (strcmp(iso, "SERIALIZABLE") == 0)
        t->begin = "BEGIN ISOLATION LEVEL SERIALIZABLE";
    else if (strcmp(iso, "REPEATABLE READ") == 0)
        t->begin = "BEGIN ISOLATION LEVEL REPEATABLE READ";
    else if (strcmp(iso, "READ COMMITTED") == 0)
        t->begin = "BEGIN ISOLATION LEVEL READ COMMITTED";
    else if (strcmp(iso, "READ UNCOMMITTED") == 0)
        t->begin = "BEGIN ISOLATION LEVEL READ UNCOMMITTED";
    else
        return dbc_fail(DBCONN_EOPTION,
                        "option \"isolation_level\": \"%s\" is not supported "
                        "by postgresql",
                        iso);
    return 0;
}

/* The startup options: ours, lock_timeout from busy_timeout_ms when it was
 * given, then the user's (?options=, else $PGOPTIONS as libpq would). */
static int startup_options(dbc_target *t, const dbc_config *cfg,
                           const dbc_qparam *q, size_t nq) {
    dbc_buf b = DBC_BUF_INIT;
    const char *user = getenv("PGOPTIONS");
    for (size_t i = 0; i < nq; i++)
        if (strcmp(q[i].key, "options") == 0)
            user = q[i].value;
    dbc_buf_puts(&b, BASE_OPTIONS);
    if (cfg->busy_timeout_set) /* 0 would mean "wait forever" there */
        dbc_buf_printf(&b, " -c lock_timeout=%d",
                       cfg->busy_timeout_ms > 0 ? cfg->busy_timeout_ms : 1);
    if (cfg->statement_timeout_ms > 0) /* SET per session only when it
                                          differs (pg_conn.c) */
        dbc_buf_printf(&b, " -c statement_timeout=%d",
                       cfg->statement_timeout_ms);
    t->statement_timeout = cfg->statement_timeout_ms;
    if (user && *user)
        dbc_buf_printf(&b, " %s", user);
    int rc = b.oom ? dbc_nomem() : add(t, "options", b.data);
    dbc_buf_free(&b);
    return rc;
}

/* User, password, database and the checked query keys. */
static int identity_and_keys(dbc_target *t, const dbconn_url *url,
                             const dbc_qparam *q, size_t nq) {
    const char *user = dbconn_url_username(url);
    const char *password = dbconn_url_password(url);
    const char *db = dbconn_url_database(url);
    int rc = 0;
    if (user && *user)
        rc = add(t, "user", user);
    if (!rc && password)
        rc = add(t, "password", password);
    if (!rc && db && *db)
        rc = add(t, "dbname", db);
    if (!rc)
        rc = add(t, "client_encoding", "UTF8");
    if (!rc)
        rc = add(t, "fallback_application_name", "libdbconn");
    for (size_t i = 0; i < nq && !rc; i++)
        if (!in_set(q[i].key, managed_keys))
            rc = add(t, q[i].key, q[i].value);
    return rc;
}

int dbc_pg_target_open(dbc_target **out, const dbconn_url *url,
                       const dbc_config *cfg, const dbc_qparam *q, size_t nq) {
    *out = NULL;
    int rc = dbc_pq_load();
    if (rc)
        return rc;
    PQconninfoOption *opts = PQconndefaults();
    if (!opts)
        return dbc_nomem();
    for (size_t i = 0; i < nq && !rc; i++)
        rc = check_key(&q[i], opts, url, cfg);
    PQconninfoFree(opts);
    if (rc)
        return rc;
    dbc_target *t = dbc_calloc(1, sizeof *t);
    if (!t)
        return dbc_nomem();
    rc = check_config(t, cfg);
    if (!rc && !(t->url = dbc_url_masked(url)))
        rc = dbc_nomem();
    if (!rc)
        rc = hosts_and_ports(t, url, q, nq);
    if (!rc)
        rc = identity_and_keys(t, url, q, nq);
    if (!rc)
        rc = startup_options(t, cfg, q, nq);
    if (rc) {
        dbc_pg_target_close(t);
        return rc;
    }
    *out = t;
    return 0;
}

void dbc_pg_target_close(dbc_target *t) {
    if (!t)
        return;
    for (size_t i = 0; i < t->nstrings; i++)
        dbc_free(t->strings[i]);
    dbc_free(t->strings);
    dbc_free(t->keys);
    dbc_free(t->values);
    dbc_free(t->url);
    dbc_free(t);
}
