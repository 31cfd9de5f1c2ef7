# FindSOCI — Debian's libsoci-dev ships no CMake package, so find it here.
# Defines SOCI::core and, for each backend found, SOCI::<backend>
# (sqlite3, postgresql, mysql, odbc, firebird); SOCI_FOUND.
find_path(SOCI_INCLUDE_DIR soci/soci.h)
find_library(SOCI_CORE_LIBRARY NAMES soci_core)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(SOCI REQUIRED_VARS SOCI_CORE_LIBRARY SOCI_INCLUDE_DIR)
if(SOCI_FOUND AND NOT TARGET SOCI::core)
  add_library(SOCI::core UNKNOWN IMPORTED)
  set_target_properties(SOCI::core PROPERTIES IMPORTED_LOCATION ${SOCI_CORE_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${SOCI_INCLUDE_DIR})
  foreach(backend sqlite3 postgresql mysql odbc firebird)
    find_library(SOCI_${backend}_LIBRARY NAMES soci_${backend})
    if(SOCI_${backend}_LIBRARY)
      add_library(SOCI::${backend} UNKNOWN IMPORTED)
      set_target_properties(SOCI::${backend} PROPERTIES IMPORTED_LOCATION ${SOCI_${backend}_LIBRARY}
        INTERFACE_LINK_LIBRARIES SOCI::core)
    endif()
  endforeach()
  # soci-postgresql.h includes libpq-fe.h, which Debian keeps in include/postgresql.
  if(TARGET SOCI::postgresql)
    find_package(PkgConfig QUIET)
    pkg_check_modules(SOCI_LIBPQ QUIET IMPORTED_TARGET libpq)
    if(TARGET PkgConfig::SOCI_LIBPQ)
      set_property(TARGET SOCI::postgresql APPEND PROPERTY INTERFACE_LINK_LIBRARIES PkgConfig::SOCI_LIBPQ)
    endif()
  endif()
endif()
mark_as_advanced(SOCI_INCLUDE_DIR SOCI_CORE_LIBRARY)
