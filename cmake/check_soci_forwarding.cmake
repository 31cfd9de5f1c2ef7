# SPDX-License-Identifier: Apache-2.0
# Fails when a SOCI backend virtual is not forwarded by the SOCI shim's
# wrappers. Reads GCC's class dump (-fdump-lang-class) of
# shim/soci/src/forwarding_check.cpp: in the vtable of each dbtrace wrapper, an
# entry that still names SOCI's class is a virtual the wrapper inherits, so the
# base class's default would run instead of the real backend's.
#   cmake -DDUMP_DIR=<dir with the .class dump> -P check_soci_forwarding.cmake
file(GLOB dumps "${DUMP_DIR}/*.class")
if(NOT dumps)
  message(FATAL_ERROR "check_soci_forwarding: no class dump in ${DUMP_DIR}")
endif()
list(GET dumps 0 dump)
file(STRINGS "${dump}" lines)
set(class "")
set(wrappers 0)
set(missing "")
foreach(line IN LISTS lines)
  if(line MATCHES "^Vtable for (dbtrace::soci::detail::traced_[a-z_]+)$")
    set(class "${CMAKE_MATCH_1}")
    math(EXPR wrappers "${wrappers} + 1")
  elseif(line STREQUAL "")
    set(class "")
  elseif(class AND line MATCHES "^[0-9]+ +\\(int \\(\\*\\)\\(...\\)\\)(.+)$")
    set(entry "${CMAKE_MATCH_1}")
    # Offset-to-top and typeinfo slots, then the wrapper's own functions.
    if(NOT entry MATCHES "^(0|\\(& _ZTI.*\\))$" AND NOT entry MATCHES "^dbtrace::soci::detail::")
      list(APPEND missing "${class} does not forward ${entry}")
    endif()
  endif()
endforeach()
if(wrappers LESS 4)
  message(FATAL_ERROR "check_soci_forwarding: found ${wrappers} of the 4 wrappers' vtables in ${dump}")
endif()
if(missing)
  list(JOIN missing "\n  " text)
  message(FATAL_ERROR "This SOCI version has backend virtuals the SOCI shim does not forward "
    "(add them to shim/soci/src/backend.hpp or use_types.hpp):\n  ${text}")
endif()
