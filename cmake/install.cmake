# Install rules and packaging: what `cmake --install` puts under the prefix.
#
#   include/dbconn.h                          the only public header
#   lib/libdbconn.so.<ver>, .so.0, .so        shared library (SONAME .so.0)
#   lib/libdbconn.a                           static library
#   lib/pkgconfig/dbconn.pc                   for pkg-config users
#   lib/cmake/dbconn/dbconnConfig*.cmake      for find_package(dbconn)
#   lib/cmake/dbconn/dbconnTargets*.cmake     dbconn::dbconn, dbconn::dbconn_static
#
# Included from the top-level CMakeLists.txt after the library targets exist.
# Checked end to end by the ctest `install_downstream`
# (tests/downstream/run.sh).

# A project that vendors libdbconn with add_subdirectory() usually does not
# want our files in its install tree.
option(DBCONN_INSTALL "Generate libdbconn's install rules" ${DBCONN_TOP_LEVEL})
if(NOT DBCONN_INSTALL)
  return()
endif()

include(CMakePackageConfigHelpers)

set(DBCONN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/dbconn)

install(TARGETS dbconn_shared dbconn_static
  EXPORT dbconnTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    COMPONENT runtime NAMELINK_COMPONENT development
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
install(FILES ${PROJECT_SOURCE_DIR}/include/dbconn.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT development)

# --- CMake package ---------------------------------------------------------
install(EXPORT dbconnTargets
  NAMESPACE dbconn::
  FILE dbconnTargets.cmake
  DESTINATION ${DBCONN_CMAKE_DIR}
  COMPONENT development)
configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/dbconnConfig.cmake.in
  ${PROJECT_BINARY_DIR}/dbconnConfig.cmake
  INSTALL_DESTINATION ${DBCONN_CMAKE_DIR})
# 0.x: a minor release may break the API, so only 0.1.* satisfies 0.1.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/dbconnConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/dbconnConfig.cmake
  ${PROJECT_BINARY_DIR}/dbconnConfigVersion.cmake
  DESTINATION ${DBCONN_CMAKE_DIR}
  COMPONENT development)

# --- pkg-config --------------------------------------------------------------
# `cmake --install <build> --prefix <dir>` chooses the prefix at install time,
# after configure_file() has run, so the prefix is filled in by a second pass
# at install time: the first pass leaves the token @DBCONN_PC_PREFIX@ in place
# (it substitutes the token with itself) and the install script replaces it.
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(DBCONN_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(DBCONN_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
set(DBCONN_PC_PREFIX "@DBCONN_PC_PREFIX@")
# The PostgreSQL driver loads libpq at run time (dlopen): a static link
# needs the loader's library, not libpq.
set(DBCONN_PC_LIBS_PRIVATE "")
if(DBCONN_POSTGRES AND CMAKE_DL_LIBS)
  set(DBCONN_PC_LIBS_PRIVATE " -l${CMAKE_DL_LIBS}")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/dbconn.pc.in
  ${PROJECT_BINARY_DIR}/dbconn.pc.in.stage1 @ONLY)
install(CODE "
  set(DBCONN_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${PROJECT_BINARY_DIR}/dbconn.pc.in.stage1\"
    \"${PROJECT_BINARY_DIR}/dbconn.pc\" @ONLY)
" COMPONENT development)
install(FILES ${PROJECT_BINARY_DIR}/dbconn.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
  COMPONENT development)
