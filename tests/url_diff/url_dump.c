/* url_dump: what dbconn_url_parse() makes of each URL, for url_diff.py.
 *
 *   url_dump < urls.hex > parsed.jsonl
 *
 * Input: one URL per line, hex-encoded (two digits a byte, so a URL may hold
 * any byte but NUL, newlines included).  Output: one JSON object per input
 * line, in order:
 *
 *   {"rc": 0, "dialect": "...", "driver": null, "username": ..., "password":
 *    ..., "host": ..., "port": 0, "database": ..., "query": [["k", "v"], ...],
 *    "masked": "<dbconn_url_render(u, 0)>"}
 *   {"rc": -2, "err": "DBCONN_EURL", "msg": "<dbconn_errmsg(NULL)>"}
 *
 * Strings are the library's bytes, JSON-escaped ("\"", "\\", control bytes
 * as \u00XX); bytes >= 0x80 are written as they are, so the reader decodes
 * the line as UTF-8 (with surrogateescape: a message cut inside a UTF-8
 * sequence must not stop the comparison).  Only the public API is used: the
 * comparison is about what a caller sees.
 *
 * Exit status: 0, or 2 on a malformed input line or an allocation failure
 * of this program itself. */
#define _POSIX_C_SOURCE 200809L /* getline */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "dbconn.h"

static void put_json(const char *s) {
    if (!s) {
        fputs("null", stdout);
        return;
    }
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void put_field(const char *name, const char *value) {
    printf(", \"%s\": ", name);
    put_json(value);
}

static void dump_parsed(const dbconn_url *u) {
    fputs("{\"rc\": 0", stdout);
    put_field("dialect", dbconn_url_dialect(u));
    put_field("driver", dbconn_url_driver(u));
    put_field("username", dbconn_url_username(u));
    put_field("password", dbconn_url_password(u));
    put_field("host", dbconn_url_host(u));
    printf(", \"port\": %d", dbconn_url_port(u));
    put_field("database", dbconn_url_database(u));
    fputs(", \"query\": [", stdout);
    for (size_t i = 0; i < dbconn_url_query_count(u); i++) {
        fputs(i ? ", [" : "[", stdout);
        put_json(dbconn_url_query_key(u, i));
        fputs(", ", stdout);
        put_json(dbconn_url_query_value(u, i));
        putchar(']');
    }
    putchar(']');
    size_t n = dbconn_url_render(u, 0, NULL, 0);
    char *masked = malloc(n + 1);
    if (!masked) {
        fputs("url_dump: out of memory\n", stderr);
        exit(2);
    }
    dbconn_url_render(u, 0, masked, n + 1);
    put_field("masked", masked);
    free(masked);
    fputs("}\n", stdout);
}

static int hexval(int c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes the hex line in place; returns its length in bytes, or -1. */
static long unhex(char *line) {
    size_t len = strcspn(line, "\r\n");
    if (len % 2)
        return -1;
    for (size_t i = 0; i < len; i += 2) {
        int hi = hexval((unsigned char)line[i]);
        int lo = hexval((unsigned char)line[i + 1]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
            return -1;
        line[i / 2] = (char)(hi * 16 + lo);
    }
    line[len / 2] = '\0';
    return (long)(len / 2);
}

int main(void) {
    size_t cap = 0, lineno = 0;
    char *line = NULL;
    ssize_t got;
    while ((got = getline(&line, &cap, stdin)) != -1) {
        lineno++;
        if (unhex(line) < 0) {
            fprintf(stderr, "url_dump: line %zu is not hex-encoded bytes\n",
                    lineno);
            free(line);
            return 2;
        }
        dbconn_url *u = NULL;
        int rc = dbconn_url_parse(&u, line);
        if (rc == 0) {
            dump_parsed(u);
        } else {
            printf("{\"rc\": %d", rc);
            put_field("err", dbconn_err_name(rc));
            put_field("msg", dbconn_errmsg(NULL));
            fputs("}\n", stdout);
        }
        dbconn_url_free(u);
    }
    free(line);
    return fflush(stdout) == 0 ? 0 : 2;
}
