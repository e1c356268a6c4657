# Tests of the Helm chart (cli/loadpilot/charts/loadpilot), without helm or a
# cluster (docs/kubernetes.md#the-offline-rendering-test):
#
# 1. `npm ci` installs validate/package.json's exact versions from the lock
#    file (kubernetes-models, the Kubernetes API schemas) into
#    <build>/chart-validate/node_modules; it reruns only when the lock changes.
# 2. Each engine/tests/chart/test_*.py is a ctest test chart_test_<name>. The
#    tests build the renderer (render/, Go) themselves into
#    <build>/chart-render with Debian's Go packages, offline.
set(LOADPILOT_CHART_VALIDATE_DIR ${CMAKE_BINARY_DIR}/chart-validate)
set(_chart_validate_src ${CMAKE_CURRENT_SOURCE_DIR}/chart/validate)
add_custom_command(
  OUTPUT ${LOADPILOT_CHART_VALIDATE_DIR}/npm-ci.stamp
  COMMAND ${CMAKE_COMMAND} -E make_directory ${LOADPILOT_CHART_VALIDATE_DIR}
  COMMAND ${CMAKE_COMMAND} -E copy ${_chart_validate_src}/package.json
          ${_chart_validate_src}/package-lock.json ${LOADPILOT_CHART_VALIDATE_DIR}/
  # Not WORKING_DIRECTORY: see report/assets/assets.cmake.
  COMMAND ${CMAKE_COMMAND} -E chdir ${LOADPILOT_CHART_VALIDATE_DIR}
          ${LOADPILOT_NPM} ci --no-audit --no-fund --loglevel=error
  COMMAND ${CMAKE_COMMAND} -E touch ${LOADPILOT_CHART_VALIDATE_DIR}/npm-ci.stamp
  DEPENDS ${_chart_validate_src}/package.json ${_chart_validate_src}/package-lock.json
  COMMENT "Installing the chart test's npm packages (npm ci)"
  VERBATIM)
add_custom_target(chart_validate_npm ALL DEPENDS ${LOADPILOT_CHART_VALIDATE_DIR}/npm-ci.stamp)

file(GLOB CHART_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/chart/test_*.py)
foreach(test_file ${CHART_TESTS})
  get_filename_component(test_name ${test_file} NAME_WE)
  add_test(NAME chart_${test_name}
    COMMAND /usr/bin/python3 -m pytest -q -p no:cacheprovider ${test_file})
  set_tests_properties(chart_${test_name} PROPERTIES
    ENVIRONMENT "LOADPILOT_BIN=$<TARGET_FILE:loadpilot>;LOADPILOT_SOURCE_DIR=${PROJECT_SOURCE_DIR};LOADPILOT_CHART_NODE_MODULES=${LOADPILOT_CHART_VALIDATE_DIR}/node_modules;LOADPILOT_CHART_WORK_DIR=${CMAKE_BINARY_DIR}/chart-render"
    TIMEOUT 300 LABELS chart)
endforeach()
