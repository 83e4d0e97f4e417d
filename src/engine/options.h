/* Engine options: parsing by name (dbconn_options_set) and resolution of a
 * dbconn_options struct plus URL query into the effective configuration. */
#ifndef DBCONN_OPTIONS_H
#define DBCONN_OPTIONS_H

#include "dbconn.h"
#include "driver/config.h"

/* True when `key` names an engine option (field name or alias). */
bool dbc_option_known(const char *key);

/* dbc_nearest_step() over the engine option names (aliases included):
 * the engine's share of a "did you mean" (dbc_config.suggest). */
void dbc_option_suggest(const char *key, const char **best, size_t *dist);

/* Resolves `opts` (NULL = defaults) overridden by the engine-option keys of
 * the URL query (last wins) into *cfg.  Query pairs that are not engine
 * options are returned in *rest (owned by the caller, dbc_free; *nrest may be
 * 0 with *rest NULL).  Validates reserved fields (must be zero) and every
 * value: DBCONN_EOPTION naming the key (and "URL query" when it came from
 * there), DBCONN_ENOMEM. */
int dbc_config_resolve(dbc_config *cfg, const dbconn_options *opts,
                       const dbconn_url *url, dbc_qparam **rest,
                       size_t *nrest);

/* Releases what dbc_config_resolve allocated in cfg (its pragmas). */
void dbc_config_release(dbc_config *cfg);

#endif
