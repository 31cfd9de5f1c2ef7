// SPDX-License-Identifier: Apache-2.0
// X-Trace-Info / X-Trace-HMAC: OSProfiler's reference vectors and the real
// Python OSProfiler as the peer, both directions.
#include <fstream>

#include "dbtrace/signing.hpp"
#include "test_support.hpp"

namespace dbtrace {
namespace {

nlohmann::json vectors() {
  std::ifstream in(std::string(DBTRACE_TEST_DATA) + "/osprofiler/hmac_vectors.json");
  return nlohmann::json::parse(in);
}

const std::vector<std::string> key{"SECRET_KEY"};

TEST(signing, matches_osprofiler_reference_vectors_byte_for_byte) {
  const auto v = vectors();
  ASSERT_FALSE(v["vectors"].empty());
  for (const auto& vec : v["vectors"]) {
    const auto s = sign_context(vec["input"]["base_id"], vec["input"]["parent_id"], "SECRET_KEY");
    EXPECT_EQ(s.info, vec["X-Trace-Info"]);
    EXPECT_EQ(s.hmac, vec["X-Trace-HMAC"]);
    const auto r = verify_context(vec["X-Trace-Info"], vec["X-Trace-HMAC"], key);
    ASSERT_EQ(r.status, context_status::continued);
    EXPECT_EQ(r.ids.base_id, vec["input"]["base_id"]);
    EXPECT_EQ(r.ids.parent_id, vec["input"]["parent_id"]);
  }
}

TEST(signing, accepts_the_json_forms_osprofiler_accepts) {
  const auto all = vectors();  // items() only views it: it must outlive the loop
  for (const auto& [label, alt] : all["alternative_encodings"].items()) {
    const auto r = verify_context(alt["X-Trace-Info"], alt["X-Trace-HMAC"], key);
    ASSERT_EQ(r.status, context_status::continued) << label;
    EXPECT_EQ(r.ids.base_id, alt["middleware_trace"]["base_id"]) << label;
    EXPECT_EQ(r.ids.parent_id, alt["middleware_trace"]["parent_id"]) << label;
  }
}

TEST(signing, refuses_what_osprofiler_refuses) {
  const auto v = vectors();
  const std::string info = v["vectors"][1]["X-Trace-Info"];
  const std::string hmac = v["vectors"][1]["X-Trace-HMAC"];
  std::string upper = hmac;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string tampered = info;
  tampered[40] = tampered[40] == 'A' ? 'B' : 'A';
  std::string last_digit = hmac;
  last_digit.back() = last_digit.back() == '0' ? '1' : '0';
  const std::string unpadded = v["checks"][14]["detail"]["X-Trace-Info"];

  EXPECT_EQ(verify_context(tampered, hmac, key).status, context_status::bad_signature);
  EXPECT_EQ(verify_context(info, last_digit, key).status, context_status::bad_signature);
  EXPECT_EQ(verify_context(info, hmac, {"WRONG"}).status, context_status::bad_signature);
  EXPECT_EQ(verify_context(info, upper, key).status, context_status::bad_signature);
  EXPECT_EQ(verify_context(info, "", key).status, context_status::bad_signature);
  EXPECT_EQ(verify_context(info, hmac, {}).status, context_status::bad_signature);
  // HMAC over the JSON instead of the base64 text.
  EXPECT_EQ(verify_context(info, v["checks"][10]["detail"], key).status,
            context_status::bad_signature);
  // Validly signed but not decodable as OSProfiler decodes it.
  EXPECT_EQ(verify_context(unpadded, hmac_sha1_hex(unpadded, "SECRET_KEY"), key).status,
            context_status::malformed);
  for (const std::string payload : {"not base64!", "bm90IGpzb24=" /* "not json" */,
                                    "eyJwYXJlbnRfaWQiOiAieCJ9" /* no base_id */}) {
    EXPECT_EQ(verify_context(payload, hmac_sha1_hex(payload, "SECRET_KEY"), key).status,
              context_status::malformed)
        << payload;
  }
  // An extra key ('sampled'): OSProfiler's middleware ignores the context.
  const std::string with_sampled =
      R"({"base_id": "6f0c1b5e-9a43-4c2a-8f3e-2b7d9e4a1c05", "parent_id": "6f0c1b5e-9a43-4c2a-8f3e-2b7d9e4a1c05", "sampled": true})";
  const auto b64 =
      testing::run("printf '%s' '" + with_sampled + "' | base64 -w0 | tr '+/' '-_'").out;
  EXPECT_EQ(verify_context(b64, hmac_sha1_hex(b64, "SECRET_KEY"), key).status,
            context_status::malformed);
}

TEST(signing, accepts_surrounding_blanks_and_any_of_several_keys) {
  const auto v = vectors()["vectors"][0];
  EXPECT_EQ(
      verify_context(v["X-Trace-Info"], "  " + v["X-Trace-HMAC"].get<std::string>() + "\n", key)
          .status,
      context_status::continued);
  EXPECT_EQ(
      verify_context(v["X-Trace-Info"], v["X-Trace-HMAC"], {"OTHER_KEY", "SECRET_KEY"}).status,
      context_status::continued);
}

TEST(signing, python_osprofiler_verifies_what_dbtrace_signs) {
  DBTRACE_REQUIRE_PYTHON_PEER();
  const auto s = sign_context("11111111-2222-4333-8444-555555555555",
                              "66666666-7777-4888-9999-aaaaaaaaaaaa", "interop-key");
  const auto r = testing::run_python(R"(
import json, sys
from osprofiler import _utils
print(json.dumps(_utils.signed_unpack(sys.argv[1], sys.argv[2], ["interop-key"])))
)",
                                     {s.info, s.hmac});
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["base_id"], "11111111-2222-4333-8444-555555555555");
  EXPECT_EQ(j["parent_id"], "66666666-7777-4888-9999-aaaaaaaaaaaa");
}

TEST(signing, dbtrace_verifies_what_python_osprofiler_signs) {
  DBTRACE_REQUIRE_PYTHON_PEER();
  const auto r = testing::run_python(R"(
from osprofiler import web, profiler
profiler.init("py-key", base_id="11111111-2222-4333-8444-555555555555",
              parent_id="66666666-7777-4888-9999-aaaaaaaaaaaa")
h = web.get_trace_id_headers()
as_text = lambda v: v.decode() if isinstance(v, bytes) else v  # X-Trace-Info is bytes
print(as_text(h["X-Trace-Info"]))
print(as_text(h["X-Trace-HMAC"]))
)");
  ASSERT_EQ(r.status, 0) << r.out;
  std::istringstream lines(r.out);
  std::string info, hmac;
  std::getline(lines, info);
  std::getline(lines, hmac);
  const auto v = verify_context(info, hmac, {"py-key"});
  ASSERT_EQ(v.status, context_status::continued);
  EXPECT_EQ(v.ids.base_id, "11111111-2222-4333-8444-555555555555");
  EXPECT_EQ(v.ids.parent_id, "66666666-7777-4888-9999-aaaaaaaaaaaa");
  EXPECT_EQ(verify_context(info, hmac, {"other"}).status, context_status::bad_signature);
}

}  // namespace
}  // namespace dbtrace

namespace dbtrace {
namespace {

// The same headers through both implementations: dbtrace continues a trace
// exactly when OSProfiler's WsgiMiddleware would (signed_unpack, then only
// base_id/parent_id keys, base_id required).
TEST(signing, refuses_exactly_where_osprofiler_refuses) {
  DBTRACE_REQUIRE_PYTHON_PEER();
  const std::string b = "6f0c1b5e-9a43-4c2a-8f3e-2b7d9e4a1c05",
                    p = "a3d1e2f4-5b6c-4d7e-8f90-1a2b3c4d5e6f";
  auto b64 = [](const std::string& json) {
    return testing::run("printf '%s' '" + json + "' | base64 -w0 | tr '+/' '-_'").out;
  };
  const auto good = sign_context(b, p, "SECRET_KEY");
  struct test_case {
    std::string label, info, hmac;
  };
  std::vector<test_case> cases = {
      {"valid", good.info, good.hmac},
      {"wrong key", good.info, sign_context(b, p, "OTHER").hmac},
      {"tampered payload", "X" + good.info.substr(1), good.hmac},
      {"uppercase hmac", good.info,
       [&] {
         auto h = good.hmac;
         for (auto& c : h) c = static_cast<char>(std::toupper(c));
         return h;
       }()},
      {"blank-padded hmac", good.info, " " + good.hmac + " "},
      {"empty hmac", good.info, ""},
  };
  for (const auto& [label, json] : std::vector<std::pair<std::string, std::string>>{
           {"extra field",
            R"({"base_id": ")" + b + R"(", "parent_id": ")" + p + R"(", "sampled": true})"},
           {"missing base_id", R"({"parent_id": ")" + p + R"("})"},
           {"no parent_id", R"({"base_id": ")" + b + R"("})"},
           {"compact json", R"({"base_id":")" + b + R"(","parent_id":")" + p + R"("})"},
           {"not json", "hello"}}) {
    const auto info = b64(json);
    cases.push_back({label, info, hmac_sha1_hex(info, "SECRET_KEY")});
  }
  nlohmann::json input = nlohmann::json::array();
  for (const auto& c : cases) input.push_back({c.info, c.hmac});
  const auto r = testing::run_python(R"(
import json, sys
from osprofiler import _utils
out = []
for info, hmac in json.loads(sys.argv[1]):
    try:
        d = _utils.signed_unpack(info, hmac, ["SECRET_KEY"])
    except Exception:
        d = None
    # osprofiler.web.WsgiMiddleware: the keys it accepts, base_id required.
    ok = d is not None and "base_id" in d and set(d) <= {"base_id", "parent_id", "hmac_key"}
    out.append(ok)
print(json.dumps(out))
)",
                                     {input.dump()});
  ASSERT_EQ(r.status, 0) << r.out;
  const auto theirs = nlohmann::json::parse(r.out);
  ASSERT_EQ(theirs.size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const bool ours = verify_context(cases[i].info, cases[i].hmac, {"SECRET_KEY"}).status ==
                      context_status::continued;
    EXPECT_EQ(ours, theirs[i].get<bool>()) << cases[i].label;
  }
}

}  // namespace
}  // namespace dbtrace
