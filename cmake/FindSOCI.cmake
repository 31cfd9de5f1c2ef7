# SPDX-License-Identifier: Apache-2.0
# FindSOCI — Debian's libsoci-dev ships no CMake package, so find it here.
# Defines SOCI::core and, for each backend found, SOCI::<backend>
# (sqlite3, postgresql, mysql, odbc, firebird); SOCI_FOUND. The targets are
# global, so a project that adds dbtrace as a subdirectory links them too.
find_path(SOCI_INCLUDE_DIR soci/soci.h)
find_library(SOCI_CORE_LIBRARY NAMES soci_core)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(SOCI REQUIRED_VARS SOCI_CORE_LIBRARY SOCI_INCLUDE_DIR)
if(SOCI_FOUND AND NOT TARGET SOCI::core)
  add_library(SOCI::core UNKNOWN IMPORTED GLOBAL)
  set_target_properties(SOCI::core PROPERTIES IMPORTED_LOCATION ${SOCI_CORE_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${SOCI_INCLUDE_DIR})
  # The backends of this SOCI, beside its core (never another installed version's).
  get_filename_component(_soci_lib_dir ${SOCI_CORE_LIBRARY} DIRECTORY)
  foreach(backend sqlite3 postgresql mysql odbc firebird)
    find_library(SOCI_${backend}_LIBRARY NAMES soci_${backend} PATHS ${_soci_lib_dir} NO_DEFAULT_PATH)
    if(SOCI_${backend}_LIBRARY)
      add_library(SOCI::${backend} UNKNOWN IMPORTED GLOBAL)
      set_target_properties(SOCI::${backend} PROPERTIES IMPORTED_LOCATION ${SOCI_${backend}_LIBRARY}
        INTERFACE_LINK_LIBRARIES SOCI::core)
    endif()
  endforeach()
  # soci-postgresql.h includes libpq-fe.h, which Debian keeps in include/postgresql;
  # soci-mysql.h includes mysql.h, in include/mariadb. SOCI_<backend>_HEADERS_USABLE
  # says whether that backend's header can be included.
  find_package(PkgConfig QUIET)
  foreach(pair "postgresql;libpq" "mysql;libmariadb")
    list(GET pair 0 backend)
    list(GET pair 1 client)
    set(SOCI_${backend}_HEADERS_USABLE FALSE)
    if(TARGET SOCI::${backend})
      pkg_check_modules(SOCI_${client} QUIET IMPORTED_TARGET ${client})
      if(TARGET PkgConfig::SOCI_${client})
        set_property(TARGET SOCI::${backend} APPEND PROPERTY INTERFACE_LINK_LIBRARIES PkgConfig::SOCI_${client})
        set(SOCI_${backend}_HEADERS_USABLE TRUE)
      endif()
    endif()
  endforeach()
  set(SOCI_sqlite3_HEADERS_USABLE TRUE)
endif()
mark_as_advanced(SOCI_INCLUDE_DIR SOCI_CORE_LIBRARY)
