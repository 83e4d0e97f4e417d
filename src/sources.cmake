# The library's sources by layer, bottom to top (docs/architecture.md).  A
# file of a folder may call its own folder and the folders listed before it;
# scripts/check-layers.sh holds the code to that, from scripts/layers.txt.

# driver/postgres: built when libpq is found (CMakeLists.txt, DBCONN_POSTGRES)
set(DBCONN_POSTGRES_SOURCES)
if(DBCONN_POSTGRES)
  set(DBCONN_POSTGRES_SOURCES
    src/driver/postgres/pg_lib.c
    src/driver/postgres/pg_error.c
    src/driver/postgres/pg_pipe.c
    src/driver/postgres/pg_sql.c
    src/driver/postgres/pg_values.c
    src/driver/postgres/pg_target.c
    src/driver/postgres/pg_conn.c
    src/driver/postgres/pg_stmt.c
    src/driver/postgres/pg_io.c
    src/driver/postgres/pg_driver.c
  )
endif()

set(DBCONN_SOURCES
  # util: allocation, errors, strings, containers, SQL text
  src/util/alloc.c
  src/util/error.c
  src/util/callout.c
  src/util/buf.c
  src/util/hashmap.c
  src/util/text.c
  src/util/editdist.c
  src/util/version.c
  src/util/sqlverb.c
  # url: the SQLAlchemy URL grammar
  src/url/url.c
  src/url/url_render.c
  # driver: the function table and one folder per engine
  src/driver/sqlite/sqlite_conn.c
  src/driver/sqlite/sqlite_plan.c
  src/driver/sqlite/sqlite_stmt.c
  src/driver/sqlite/sqlite_pragma.c
  src/driver/sqlite/sqlite_target.c
  src/driver/sqlite/sqlite_driver.c
  ${DBCONN_POSTGRES_SOURCES}
  src/driver/registry.c
  # result: buffered rows as a driver reads them
  src/result/result.c
  # engine: options, pool, write gate, statement cache, log and echo
  src/engine/options.c
  src/engine/log.c
  src/engine/echo.c
  src/engine/gate.c
  src/engine/stmtcache.c
  src/engine/pool.c
  src/engine/engine.c
  # session: the unit of work
  src/session/session.c
  src/session/session_io.c
  src/session/stop.c
  src/session/savepoint.c
  src/session/result_byname.c
  # scope: current task and the scoped session registry
  src/scope/task.c
  src/scope/scope.c
  # async: libuv integration, along the flow of an operation
  src/async/sqltext.c
  src/async/state.c
  src/async/ops.c
  src/async/deliver.c
  src/async/park.c
  src/async/finish.c
  src/async/job.c
  src/async/io.c
  src/async/schedule.c
  src/async/close.c
  src/async/api.c
  # model: base models, DDL, init_db
  src/model/model.c
  src/model/ddl.c
  src/model/base.c
  src/model/initdb.c
  src/model/initdb_async.c
  # model: the active-record layer (model/record.h)
  src/model/record_time.c
  src/model/record_map.c
  src/model/record_plan.c
  src/model/record_rows.c
  src/model/record.c
  src/model/record_bulk.c
  src/model/record_query.c
  src/model/record_sql.c
  src/model/record_rel.c
  src/model/record_fetch.c
  src/model/record_json.c
  src/model/record_async.c
  # top: dbconn_open / dbconn_close compose the layers
  src/dbconn.c
)
list(TRANSFORM DBCONN_SOURCES PREPEND ${CMAKE_CURRENT_LIST_DIR}/../)
