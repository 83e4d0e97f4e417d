/* The loop policy (io.c): a session's execs, commits and rollbacks sent
 * through the driver's io entries on the loop thread -- queued ones back
 * to back in one pipeline -- and their outcomes taken as the socket
 * brings them, in order, with no thread-pool hop.  What the mode cannot
 * run (an op of the layers above, a connection that must first be
 * connected or replaced, which blocks) runs as a job (job.c). */
#ifndef DBCONN_ASYNC_IO_H
#define DBCONN_ASYNC_IO_H

#include "async/state.h"

/* Runs as's queue in the mode when it can (as holds a connection and is
 * AS_IDLE): true when it took the session (AS_IO now, or its head op
 * completed), false when a job must run the head op. */
bool dbc_async_io_start(dbc_async_session *as);
/* Sends what was queued on an AS_IO session since (when the pipeline
 * allows it now); true when that ended the batch (as is AS_IDLE). */
bool dbc_async_io_more(dbc_async_session *as);
/* Stops watching as's socket: it stays watched, unreferenced, between
 * batches while as holds the connection (an awaited chain re-arms
 * nothing).  A no-op when nothing is watched. */
void dbc_async_io_quiet(dbc_async_session *as);
/* Closes as's watcher: before a job may use (and give back) the
 * connection, and the moment the connection goes back to the pool on the
 * loop thread -- before another session can watch the same socket.  A
 * session's watcher exists only while it holds the connection on the
 * loop, because libuv allows one watcher per socket and closing (or
 * stopping) any watcher of a socket takes the socket out of epoll for
 * every watcher of it: a late close would leave the next owner's batch
 * waiting for ever. */
void dbc_async_io_forget(dbc_async_session *as);
/* Gives back the connections that sessions kept after an autocommit
 * batch and did not use again (end of a loop callback's work). */
void dbc_async_io_release_kept(dbc_async *a);

#endif
