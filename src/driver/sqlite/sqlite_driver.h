/* The SQLite driver's function table (sqlite_driver.c). */
#ifndef DBCONN_SQLITE_DRIVER_H
#define DBCONN_SQLITE_DRIVER_H

#include "driver/driver.h"

extern const dbc_driver dbc_driver_sqlite;

#endif
