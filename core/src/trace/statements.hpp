// SPDX-License-Identifier: Apache-2.0
// The process's statement and target tables: each distinct SQL text and
// connection target is prepared once (truncated, sanitized, classified,
// escaped) and then shared by every span that names it.
#pragma once

#include <string_view>

#include "config/statement_text.hpp"
#include "dbtrace/driver.hpp"
#include "dbtrace/sql.hpp"

namespace dbtrace::detail {

struct record_extra;

// Fills `s` (except its key) from the application's text, with the options in
// force; `whole_size` when `sql` is the start of a longer text.
void prepare_statement(std::string_view sql, sql_dialect dialect, statement_info& s,
                       std::size_t whole_size = 0);

// Interns `sql` as read in `dialect` (see dbtrace::intern_statement).
statement_ref intern_statement(std::string_view sql, sql_dialect dialect) noexcept;

// The dialect a target's statements are read in.
sql_dialect dialect_of(target_ref target) noexcept;

// Prepares the text of a record that was not interned (on the exporter's
// thread, off the application's); a no-op for any other record.
void prepare_deferred(record_extra* x) noexcept;

// Drops the per-thread statement caches (their entries belong to old
// options) and interns into the table of the new text options from now on.
void reset_statement_cache(bool sanitize, std::size_t max_statement_length) noexcept;

// Tests only, with no thread recording and no span in flight: empties every
// set, so that a test that filled the table leaves room for the next.
void forget_interned_statements() noexcept;

// Held across fork() so that the child never inherits a table locked by a
// thread it does not have.
void lock_interning() noexcept;
void unlock_interning() noexcept;

}  // namespace dbtrace::detail
