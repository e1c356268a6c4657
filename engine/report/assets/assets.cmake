# The HTML report's front-end assets, embedded into loadpilot_report.
#
# 1. `npm ci` installs web/package.json's exact versions from the lock file
#    into <build>/web/node_modules (uplot for the report; playwright-core for
#    the report's browser test). It reruns only when the lock file changes.
# 2. embed.cmake turns uplot's dist files and the report's own template, CSS
#    and JS (this folder) into a generated C++ source of string constants
#    (declared in report/report_assets.h).
# npm runs through `cmake -E chdir`, not WORKING_DIRECTORY: the Makefile
# generators `cd` into WORKING_DIRECTORY before the first command, so a
# folder that the first command creates would not exist yet.
find_program(LOADPILOT_NPM npm)
if(NOT LOADPILOT_NPM)
  message(FATAL_ERROR "npm not found: the HTML report embeds uPlot from the npm registry. "
                      "Run scripts/install-deps.sh (it installs Node.js and npm).")
endif()

set(LOADPILOT_WEB_DIR ${CMAKE_BINARY_DIR}/web)
set(_web_src ${PROJECT_SOURCE_DIR}/web)
set(_uplot_dist ${LOADPILOT_WEB_DIR}/node_modules/uplot/dist)
# Without the tests only uplot is installed (--omit=dev leaves out
# playwright-core, a download the program does not need). The stamp is named
# after the choice, so turning the tests on later installs the rest.
if(LOADPILOT_TESTS)
  set(_npm_omit "")
  set(_npm_stamp ${LOADPILOT_WEB_DIR}/npm-ci.stamp)
else()
  set(_npm_omit --omit=dev)
  set(_npm_stamp ${LOADPILOT_WEB_DIR}/npm-ci-program.stamp)
endif()
add_custom_command(
  OUTPUT ${_npm_stamp}
  BYPRODUCTS ${_uplot_dist}/uPlot.iife.min.js ${_uplot_dist}/uPlot.min.css
  COMMAND ${CMAKE_COMMAND} -E make_directory ${LOADPILOT_WEB_DIR}
  COMMAND ${CMAKE_COMMAND} -E copy ${_web_src}/package.json ${_web_src}/package-lock.json
          ${LOADPILOT_WEB_DIR}/
  COMMAND ${CMAKE_COMMAND} -E chdir ${LOADPILOT_WEB_DIR}
          ${LOADPILOT_NPM} ci ${_npm_omit} --no-audit --no-fund --loglevel=error
  COMMAND ${CMAKE_COMMAND} -E touch ${_npm_stamp}
  DEPENDS ${_web_src}/package.json ${_web_src}/package-lock.json
  COMMENT "Installing the report's npm packages (npm ci)"
  VERBATIM)

set(_assets_dir ${CMAKE_CURRENT_SOURCE_DIR}/report/assets)
set(_assets_cc ${CMAKE_CURRENT_BINARY_DIR}/generated/report_assets.cc)
set(_asset_list
  "kReportHtml=${_assets_dir}/report.html"
  "kReportCss=${_assets_dir}/report.css"
  "kReportJs=${_assets_dir}/report.js"
  "kUplotJs=${_uplot_dist}/uPlot.iife.min.js"
  "kUplotCss=${_uplot_dist}/uPlot.min.css")
string(REPLACE ";" "|" _asset_arg "${_asset_list}")
add_custom_command(
  OUTPUT ${_assets_cc}
  COMMAND ${CMAKE_COMMAND} -DOUT=${_assets_cc} -DASSETS=${_asset_arg}
          -P ${_assets_dir}/embed.cmake
  DEPENDS ${_npm_stamp} ${_assets_dir}/embed.cmake
          ${_assets_dir}/report.html ${_assets_dir}/report.css ${_assets_dir}/report.js
  COMMENT "Embedding the HTML report's assets"
  VERBATIM)
target_sources(loadpilot_report PRIVATE ${_assets_cc})
