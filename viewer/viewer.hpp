// SPDX-License-Identifier: Apache-2.0
// The self-contained HTML page of one trace (`dbtrace trace show --html`).
#pragma once

#include <string>

#include "dbtrace/report.hpp"

namespace dbtrace::viewer {

// The page with the trace's data embedded; it loads nothing from anywhere.
std::string render_html(const stored_trace& trace);

}  // namespace dbtrace::viewer
