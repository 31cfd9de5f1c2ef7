// SPDX-License-Identifier: Apache-2.0
// dbtrace::pqxx — libpqxx traced where libpq sends its statements.
//
// Linking dbtrace::pqxx (-ldbtrace_pqxx) with trace_sql on is the switch:
// libpqxx's own types record one db span per statement libpq sends, whatever
// the libpqxx version, type or call path (exec*, prepared statements, streams,
// cursors, pipelines, a destructor's ROLLBACK). Nothing to include, nothing to
// swap; see docs/pqxx.md and shim/pqxx/src/libpq_trace.cpp.
//
// This header only keeps code written for dbtrace 0.1's wrapper types
// compiling: each name is now the libpqxx type itself, deprecated.
#pragma once

#include <pqxx/pqxx>

namespace dbtrace::pqxx {

using connection [[deprecated("use pqxx::connection: libpqxx is traced as it is")]] =
    ::pqxx::connection;
using work [[deprecated("use pqxx::work: libpqxx is traced as it is")]] = ::pqxx::work;
using nontransaction [[deprecated("use pqxx::nontransaction: libpqxx is traced as it is")]] =
    ::pqxx::nontransaction;
using read_transaction [[deprecated("use pqxx::read_transaction: libpqxx is traced as it is")]] =
    ::pqxx::read_transaction;
using subtransaction [[deprecated("use pqxx::subtransaction: libpqxx is traced as it is")]] =
    ::pqxx::subtransaction;
template <::pqxx::isolation_level L = ::pqxx::isolation_level::read_committed>
using robusttransaction [[deprecated("use pqxx::robusttransaction: libpqxx is traced as it is")]] =
    ::pqxx::robusttransaction<L>;
#if PQXX_VERSION_MAJOR < 7
// (libpqxx 7 deprecates stream_from: an alias of it would warn.)
using stream_from [[deprecated("use pqxx::stream_from: libpqxx is traced as it is")]] =
    ::pqxx::stream_from;
using stream_to [[deprecated("use pqxx::stream_to: libpqxx is traced as it is")]] =
    ::pqxx::stream_to;
#endif

}  // namespace dbtrace::pqxx
