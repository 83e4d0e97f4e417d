/* Serialization (sqlactive's SerializationMixin) through jansson: a struct
 * to a JSON object keyed by column name, rows to an array (with the loaded
 * relationships nested on request), and a JSON object back into a struct
 * whose text and blob values it then owns.  jansson allocates with its own
 * hooks; what we hand out is copied into memory of ours (dbconn_free). */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"
#include "model/base.h"
#include "model/model.h"
#include "model/record_map.h"
#include "model/record_rows.h"
#include "util/error.h"
#include "util/text.h"

/* ---- base64 (RFC 4648, with padding) ------------------------------------- */

static const char B64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char B64_PAD = '=';

static char *b64_encode(const unsigned char *p, size_t n) {
    char *out = dbc_malloc((n + 2) / 3 * 4 + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        o[0] = B64[v >> 18 & 63];
        o[1] = B64[v >> 12 & 63];
        o[2] = B64_PAD;
        o[3] = B64_PAD;
        if (i + 1 < n)
            o[2] = B64[v >> 6 & 63];
        if (i + 2 < n)
            o[3] = B64[v & 63];
        o += 4;
    }
    *o = '\0';
    return out;
}

static int b64_value(char c) {
    const char *at = c ? strchr(B64, c) : NULL;
    return at ? (int)(at - B64) : -1;
}

/* Decodes s (len bytes) into a new allocation; -1 when s is not base64. */
static int b64_decode(const char *s, size_t len, unsigned char **out,
                      size_t *n) {
    *out = NULL;
    *n = 0;
    if (len % 4)
        return -1;
    size_t pad = len && s[len - 1] == '=' ? (len > 1 && s[len - 2] == '=') + 1
                                          : 0;
    unsigned char *buf = dbc_malloc(len / 4 * 3 + 1);
    if (!buf)
        return DBCONN_ENOMEM;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t v = 0;
        for (size_t k = 0; k < 4; k++) {
            bool padded = i + k >= len - pad;
            int d = padded ? 0 : b64_value(s[i + k]);
            if (d < 0 || (padded && s[i + k] != '=')) {
                dbc_free(buf);
                return -1;
            }
            v = v << 6 | (uint32_t)d;
        }
        buf[o++] = (unsigned char)(v >> 16);
        buf[o++] = (unsigned char)(v >> 8);
        buf[o++] = (unsigned char)v;
    }
    *out = buf;
    *n = o - pad;
    return 0;
}

/* ---- struct -> JSON ------------------------------------------------------ */

static int bad_field(const dbconn_model *m, const dbconn_column *c,
                     const char *why) {
    return dbc_fail(DBCONN_EINVAL, "model \"%s\": column \"%s\": %s",
                    m->table, c->name, why);
}

/* 'YYYY-MM-DDTHH:MM:SS.ffffffZ' */
static json_t *ts_json(int64_t t) {
    char buf[DBCONN_TIMESTAMP_LEN + 1];
    if (dbconn_timestamp_format(t, buf, sizeof buf) != 0)
        return NULL;
    size_t n = strlen(buf); /* 26 */
    buf[10] = 'T';
    buf[n] = 'Z';
    buf[n + 1] = '\0';
    return json_string(buf);
}

static int field_json(const dbconn_model *m, const dbconn_column *c,
                      const void *obj, json_t **out) {
    const char *f = (const char *)obj + c->offset;
    *out = NULL;
    if (dbc_field_is_null(c, obj)) {
        *out = json_null();
        return 0;
    }
    switch (c->type) {
    case DBCONN_TYPE_INTEGER:
        *out = json_integer(dbc_field_i64(c, obj));
        break;
    case DBCONN_TYPE_REAL: {
        double d;
        memcpy(&d, f, sizeof d);
        if (!(*out = json_real(d)))
            return bad_field(m, c, "not a finite number");
        return 0;
    }
    case DBCONN_TYPE_BOOLEAN: {
        bool v;
        memcpy(&v, f, sizeof v);
        *out = json_boolean(v);
        break;
    }
    case DBCONN_TYPE_TEXT: {
        const char *t;
        memcpy(&t, f, sizeof t);
        if (!(*out = json_stringn(t, strlen(t))))
            return bad_field(m, c, "text is not valid UTF-8");
        return 0;
    }
    case DBCONN_TYPE_BLOB: {
        dbconn_blob bl;
        memcpy(&bl, f, sizeof bl);
        char *enc = b64_encode(bl.data, bl.len);
        *out = enc ? json_string(enc) : NULL;
        dbc_free(enc);
        break;
    }
    default:
        if (!(*out = ts_json(dbc_field_i64(c, obj))))
            return bad_field(m, c, "timestamp outside years 1..9999");
        return 0;
    }
    return *out ? 0 : dbc_nomem();
}

static int object_json(const dbconn_model *m, const void *obj, json_t **out) {
    json_t *o = json_object();
    *out = NULL;
    if (!o)
        return dbc_nomem();
    for (size_t i = 0; i < m->ncolumns; i++) {
        json_t *v;
        int rc = field_json(m, &m->columns[i], obj, &v);
        if (rc == 0 && json_object_set_new(o, m->columns[i].name, v) != 0)
            rc = dbc_nomem();
        if (rc) {
            json_decref(o);
            return rc;
        }
    }
    *out = o;
    return 0;
}

/* A loaded relationship of row i: the parent object (or null), or the
 * array of children. */
static int load_json(const dbc_rload *l, size_t i, json_t **out) {
    const dbconn_model *om = l->rows->m;
    const unsigned char *first =
        l->rows->data + l->start[i] * om->struct_size;
    if (l->to_one) {
        if (l->count[i] == 0) {
            *out = json_null();
            return *out ? 0 : dbc_nomem();
        }
        return object_json(om, first, out);
    }
    json_t *a = json_array();
    if (!a)
        return dbc_nomem();
    for (size_t k = 0; k < l->count[i]; k++) {
        json_t *o;
        int rc = object_json(om, first + k * om->struct_size, &o);
        if (rc == 0 && json_array_append_new(a, o) != 0)
            rc = dbc_nomem();
        if (rc) {
            json_decref(a);
            return rc;
        }
    }
    *out = a;
    return 0;
}

static int row_json(const dbconn_rows *r, size_t i, unsigned flags,
                    json_t **out) {
    int rc = object_json(r->m, r->data + i * r->m->struct_size, out);
    for (size_t k = 0; rc == 0 && (flags & DBCONN_JSON_NESTED) &&
                       k < r->nloads;
         k++) {
        json_t *v;
        if ((rc = load_json(&r->loads[k], i, &v)) == 0 &&
            json_object_set_new(*out, r->loads[k].name, v) != 0)
            rc = dbc_nomem();
    }
    if (rc) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

/* The text of j in memory of ours; j is released. */
static int dump(json_t *j, unsigned flags, char **out) {
    size_t jf = (flags & DBCONN_JSON_PRETTY ? JSON_INDENT(2) : JSON_COMPACT) |
                JSON_REAL_PRECISION(17);
    size_t n = json_dumpb(j, NULL, 0, jf);
    char *buf = n ? dbc_malloc(n + 1) : NULL;
    if (buf && json_dumpb(j, buf, n, jf) == n) {
        buf[n] = '\0';
        *out = buf;
    } else {
        dbc_free(buf);
    }
    json_decref(j);
    return *out ? 0 : dbc_nomem();
}

static int check_flags(unsigned flags, const char *what) {
    if (flags & ~(DBCONN_JSON_NESTED | DBCONN_JSON_PRETTY))
        return dbc_fail(DBCONN_EINVAL, "%s: unknown flags 0x%x", what,
                        flags & ~(DBCONN_JSON_NESTED | DBCONN_JSON_PRETTY));
    return 0;
}

int dbconn_record_to_json(const dbconn_model *m, const void *obj,
                          unsigned flags, char **out) {
    if (out)
        *out = NULL;
    if (!m || !obj || !out)
        return dbc_fail(DBCONN_EINVAL, "dbconn_record_to_json: model, obj "
                                       "and out must not be NULL");
    int rc = check_flags(flags, "dbconn_record_to_json");
    json_t *j = NULL;
    if (rc == 0)
        rc = object_json(m, obj, &j);
    return rc ? rc : dump(j, flags, out);
}

int dbconn_rows_to_json(const dbconn_rows *r, unsigned flags, char **out) {
    if (out)
        *out = NULL;
    if (!r || !out)
        return dbc_fail(DBCONN_EINVAL, "dbconn_rows_to_json: rows and out "
                                       "must not be NULL");
    int rc = check_flags(flags, "dbconn_rows_to_json");
    json_t *a = rc ? NULL : json_array();
    if (rc == 0 && !a)
        rc = dbc_nomem();
    for (size_t i = 0; rc == 0 && i < r->n; i++) {
        json_t *o;
        if ((rc = row_json(r, i, flags, &o)) == 0 &&
            json_array_append_new(a, o) != 0)
            rc = dbc_nomem();
    }
    if (rc) {
        json_decref(a);
        return rc;
    }
    return dump(a, flags, out);
}

/* ---- JSON -> struct ------------------------------------------------------ */

static int wrong_type(const dbconn_model *m, const dbconn_column *c,
                      const char *want) {
    return dbc_fail(DBCONN_EINVAL,
                    "model \"%s\": JSON key \"%s\" must be %s or null",
                    m->table, c->name, want);
}

static int set_text(const dbconn_model *m, const dbconn_column *c, char *f,
                    json_t *v) {
    if (!json_is_string(v))
        return wrong_type(m, c, "a string");
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (memchr(s, '\0', n))
        return bad_field(m, c, "text holds a NUL character");
    char *copy = dbc_strndup(s, n);
    if (!copy)
        return dbc_nomem();
    memcpy(f, &copy, sizeof copy);
    return 0;
}

static int set_blob(const dbconn_model *m, const dbconn_column *c, char *f,
                    json_t *v) {
    if (!json_is_string(v))
        return wrong_type(m, c, "a base64 string");
    unsigned char *bytes;
    size_t n;
    int rc = b64_decode(json_string_value(v), json_string_length(v), &bytes,
                        &n);
    if (rc == DBCONN_ENOMEM)
        return dbc_nomem();
    if (rc)
        return bad_field(m, c, "not base64");
    dbconn_blob bl = {bytes, n};
    memcpy(f, &bl, sizeof bl);
    return 0;
}

static int set_timestamp(const dbconn_model *m, const dbconn_column *c,
                         void *obj, json_t *v) {
    int64_t t;
    if (json_is_integer(v)) {
        t = json_integer_value(v);
    } else if (!json_is_string(v)) {
        return wrong_type(m, c, "a timestamp string");
    } else if (dbconn_timestamp_parse(json_string_value(v), &t) != 0) {
        return dbc_fail_column(DBCONN_EINVAL, m->table, c->name);
    }
    dbc_field_set_i64(c, obj, t);
    return 0;
}

static int set_field(const dbconn_model *m, const dbconn_column *c, void *obj,
                     json_t *v) {
    char *f = (char *)obj + c->offset;
    if (json_is_null(v))
        return 0;
    switch (c->type) {
    case DBCONN_TYPE_INTEGER:
        if (!json_is_integer(v))
            return wrong_type(m, c, "an integer");
        dbc_field_set_i64(c, obj, json_integer_value(v));
        return 0;
    case DBCONN_TYPE_REAL: {
        if (!json_is_number(v))
            return wrong_type(m, c, "a number");
        double d = json_number_value(v);
        memcpy(f, &d, sizeof d);
        return 0;
    }
    case DBCONN_TYPE_BOOLEAN: {
        if (!json_is_boolean(v))
            return wrong_type(m, c, "true or false");
        bool b = json_is_true(v);
        memcpy(f, &b, sizeof b);
        return 0;
    }
    case DBCONN_TYPE_TEXT:
        return set_text(m, c, f, v);
    case DBCONN_TYPE_BLOB:
        return set_blob(m, c, f, v);
    default:
        return set_timestamp(m, c, obj, v);
    }
}

/* Every key of o into obj; seen[] catches two keys for one column ("Name"
 * and "name" name the same one). */
static int fill_from(const dbconn_model *m, json_t *o, void *obj,
                     bool *seen) {
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        const dbconn_column *c = dbc_model_column(m, key, strlen(key));
        if (!c) {
            char shown[64];
            return dbc_fail(DBCONN_EINVAL,
                            "model \"%s\" has no column \"%s\" (a JSON key)",
                            m->table, dbc_show(key, shown, sizeof shown));
        }
        size_t i = (size_t)(c - m->columns);
        if (seen[i])
            return dbc_fail(DBCONN_EINVAL,
                            "model \"%s\": JSON names column \"%s\" twice",
                            m->table, c->name);
        seen[i] = true;
        int rc = set_field(m, c, obj, v);
        if (rc)
            return rc;
    }
    return 0;
}

static int parse_object(const dbconn_model *m, const char *json,
                        json_t **out) {
    json_error_t err;
    *out = json_loads(json, JSON_REJECT_DUPLICATES, &err);
    if (!*out)
        return dbc_fail(DBCONN_EINVAL,
                        "model \"%s\": bad JSON at line %d, column %d: %s",
                        m->table, err.line, err.column, err.text);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return dbc_fail(DBCONN_EINVAL, "model \"%s\": JSON is not an object",
                        m->table);
    }
    return 0;
}

int dbconn_record_from_json(const dbconn_model *m, const char *json,
                            void *obj) {
    if (!m || !json || !obj)
        return dbc_fail(DBCONN_EINVAL, "dbconn_record_from_json: model, json "
                                       "and obj must not be NULL");
    memset(obj, 0, m->struct_size);
    json_t *o;
    int rc = parse_object(m, json, &o);
    if (rc)
        return rc;
    bool *seen = dbc_calloc(m->ncolumns, sizeof *seen);
    rc = seen ? fill_from(m, o, obj, seen) : dbc_nomem();
    dbc_free(seen);
    json_decref(o);
    if (rc) {
        char msg[DBC_ERRMSG_MAX];
        (void)snprintf(msg, sizeof msg, "%s", dbc_last_msg());
        dbconn_record_clear(m, obj);
        memset(obj, 0, m->struct_size);
        return dbc_fail(rc, "%s", msg);
    }
    return 0;
}
