/* Does a compiled SQLite statement return at most one row?
 *
 * A buffered result must know that it holds every row, so after the first
 * row it steps once more to see SQLITE_DONE.  For a lookup by primary key
 * or unique index that step only confirms what the program's shape already
 * says, at a cost a hand-written loop never pays (docs/performance.md has
 * the figures).  This file reads the program (EXPLAIN) and proves the
 * shape; the caller then stops after the first row, as hand-written code
 * does.
 *
 * The proof is conservative: every opcode must be one this file knows, with
 * a known meaning for its P2 (a jump target or not).  Programs look like
 *
 *     0    Init      -> P
 *     1..H body: seeks, column reads, one ResultRow; jumps only forward,
 *          never past H
 *     H    Halt
 *     P..  preamble: Transaction, constants; Goto back into the body
 *
 * Init enters the preamble once, the preamble runs forward and jumps into
 * the body, and the body runs forward to a Halt: no instruction of the body
 * runs twice, so its one ResultRow yields at most one row.  A loop (Next,
 * Rewind, Yield, Return, ...) is an unknown opcode and the answer is "no".
 *
 * EXPLAIN compiles the SQL again on the same connection, from the schema
 * the statement will run against unless it recompiles when stepped -- which
 * changes its generation (SQLITE_STMTSTATUS_REPREPARE): the caller keeps
 * the answer with the generation it was given for and trusts it only while
 * they match (src/session.c). */
#include <string.h>

#include "util/alloc.h"
#include "driver/sqlite/sqlite_plan.h"
#include "util/sqlverb.h"

typedef struct opcode_info {
    const char *name;
    bool jumps; /* P2 is a jump target */
} opcode_info;

/* The opcodes of straight-line lookups (SQLite 3.x names).  Anything else
 * makes the answer "no". */
static const opcode_info known[] = {
    {"Init", true},          {"Goto", true},         {"Halt", false},
    {"Transaction", false},  {"TableLock", false},   {"OpenRead", false},
    {"ReopenIdx", false},    {"Close", false},       {"ColumnsUsed", false},
    {"Variable", false},     {"Integer", false},     {"Int64", false},
    {"Real", false},         {"String8", false},     {"String", false},
    {"Null", false},         {"Blob", false},        {"Copy", false},
    {"SCopy", false},        {"IntCopy", false},     {"Affinity", false},
    {"RealAffinity", false}, {"Cast", false},        {"Column", false},
    {"Rowid", false},        {"IdxRowid", false},    {"DeferredSeek", false},
    {"Count", false},        {"Function", false},    {"PureFunc", false},
    {"Add", false},          {"Subtract", false},    {"Multiply", false},
    {"Divide", false},       {"Remainder", false},   {"Concat", false},
    {"ResultRow", false},    {"SeekRowid", true},    {"NotExists", true},
    {"SeekGE", true},        {"SeekGT", true},       {"SeekLE", true},
    {"SeekLT", true},        {"IdxGE", true},        {"IdxGT", true},
    {"IdxLE", true},         {"IdxLT", true},        {"IsNull", true},
    {"NotNull", true},       {"If", true},           {"IfNot", true},
    {"Eq", true},            {"Ne", true},           {"Lt", true},
    {"Le", true},            {"Gt", true},           {"Ge", true},
    {"MustBeInt", true},     {"DecrJumpZero", true}, {"Once", true},
};

static const opcode_info *lookup(const char *name) {
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(known[i].name, name) == 0)
            return &known[i];
    return NULL;
}

typedef struct op {
    const opcode_info *info;
    int p2;
} op;

#define MAX_OPS 128 /* a lookup is a dozen or two; longer programs: "no" */

/* The program of `sql` as compiled now on db, or 0 ops when it cannot be
 * read (too long, unknown opcode, any failure). */
static int read_program(sqlite3 *db, const char *sql, op *ops) {
    static const char explain[] = "EXPLAIN ";
    size_t len = strlen(sql);
    char *text = dbc_malloc(sizeof explain + len);
    if (!text)
        return 0;
    memcpy(text, explain, sizeof explain - 1);
    memcpy(text + sizeof explain - 1, sql, len + 1);
    sqlite3_stmt *st = NULL;
    int n = 0;
    if (sqlite3_prepare_v2(db, text, -1, &st, NULL) == SQLITE_OK && st) {
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(st, 1);
            const opcode_info *info = name ? lookup(name) : NULL;
            if (!info || n == MAX_OPS ||
                sqlite3_column_int64(st, 0) != (sqlite3_int64)n) {
                n = 0;
                break;
            }
            ops[n].info = info;
            ops[n].p2 = sqlite3_column_int(st, 3);
            n++;
        }
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            n = 0;
    }
    sqlite3_finalize(st);
    dbc_free(text);
    return n;
}

static bool is(const op *o, const char *name) {
    return strcmp(o->info->name, name) == 0;
}

/* The shape described at the top of this file. */
static bool straight_line(const op *ops, int n) {
    if (n < 3 || !is(&ops[0], "Init"))
        return false;
    int halt = 0;
    for (int a = 1; a < n && !halt; a++)
        if (is(&ops[a], "Halt"))
            halt = a;
    if (!halt)
        return false;
    int results = 0;
    for (int a = 1; a < n; a++) {
        const op *o = &ops[a];
        if (is(o, "ResultRow")) {
            if (a > halt)
                return false;
            results++;
        }
        if (!o->info->jumps)
            continue;
        int to = o->p2;
        if (a < halt ? !(to > a && to <= halt)       /* body: forward */
                     : !(to > a || (to >= 1 && to <= halt))) /* preamble */
            return false;
    }
    return results == 1 && ops[0].p2 > 0 && ops[0].p2 < n;
}

bool dbc_sqlite_proves_one_row(sqlite3_stmt *st) {
    const char *sql = sqlite3_sql(st);
    /* Only queries are compiled twice: some PRAGMAs act while they compile. */
    dbc_verb verb = dbc_sql_verb(sql);
    if ((verb != DBC_VERB_SELECT && verb != DBC_VERB_WITH) ||
        !sqlite3_stmt_readonly(st) || sqlite3_column_count(st) == 0)
        return false;
    op ops[MAX_OPS];
    int n = read_program(sqlite3_db_handle(st), sql, ops);
    return n > 0 && straight_line(ops, n);
}
