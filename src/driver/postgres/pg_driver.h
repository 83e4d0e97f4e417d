/* The PostgreSQL driver's function table (pg_driver.c). */
#ifndef DBCONN_PG_DRIVER_H
#define DBCONN_PG_DRIVER_H

#include "driver/driver.h"

extern const dbc_driver dbc_driver_postgres;

#endif
