#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static char slots[8][4096];
static unsigned slot;

static char *next_slot(void) { return slots[slot++ % 8]; }

const char *tu_tmpdir(void) {
    const char *base = getenv("TMPDIR");
    char *d = next_slot();
    snprintf(d, 4096, "%s/dbconn-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(d))
        fail_msg("mkdtemp failed");
    return d;
}

void tu_rmdir(const char *dir) {
    char cmd[4200];
    if (!dir || strncmp(dir, "/", 1) != 0 || !strstr(dir, "dbconn-test-"))
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

const char *tu_file_url(const char *dir, const char *name) {
    char *u = next_slot();
    snprintf(u, 4096, "sqlite:///%s/%s", dir, name);
    return u;
}
