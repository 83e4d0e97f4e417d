/* The version of the library linked (DBCONN_VERSION_* in dbconn.h, the
 * one place it is written). */
#include "dbconn.h"

unsigned dbconn_version(void) { return DBCONN_VERSION_HEX; }

const char *dbconn_version_string(void) {
#define DBC_STR2(x) #x
#define DBC_STR(x) DBC_STR2(x)
    return DBC_STR(DBCONN_VERSION_MAJOR) "." DBC_STR(
        DBCONN_VERSION_MINOR) "." DBC_STR(DBCONN_VERSION_PATCH);
}
