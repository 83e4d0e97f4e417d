/* Interned SQL texts (see sqltext.h): a chained hash table whose entries
 * carry their text and a reference count. */
#include <string.h>

#include "async/sqltext.h"
#include "util/sqlverb.h"
#include "util/alloc.h"
#include "util/hash.h"

struct dbc_sqltext {
    dbc_sqltext *next;   /* hash chain */
    uint64_t hash;
    size_t len;
    size_t refs;         /* 0: idle (in t->idle, counted in idle_bytes) */
    dbc_list idle;
    int verb;            /* dbc_sql_verb(text), asked once */
    char text[];         /* len bytes and a NUL */
};

#define ENTRY_OF(text) \
    ((dbc_sqltext *)(void *)((char *)(text)-offsetof(dbc_sqltext, text)))

void dbc_sqltexts_init(dbc_sqltexts *t) {
    memset(t, 0, sizeof *t);
    dbc_list_init(&t->idle);
}

void dbc_sqltexts_free(dbc_sqltexts *t) {
    for (size_t i = 0; i < t->nbuckets; i++) {
        dbc_sqltext *e = t->buckets[i];
        while (e) {
            dbc_sqltext *next = e->next;
            dbc_free(e);
            e = next;
        }
    }
    dbc_free(t->buckets);
    dbc_sqltexts_init(t);
}

static size_t recent_slot(const char *ptr) {
    uintptr_t p = (uintptr_t)ptr;
    return (size_t)((p >> 3) ^ (p >> 9)) & 7u;
}

/* Doubles the table when it would pass one entry per bucket; a failed
 * growth keeps the old table (longer chains, still correct). */
static void grow(dbc_sqltexts *t) {
    size_t n = t->nbuckets ? t->nbuckets * 2 : 16;
    dbc_sqltext **b = dbc_calloc(n, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < t->nbuckets; i++) {
        dbc_sqltext *e = t->buckets[i];
        while (e) {
            dbc_sqltext *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    dbc_free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

static const char *hold(dbc_sqltexts *t, dbc_sqltext *e) {
    if (e->refs++ == 0 && dbc_list_linked(&e->idle)) { /* was idle */
        dbc_list_remove(&e->idle);
        t->idle_bytes -= e->len + 1;
    }
    return e->text;
}

static void unlink_entry(dbc_sqltexts *t, dbc_sqltext *e) {
    for (size_t i = 0; i < 8; i++)
        if (t->recent[i].e == e)
            t->recent[i].e = NULL;
    dbc_sqltext **pp = &t->buckets[e->hash & (t->nbuckets - 1)];
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    t->count--;
}

const char *dbc_sqltext_get(dbc_sqltexts *t, const char *sql) {
    size_t r = recent_slot(sql);
    dbc_sqltext *e = t->recent[r].e;
    if (e && t->recent[r].ptr == sql && strcmp(e->text, sql) == 0)
        return hold(t, e);
    size_t len = strlen(sql);
    uint64_t h = dbc_hash_bytes(sql, len);
    if (t->count >= t->nbuckets)
        grow(t);
    if (!t->buckets)
        return NULL;
    dbc_sqltext **slot = &t->buckets[h & (t->nbuckets - 1)];
    for (e = *slot; e; e = e->next)
        if (e->hash == h && e->len == len && memcmp(e->text, sql, len) == 0)
            break;
    if (!e) {
        if (!(e = dbc_malloc(sizeof *e + len + 1)))
            return NULL;
        e->hash = h;
        e->len = len;
        e->refs = 0;
        e->verb = -1;
        e->idle = (dbc_list){0};
        memcpy(e->text, sql, len + 1);
        e->next = *slot;
        *slot = e;
        t->count++;
    }
    t->recent[r].ptr = sql;
    t->recent[r].e = e;
    return hold(t, e);
}

void dbc_sqltext_put(dbc_sqltexts *t, const char *text) {
    dbc_sqltext *e = ENTRY_OF(text);
    if (--e->refs)
        return;
    if (e->len + 1 > DBC_SQLTEXT_IDLE_MAX) { /* never kept */
        unlink_entry(t, e);
        dbc_free(e);
        return;
    }
    dbc_list_push_front(&t->idle, &e->idle);
    t->idle_bytes += e->len + 1;
    while (t->idle_bytes > DBC_SQLTEXT_IDLE_MAX) {
        dbc_sqltext *old =
            DBC_LIST_ENTRY(dbc_list_last(&t->idle), dbc_sqltext, idle);
        dbc_list_remove(&old->idle);
        t->idle_bytes -= old->len + 1;
        unlink_entry(t, old);
        dbc_free(old);
    }
}

dbc_verb dbc_sqltext_verb(const char *text) {
    dbc_sqltext *e = ENTRY_OF(text);
    if (e->verb < 0)
        e->verb = (int)dbc_sql_verb(e->text);
    return (dbc_verb)e->verb;
}
