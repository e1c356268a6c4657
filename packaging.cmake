# What `cmake --install` puts beside the binary and the Python package
# (engine/CMakeLists.txt), and the Debian package built from the same
# install rules with `cpack -G DEB` / `make deb` (docs/install.md).

install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
# docs/, as --help and error messages cite it ("docs/cli.md#..."): the
# binary's help names where it is (cli/commands.cc).
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs FILES_MATCHING PATTERN "*.md")
install(DIRECTORY examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples
        FILES_MATCHING PATTERN "*.py" PATTERN "*.csv")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME loadpilot)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "load tester: Python scenario classes run by a native C++ engine")
set(CPACK_PACKAGE_DESCRIPTION
    "LoadPilot runs load tests written as Python classes on a C++ engine: exact \
arrival curves, latency from the intended start, a live terminal dashboard, \
thresholds that set the exit code, a results file, an HTML report and \
Prometheus metrics.")
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# The build type keeps debug information (73 MB); the package does not.
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(LOADPILOT_DEB_MAINTAINER "LoadPilot maintainers <loadpilot@invalid>"
    CACHE STRING "Maintainer field of the .deb")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${LOADPILOT_DEB_MAINTAINER}")
# The shared libraries the binary links (libpython3.11, libssl3, libfmt9,
# libnats3.4, prometheus-cpp, ...) are found by dpkg-shlibdeps on the built
# binary, so the list follows the build machine's libraries. What no
# linker sees: the Python package's runtime (greenlet, for Python tasks)
# and the standard library of the embedded interpreter.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "python3 (>= 3.11), python3-greenlet")
include(CPack)
