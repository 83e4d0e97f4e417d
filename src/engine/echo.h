/* Echo: SQLAlchemy-style statement logging (only called when echo is on). */
#ifndef DBCONN_ECHO_H
#define DBCONN_ECHO_H

#include "engine/engine.h"

/* "[generated in 0.00012s] (7, 'alice')" or "[cached since 3.2s ago] (...)" */
void dbc_echo_params(dbconn *db, int hit, double age,
                     const dbconn_value *params, size_t n);
/* echo = 2: "Col ('id', 'name')" then one "Row (1, 'alice')" per row. */
void dbc_echo_cols(dbconn *db, const dbconn_result *r);
void dbc_echo_row(dbconn *db, const dbconn_result *r, size_t row);

#endif
