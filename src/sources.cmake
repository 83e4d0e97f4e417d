# The library's sources by layer, bottom to top (docs/architecture.md).  A
# file of a folder may call its own folder and the folders listed before it;
# scripts/check-layers.sh holds the code to that, from scripts/layers.txt.

# driver/postgres: built when libpq is found (CMakeLists.txt, DBCONN_POSTGRES)
set(DBCONN_POSTGRES_SOURCES)
if(DBCONN_POSTGRES)
  set(DBCONN_POSTGRES_SOURCES
    src/driver/postgres/pg_error.c
    src/driver/postgres/pg_sql.c
    src/driver/postgres/pg_values.c
    src/driver/postgres/pg_target.c
    src/driver/postgres/pg_conn.c
    src/driver/postgres/pg_stmt.c
    src/driver/postgres/pg_driver.c
  )
endif()

set(DBCONN_SOURCES
  # util: allocation, errors, strings, containers, SQL text
  src/util/alloc.c
  src/util/error.c
  src/util/buf.c
  src/util/hashmap.c
  src/util/show.c
  src/util/sqlverb.c
  # url: the SQLAlchemy URL grammar
  src/url/url.c
  src/url/url_render.c
  # driver: the function table and one folder per engine
  src/driver/driver.c
  src/driver/sqlite/sqlite_driver.c
  src/driver/sqlite/sqlite_plan.c
  src/driver/sqlite/sqlite_target.c
  ${DBCONN_POSTGRES_SOURCES}
  # engine: options, pool, write gate, statement cache, log and echo
  src/engine/options.c
  src/engine/log.c
  src/engine/echo.c
  src/engine/gate.c
  src/engine/stmtcache.c
  src/engine/pool.c
  src/engine/engine.c
  # session: the unit of work and its results
  src/session/result.c
  src/session/session.c
  src/session/savepoint.c
  # scope: current task and the scoped session registry
  src/scope/task.c
  src/scope/scope.c
  # async: libuv integration
  src/async/async.c
  src/async/async_ops.c
  src/async/async_park.c
  src/async/async_run.c
  src/async/async_api.c
  # model: base models, DDL, init_db
  src/model/model.c
  src/model/ddl.c
  src/model/base.c
  src/model/initdb.c
)
list(TRANSFORM DBCONN_SOURCES PREPEND ${CMAKE_CURRENT_LIST_DIR}/../)
