/* The drivers of this build, found by a URL's dialect (registry.c). */
#ifndef DBCONN_REGISTRY_H
#define DBCONN_REGISTRY_H

#include "driver/driver.h"

/* The driver for a URL's dialect and +driver suffix, or DBCONN_ENODRIVER
 * (message lists the drivers of this build). */
int dbc_driver_find(const dbconn_url *url, const dbc_driver **out);

#endif
