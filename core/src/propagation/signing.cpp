// SPDX-License-Identifier: Apache-2.0
// X-Trace-Info / X-Trace-HMAC with OpenSSL, matching osprofiler._utils.signed_pack/unpack.
#include "dbtrace/signing.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>

#include <nlohmann/json.hpp>

#include "trace/ids.hpp"

namespace dbtrace {
namespace {

std::string base64url_encode(const std::string& data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()),
                                static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  std::replace(out.begin(), out.end(), '+', '-');
  std::replace(out.begin(), out.end(), '/', '_');
  return out;
}

// Python's urlsafe_b64decode: padding required; '+' and '/' are accepted too.
std::optional<std::string> base64url_decode(std::string text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  for (char& c : text) {
    if (c == '-')
      c = '+';
    else if (c == '_')
      c = '/';
    else if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '='))
      return std::nullopt;
  }
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts padding as zero bytes; drop them.
  std::size_t pad = 0;
  if (text.back() == '=') ++pad;
  if (text.size() > 1 && text[text.size() - 2] == '=') ++pad;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

std::string strip(const std::string& s) {
  const auto* blanks = " \t\r\n\v\f";
  const auto b = s.find_first_not_of(blanks);
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(blanks) - b + 1);
}

}  // namespace

std::string hmac_sha1_hex(const std::string& data, const std::string& key) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int len = 0;
  HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(), &len);
  static const char digits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(digits[mac[i] >> 4]);
    hex.push_back(digits[mac[i] & 0xF]);
  }
  return hex;
}

signed_context sign_context(const std::string& base_id, const std::string& parent_id,
                            const std::string& key) {
  // Python json.dumps({"base_id": B, "parent_id": P}): ", " and ": " separators.
  const std::string json = "{\"base_id\": " + nlohmann::json(base_id).dump() +
                           ", \"parent_id\": " + nlohmann::json(parent_id).dump() + "}";
  signed_context s;
  s.info = base64url_encode(json);
  s.hmac = hmac_sha1_hex(s.info, key);
  return s;
}

verified_context verify_context(const std::string& info, const std::string& hmac,
                                const std::vector<std::string>& keys) noexcept {
  try {
    const std::string received = strip(hmac);
    bool trusted = false;
    for (const auto& key : keys) {
      const std::string expected = hmac_sha1_hex(info, key);
      // Constant time; lengths differ only for garbage, which leaks nothing secret.
      if (expected.size() == received.size() &&
          CRYPTO_memcmp(expected.data(), received.data(), expected.size()) == 0) {
        trusted = true;
        break;
      }
    }
    if (!trusted) return {context_status::bad_signature, {}};

    const auto json_text = base64url_decode(info);
    if (!json_text) return {context_status::malformed, {}};
    const auto j = nlohmann::json::parse(*json_text, nullptr, false);
    if (!j.is_object() || !j.contains("base_id") || !j["base_id"].is_string())
      return {context_status::malformed, {}};
    for (const auto& [k, v] : j.items()) {
      // OSProfiler's middleware ignores a context with any other key.
      if (k != "base_id" && k != "parent_id") return {context_status::malformed, {}};
    }
    context ids;
    ids.base_id = j["base_id"].get<std::string>();
    ids.parent_id = ids.base_id;
    if (j.contains("parent_id")) {
      if (!j["parent_id"].is_string()) return {context_status::malformed, {}};
      ids.parent_id = j["parent_id"].get<std::string>();
    }
    // dbtrace carries ids as 128-bit values; OSProfiler only ever makes UUIDs.
    if (!detail::parse_uuid(ids.base_id) || !detail::parse_uuid(ids.parent_id))
      return {context_status::malformed, {}};
    return {context_status::continued, ids};
  } catch (...) {
    return {context_status::malformed, {}};
  }
}

}  // namespace dbtrace
