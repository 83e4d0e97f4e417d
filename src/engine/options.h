/* Engine options: parsing by name (dbconn_options_set) and resolution of a
 * dbconn_options struct plus URL query into the effective configuration. */
#ifndef DBCONN_OPTIONS_H
#define DBCONN_OPTIONS_H

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
    bool busy_timeout_set;     /* given (struct, name or URL), not the
                                  default: a driver whose engine waits for
                                  locks by itself applies it only then */
    const char *journal_mode;  /* NULL = driver default; else lower-case */
    const char *synchronous;   /* NULL = driver default; else lower-case */
    const char *isolation_level; /* NULL = driver default; upper-case */
    int statement_cache_size;  /* >= 0 (0 = no cache) */
    bool foreign_keys;
    int begin_mode;            /* DBCONN_BEGIN_DEFERRED/IMMEDIATE/EXCLUSIVE */
    int execution_policy;      /* DBCONN_EXEC_THREADPOOL / INLINE */
    uv_loop_t *loop;           /* NULL = uv_default_loop() when first needed */
    dbconn_scopefunc scopefunc; /* never NULL after resolve */
    void *scope_data;
} dbc_config;

/* A URL query pair that is not an engine option: the driver's to judge. */
typedef struct dbc_qparam {
    const char *key;   /* borrowed from the URL */
    const char *value;
} dbc_qparam;

/* True when `key` names an engine option (field name or alias). */
bool dbc_option_known(const char *key);

/* Resolves `opts` (NULL = defaults) overridden by the engine-option keys of
 * the URL query (last wins) into *cfg.  Query pairs that are not engine
 * options are returned in *rest (owned by the caller, dbc_free; *nrest may be
 * 0 with *rest NULL).  Validates reserved fields (must be zero) and every
 * value: DBCONN_EOPTION naming the key (and "URL query" when it came from
 * there), DBCONN_ENOMEM. */
int dbc_config_resolve(dbc_config *cfg, const dbconn_options *opts,
                       const dbconn_url *url, dbc_qparam **rest,
                       size_t *nrest);

#endif
