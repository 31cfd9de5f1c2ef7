// SPDX-License-Identifier: Apache-2.0
// Compiled with GCC's class dump: cmake/check_soci_forwarding.cmake reads the
// wrappers' vtables from it and fails the build if a SOCI virtual is not forwarded.
#include "backend.hpp"
#include "use_types.hpp"
