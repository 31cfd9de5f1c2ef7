// SPDX-License-Identifier: Apache-2.0
// X-Trace-Info / X-Trace-HMAC as a service receives them: verified or refused,
// never a crash; what verifies names UUID-shaped ids, and a context signed
// with the key verifies again to the same ids.
#include "dbtrace/signing.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dbtrace;
  const auto [info, hmac] = fuzz::two_parts(data, size);
  const std::vector<std::string> keys{"SECRET_KEY", "other"};
  const auto v = verify_context(info, hmac, keys);
  if (v.status != context_status::continued) return 0;
  fuzz::must(v.ids.base_id.size() == 36 && v.ids.parent_id.size() == 36,
             "a verified context carries UUIDs");
  const auto again = sign_context(v.ids.base_id, v.ids.parent_id, "SECRET_KEY");
  const auto w = verify_context(again.info, again.hmac, keys);
  fuzz::must(w.status == context_status::continued && w.ids.base_id == v.ids.base_id &&
                 w.ids.parent_id == v.ids.parent_id,
             "a re-signed context verifies to the same ids");
  return 0;
}
