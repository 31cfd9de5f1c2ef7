# SPDX-License-Identifier: Apache-2.0
# How every dbtrace library is built, installed and described: one export set
# and one pkg-config file per component, so a consumer of one component needs
# only that component's dependencies.

# A library of dbtrace's: versioned SONAME, in DBTRACE_LIBRARY_DIR, finding its
# sibling libraries beside itself once installed.
function(dbtrace_library_properties target)
  set_target_properties(${target} PROPERTIES
    VERSION ${PROJECT_VERSION}
    SOVERSION ${DBTRACE_SOVERSION}
    LIBRARY_OUTPUT_DIRECTORY ${DBTRACE_LIBRARY_DIR}
    ARCHIVE_OUTPUT_DIRECTORY ${DBTRACE_LIBRARY_DIR}
    INSTALL_RPATH "$ORIGIN")
  dbtrace_code_generation(${target})
endfunction()

# Code that goes into a shared library of dbtrace's (its own, or the core's
# for a bundled store's objects): calls inside the library go straight to
# their callee, not through the PLT, and may be inlined. Nobody interposes
# dbtrace's own functions, and the hot path (and the exporter's per-span
# path) pays for each call. Inline member functions are not exported.
function(dbtrace_code_generation target)
  get_target_property(type ${target} TYPE)
  if(BUILD_SHARED_LIBS OR type STREQUAL "SHARED_LIBRARY")
    target_compile_options(${target} PRIVATE -fno-semantic-interposition
                                             -fvisibility-inlines-hidden)
  endif()
endfunction()

# Installs `target` as part of `component` (its export set dbtrace_<component>).
function(dbtrace_install target component)
  install(TARGETS ${target} EXPORT dbtrace_${component}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  get_property(exports GLOBAL PROPERTY DBTRACE_EXPORTS)
  if(NOT component IN_LIST exports)
    set_property(GLOBAL APPEND PROPERTY DBTRACE_EXPORTS ${component})
  endif()
endfunction()

# dbtrace-<component>.pc, relocatable (paths relative to the file itself, so
# `cmake --install --prefix` anywhere works).
#   dbtrace_pkg_config(<component> DESCRIPTION <text> LIBS <-l...> [REQUIRES <pc...>]
#                      [LIBS_PRIVATE <-l...>] [REQUIRES_PRIVATE <pc...>] [CFLAGS <flag...>])
function(dbtrace_pkg_config component)
  cmake_parse_arguments(PC "" "DESCRIPTION" "LIBS;REQUIRES;LIBS_PRIVATE;REQUIRES_PRIVATE;CFLAGS" ${ARGN})
  set(pc_dir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
  if(IS_ABSOLUTE "${pc_dir}")
    set(prefix_from_pc "${CMAKE_INSTALL_PREFIX}")
  else()
    # lib/pkgconfig -> ../.., lib/x86_64-linux-gnu/pkgconfig -> ../../..
    string(REGEX REPLACE "[^/]+" ".." up "${pc_dir}")
    set(prefix_from_pc "\${pcfiledir}/${up}")
  endif()
  list(JOIN PC_LIBS " " libs)
  list(JOIN PC_LIBS_PRIVATE " " libs_private)
  list(JOIN PC_REQUIRES " " requires)
  list(JOIN PC_REQUIRES_PRIVATE " " requires_private)
  list(JOIN PC_CFLAGS " " cflags)
  set(text "prefix=${prefix_from_pc}\n")
  string(APPEND text "libdir=\${prefix}/${CMAKE_INSTALL_LIBDIR}\n")
  string(APPEND text "includedir=\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}\n\n")
  string(APPEND text "Name: dbtrace-${component}\n")
  string(APPEND text "Description: ${PC_DESCRIPTION}\n")
  string(APPEND text "Version: ${PROJECT_VERSION}\n")
  if(requires)
    string(APPEND text "Requires: ${requires}\n")
  endif()
  if(requires_private)
    string(APPEND text "Requires.private: ${requires_private}\n")
  endif()
  string(APPEND text "Cflags: -I\${includedir} ${cflags}\n")
  string(APPEND text "Libs: -L\${libdir} ${libs}\n")
  if(libs_private)
    string(APPEND text "Libs.private: ${libs_private}\n")
  endif()
  file(WRITE ${PROJECT_BINARY_DIR}/pkgconfig/dbtrace-${component}.pc "${text}")
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/dbtrace-${component}.pc DESTINATION ${pc_dir})
endfunction()
