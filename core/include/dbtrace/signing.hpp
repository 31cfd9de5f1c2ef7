// SPDX-License-Identifier: Apache-2.0
// OSProfiler's signed context: X-Trace-Info = base64url(JSON), X-Trace-HMAC = hex HMAC-SHA1
// of that base64 text. Byte-compatible with osprofiler._utils.signed_pack / signed_unpack.
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dbtrace/context.hpp"

namespace dbtrace {

struct signed_context {
  std::string info;  // X-Trace-Info
  std::string hmac;  // X-Trace-HMAC
};

// Signs {"base_id": B, "parent_id": P} (Python json.dumps spacing) with `key`.
signed_context sign_context(const std::string& base_id, const std::string& parent_id,
                            const std::string& key);

struct verified_context {
  context_status status;  // continued, or why not
  context ids;            // set when status == continued
};

// Verifies as OSProfiler's WsgiMiddleware does: the HMAC of the received text
// with each key (constant-time compare, surrounding blanks stripped), then
// base64url with padding, then JSON with only base_id / parent_id (parent_id
// defaults to base_id). Never throws.
verified_context verify_context(const std::string& info, const std::string& hmac,
                                const std::vector<std::string>& keys) noexcept;

// The lowercase hex HMAC-SHA1 of `data` with `key`.
std::string hmac_sha1_hex(const std::string& data, const std::string& key);

}  // namespace dbtrace
