# Extra ctest tests beyond the per-module CMocka programs; included at the end
# of tests/CMakeLists.txt.

# install_downstream: `cmake --install` this build tree into a scratch prefix
# and build + run tests/downstream against it through pkg-config and through
# find_package(dbconn), shared and static (see tests/downstream/run.sh).
# The downstream programs use the same compiler and the same sanitizer and
# C flags as this build, because instrumented objects need them at link time.
string(JOIN " " DBCONN_DOWNSTREAM_FLAGS ${DBCONN_SANITIZE_FLAGS} ${CMAKE_C_FLAGS})
add_test(NAME install_downstream
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/downstream/run.sh
    ${CMAKE_COMMAND} ${PROJECT_BINARY_DIR}
    ${CMAKE_CURRENT_BINARY_DIR}/install_downstream
    ${CMAKE_C_COMPILER} "${DBCONN_DOWNSTREAM_FLAGS}")
set_tests_properties(install_downstream PROPERTIES TIMEOUT 600
  LABELS packaging)
