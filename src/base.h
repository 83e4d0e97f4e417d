/* Base models: metadata + the bound session pointer. */
#ifndef DBCONN_BASE_H
#define DBCONN_BASE_H

#include "dbconn.h"

/* Called by dbconn_close for each base bound to db: sets the session pointer
 * to NULL if it is still bound to db. */
void dbc_base_unbind(dbconn_base *b, dbconn *db);

#endif
