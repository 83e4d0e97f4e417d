/* libpq, loaded when the first PostgreSQL engine opens (pg_lib.c), not
 * when the program starts: linking it would map two dozen libraries
 * (TLS, Kerberos, LDAP) into every program that uses only SQLite -- about
 * 5 MiB of resident memory before main() -- and make libpq a run-time
 * requirement of programs that never speak to a server.
 *
 * The driver calls libpq by its own names: after this header, PQexec(...)
 * is a call through the table dbc_pq, filled by dbc_pq_load() (which every
 * way into the driver -- opening a target -- calls first).  libpq-fe.h
 * still gives the types and the prototypes, and pg_lib.c checks each
 * entry's type against its prototype at compile time. */
#ifndef DBCONN_PG_LIB_H
#define DBCONN_PG_LIB_H

#include <libpq-fe.h>

/* Every libpq function the driver calls: X(return type, name, parameters). */
#define DBC_PQ_FUNCS(X)                                                         \
    X(PGconn *, PQconnectdbParams,                                              \
      (const char *const *, const char *const *, int))                          \
    X(void, PQfinish, (PGconn *))                                               \
    X(ConnStatusType, PQstatus, (const PGconn *))                               \
    X(PGTransactionStatusType, PQtransactionStatus, (const PGconn *))           \
    X(const char *, PQparameterStatus, (const PGconn *, const char *))          \
    X(int, PQserverVersion, (const PGconn *))                                   \
    X(char *, PQerrorMessage, (const PGconn *))                                 \
    X(int, PQsocket, (const PGconn *))                                          \
    X(PQnoticeProcessor, PQsetNoticeProcessor,                                  \
      (PGconn *, PQnoticeProcessor, void *))                                    \
    X(PQconninfoOption *, PQconndefaults, (void))                               \
    X(void, PQconninfoFree, (PQconninfoOption *))                               \
    X(PGcancel *, PQgetCancel, (PGconn *))                                      \
    X(void, PQfreeCancel, (PGcancel *))                                         \
    X(int, PQcancel, (PGcancel *, char *, int))                                 \
    X(PGresult *, PQexec, (PGconn *, const char *))                             \
    X(PGresult *, PQexecParams,                                                 \
      (PGconn *, const char *, int, const Oid *, const char *const *,           \
       const int *, const int *, int))                                          \
    X(PGresult *, PQprepare,                                                    \
      (PGconn *, const char *, const char *, int, const Oid *))                 \
    X(PGresult *, PQexecPrepared,                                               \
      (PGconn *, const char *, int, const char *const *, const int *,           \
       const int *, int))                                                       \
    X(int, PQsendQueryParams,                                                   \
      (PGconn *, const char *, int, const Oid *, const char *const *,           \
       const int *, const int *, int))                                          \
    X(int, PQsendQueryPrepared,                                                 \
      (PGconn *, const char *, int, const char *const *, const int *,           \
       const int *, int))                                                       \
    X(int, PQsendPrepare,                                                       \
      (PGconn *, const char *, const char *, int, const Oid *))                 \
    X(int, PQsetSingleRowMode, (PGconn *))                                      \
    X(PGresult *, PQgetResult, (PGconn *))                                      \
    X(int, PQsetnonblocking, (PGconn *, int))                                   \
    X(int, PQflush, (PGconn *))                                                 \
    X(int, PQconsumeInput, (PGconn *))                                          \
    X(int, PQisBusy, (PGconn *))                                                \
    X(int, PQenterPipelineMode, (PGconn *))                                     \
    X(int, PQexitPipelineMode, (PGconn *))                                      \
    X(int, PQpipelineSync, (PGconn *))                                          \
    X(int, PQputCopyEnd, (PGconn *, const char *))                              \
    X(int, PQgetCopyData, (PGconn *, char **, int))                             \
    X(void, PQfreemem, (void *))                                                \
    X(void, PQclear, (PGresult *))                                              \
    X(ExecStatusType, PQresultStatus, (const PGresult *))                       \
    X(char *, PQresultErrorField, (const PGresult *, int))                      \
    X(char *, PQcmdStatus, (PGresult *))                                        \
    X(char *, PQcmdTuples, (PGresult *))                                        \
    X(int, PQntuples, (const PGresult *))                                       \
    X(int, PQnfields, (const PGresult *))                                       \
    X(char *, PQfname, (const PGresult *, int))                                 \
    X(Oid, PQftype, (const PGresult *, int))                                    \
    X(char *, PQgetvalue, (const PGresult *, int, int))                         \
    X(int, PQgetlength, (const PGresult *, int, int))                           \
    X(int, PQgetisnull, (const PGresult *, int, int))

#define DBC_PQ_FIELD(ret, name, params) ret(*name) params;
typedef struct dbc_pq_table {
    DBC_PQ_FUNCS(DBC_PQ_FIELD)
} dbc_pq_table;
#undef DBC_PQ_FIELD

/* Filled by a successful dbc_pq_load(); read-only afterwards. */
extern dbc_pq_table dbc_pq;

/* Loads libpq once per process (thread-safe); 0, or DBCONN_ENODRIVER with
 * a message naming the library and the loader's reason (every later call
 * gives the same). */
int dbc_pq_load(void);
/* For the tests: what loading `soname` instead of libpq would give (the
 * table is not touched).  0 or DBCONN_ENODRIVER with the message. */
int dbc_pq_try_load(const char *soname);

/* Calls by libpq's names go through the table (pg_lib.c itself names the
 * real functions, to check their types). */
#ifndef DBC_PQ_REAL_NAMES
#define PQconnectdbParams (dbc_pq.PQconnectdbParams)
#define PQfinish (dbc_pq.PQfinish)
#define PQstatus (dbc_pq.PQstatus)
#define PQtransactionStatus (dbc_pq.PQtransactionStatus)
#define PQparameterStatus (dbc_pq.PQparameterStatus)
#define PQserverVersion (dbc_pq.PQserverVersion)
#define PQerrorMessage (dbc_pq.PQerrorMessage)
#define PQsocket (dbc_pq.PQsocket)
#define PQsetNoticeProcessor (dbc_pq.PQsetNoticeProcessor)
#define PQconndefaults (dbc_pq.PQconndefaults)
#define PQconninfoFree (dbc_pq.PQconninfoFree)
#define PQgetCancel (dbc_pq.PQgetCancel)
#define PQfreeCancel (dbc_pq.PQfreeCancel)
#define PQcancel (dbc_pq.PQcancel)
#define PQexec (dbc_pq.PQexec)
#define PQexecParams (dbc_pq.PQexecParams)
#define PQprepare (dbc_pq.PQprepare)
#define PQexecPrepared (dbc_pq.PQexecPrepared)
#define PQsendQueryParams (dbc_pq.PQsendQueryParams)
#define PQsendQueryPrepared (dbc_pq.PQsendQueryPrepared)
#define PQsendPrepare (dbc_pq.PQsendPrepare)
#define PQsetSingleRowMode (dbc_pq.PQsetSingleRowMode)
#define PQgetResult (dbc_pq.PQgetResult)
#define PQsetnonblocking (dbc_pq.PQsetnonblocking)
#define PQflush (dbc_pq.PQflush)
#define PQconsumeInput (dbc_pq.PQconsumeInput)
#define PQisBusy (dbc_pq.PQisBusy)
#define PQenterPipelineMode (dbc_pq.PQenterPipelineMode)
#define PQexitPipelineMode (dbc_pq.PQexitPipelineMode)
#define PQpipelineSync (dbc_pq.PQpipelineSync)
#define PQputCopyEnd (dbc_pq.PQputCopyEnd)
#define PQgetCopyData (dbc_pq.PQgetCopyData)
#define PQfreemem (dbc_pq.PQfreemem)
#define PQclear (dbc_pq.PQclear)
#define PQresultStatus (dbc_pq.PQresultStatus)
#define PQresultErrorField (dbc_pq.PQresultErrorField)
#define PQcmdStatus (dbc_pq.PQcmdStatus)
#define PQcmdTuples (dbc_pq.PQcmdTuples)
#define PQntuples (dbc_pq.PQntuples)
#define PQnfields (dbc_pq.PQnfields)
#define PQfname (dbc_pq.PQfname)
#define PQftype (dbc_pq.PQftype)
#define PQgetvalue (dbc_pq.PQgetvalue)
#define PQgetlength (dbc_pq.PQgetlength)
#define PQgetisnull (dbc_pq.PQgetisnull)
#endif

#endif
