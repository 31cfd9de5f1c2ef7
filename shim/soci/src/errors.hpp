// SPDX-License-Identifier: Apache-2.0
// Turning the exception a SOCI backend threw into span error fields.
#pragma once

#include <string>

#include "dbtrace/sql.hpp"

namespace dbtrace::soci::detail {

// Call from a catch block: records the in-flight exception's type, message,
// SOCI error category and SQLSTATE (PostgreSQL) or result code (SQLite) on `span`.
// The caller rethrows the exception unchanged.
void record_current_exception(sql_span& span) noexcept;

// A session of SOCI backend `backend` ("postgresql") opened: with SOCI 4.0 and
// shared libraries, loads what reads that backend's error codes.
void backend_opened(const std::string& backend) noexcept;

}  // namespace dbtrace::soci::detail
