// SPDX-License-Identifier: Apache-2.0
// dbtrace — every SQL statement of a C++ data layer as a span of the request's trace.
// Start here: load options, init, open traces and spans; shims record SQL.
// Thread safety: init/shutdown from one thread while no statement is traced;
// everything else from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "dbtrace/context.hpp"
#include "dbtrace/error.hpp"
#include "dbtrace/options.hpp"

namespace dbtrace {

// Starts recording with `o` (a second call first shuts the running pipeline
// down). Throws config_error when the connection string names no driver that
// is built in; a backend that is down is not an error here: writes are retried
// and counted.
void init(const options& o);
// init(load_options(path)). Throws config_error for a bad file, key or value
// (naming the file, line and key), as load_options does.
void init_from_file(const std::string& path);
// The same for a service that must start anyway: never throws; on an error it
// writes one line to stderr ("dbtrace: app.conf:7: …; tracing stays off"),
// leaves tracing off and returns false.
bool try_init_from_file(const std::string& path) noexcept;

// The options in force (defaults before init).
const options& current_options() noexcept;

// Waits until everything recorded so far is written (or dropped and counted).
// Returns false when `timeout` passes first; without one, the option
// flush_timeout (default 30 s).
bool flush() noexcept;
bool flush(std::chrono::milliseconds timeout) noexcept;

// Flushes within `deadline`, then stops the exporter; what is still queued
// then is counted as dropped. Returns within the deadline (plus a little),
// also when the backend hangs. Without one, the option shutdown_timeout
// (default 5 s); a second init() stops the running pipeline the same way.
void shutdown() noexcept;
void shutdown(std::chrono::milliseconds deadline) noexcept;

// Counters since init, in events (a SQL span is two events). After flush():
// exported + dropped == recorded.
struct statistics {
  std::uint64_t recorded = 0;           // events the application produced while tracing
  std::uint64_t exported = 0;           // events the driver wrote
  std::uint64_t dropped = 0;            // events lost: full queue, rejected or abandoned batches
  std::uint64_t failed_writes = 0;      // driver write attempts that failed (each retry counts)
  std::uint64_t rejected_contexts = 0;  // incoming headers not trusted (see context_status)
  // What could not be recorded: a span's bound value, error, row count or
  // connection target (out of memory, or a driver that throws when asked;
  // the span is kept), or, out of memory, a whole span. Said once on stderr.
  std::uint64_t lost_details = 0;
};
statistics stats() noexcept;

}  // namespace dbtrace
