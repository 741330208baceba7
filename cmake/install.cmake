# Install rules and the CMake package, so that a project elsewhere can say
#
#   find_package(goro 0.1 REQUIRED)
#   target_link_libraries(app PRIVATE goro::goro)
#
# Installs: include/goro/ (public headers), the static library libgoro.a, and
# lib/cmake/goro/{goroConfig,goroConfigVersion,goroTargets*}.cmake.
#
# goro is a static library: its PRIVATE dependencies (Boost.Context, libdl) still
# have to be linked by the consumer, so the exported target carries them as
# $<LINK_ONLY:...> and goroConfig.cmake finds Threads and Boost.Context again.
# Checked by scripts/check-install (a consumer project in cmake/consumer-test/).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(GORO_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/goro
    CACHE STRING "Where goroConfig.cmake is installed, relative to the prefix")

# A sanitized libgoro.a needs the same -fsanitize flags at the consumer's link. The
# build tree gets them from add_link_options above; the installed target carries them.
if(GORO_SANITIZE)
  set_property(TARGET goro APPEND PROPERTY
    INTERFACE_LINK_OPTIONS "$<INSTALL_INTERFACE:-fsanitize=${GORO_SANITIZE}>")
endif()

install(TARGETS goro
  EXPORT goroTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# (The include directory comes from $<INSTALL_INTERFACE:include> in src/CMakeLists.txt.)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/goro
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")

install(EXPORT goroTargets
  NAMESPACE goro::
  FILE goroTargets.cmake
  DESTINATION ${GORO_INSTALL_CMAKEDIR})

configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/goroConfig.cmake.in
  ${PROJECT_BINARY_DIR}/goroConfig.cmake
  INSTALL_DESTINATION ${GORO_INSTALL_CMAKEDIR})

# 0.x: a minor version may break the API, so only the same major.minor matches.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/goroConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)

install(FILES
  ${PROJECT_BINARY_DIR}/goroConfig.cmake
  ${PROJECT_BINARY_DIR}/goroConfigVersion.cmake
  DESTINATION ${GORO_INSTALL_CMAKEDIR})
