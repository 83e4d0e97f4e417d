/* What an engine is configured with, as the driver receives it: the
 * options resolved by the engine layer (engine/options.c) and the URL
 * query pairs that are the driver's to judge. */
#ifndef DBCONN_CONFIG_H
#define DBCONN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "dbconn.h"

/* The effective configuration: every default applied, every DBCONN_NONE
 * turned into its meaning.  Strings point to static canonical spellings. */
typedef struct dbc_config {
    int echo;                  /* 0, 1, 2 */
    dbconn_log_fn log;         /* NULL = stderr sink */
    void *log_data;
    bool hide_parameters;
    int pool_size;             /* >= 0; -1 = no limit */
    int max_overflow;          /* >= 0; -1 = unlimited */
    int pool_timeout_ms;       /* >= 0 (0 = do not wait) */
    int pool_recycle_s;        /* >= 0 (0 = never) */
    bool pool_pre_ping;
    int busy_timeout_ms;       /* >= 0 */
    bool busy_timeout_set;     /* given by the user (not the default) */
    const char *journal_mode;  /* NULL = driver default; else lower-case */
    const char *synchronous;   /* NULL = driver default; else lower-case */
    const char *isolation_level; /* NULL = driver default; upper-case */
    bool autocommit;           /* isolation_level AUTOCOMMIT: no BEGIN,
                                  each statement its own transaction (the
                                  session layer's; a driver need not) */
    int statement_cache_size;  /* >= 0 (0 = no cache) */
    bool foreign_keys;
    int begin_mode;            /* DBCONN_BEGIN_DEFERRED/IMMEDIATE/EXCLUSIVE */
    int execution_policy;      /* DBCONN_EXEC_*; 0: the driver's best */
    int statement_timeout_ms;  /* >= 0 (0 = no limit): each session's
                                  default (session_set_statement_timeout) */
    uv_loop_t *loop;           /* NULL = uv_default_loop() when first needed */
    dbconn_scopefunc scopefunc; /* NULL = the current task (scope layer) */
    void *scope_data;
    /* The engine's share of "did you mean": dbc_nearest_step() over the
     * engine option names, so a driver's unknown-key message can suggest
     * an engine option as well as its own keys. */
    void (*suggest)(const char *key, const char **best, size_t *dist);
    /* The logging_name option; NULL = none.  Borrowed: valid during
     * dbconn_open only (the engine's log keeps a copy). */
    const char *logging_name;
    /* The pragma.NAME options, in order (the struct's list, then the
     * URL's keys): "name=value;name=value", each name an identifier and
     * each value an integer or a keyword (engine/options.c checked that
     * much; what a driver accepts is its own business).  NULL = none.
     * Owned (dbc_config_release). */
    char *pragmas;
    int pool_idle_timeout_s;   /* >= 0 (0 = never) */
    bool pool_use_lifo;
    int hold_warn_ms;          /* >= 0 (0 = off) */
} dbc_config;

/* A URL query pair that is not an engine option: the driver's to judge. */
typedef struct dbc_qparam {
    const char *key;   /* borrowed from the URL */
    const char *value;
} dbc_qparam;

#endif
