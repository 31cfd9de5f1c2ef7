// SPDX-License-Identifier: Apache-2.0
// W3C traceparent: the spec's parsing rules, the id mapping, and continuing a
// trace from it (OSProfiler's signed headers win when both are valid).
#include "dbtrace/traceparent.hpp"

#include "dbtrace/signing.hpp"
#include "test_support.hpp"

namespace dbtrace {
namespace {

const std::string valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(traceparent, maps_ids_as_osprofilers_otlp_driver_does) {
  const auto c = parse_traceparent(valid);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->base_id, "4bf92f35-77b3-4da6-a3ce-929d0e0e4736");
  EXPECT_EQ(c->parent_id, "00000000-0000-0000-00f0-67aa0ba902b7");
  EXPECT_TRUE(c->sampled);
  EXPECT_EQ(format_traceparent(c->base_id, c->parent_id), valid);  // the same identity both ways
  EXPECT_FALSE(
      parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")->sampled);
}

TEST(traceparent, follows_the_w3c_rules) {
  // A later version is read by its first 55 characters.
  EXPECT_TRUE(
      parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-next"));
  EXPECT_TRUE(parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  for (const std::string bad :
       {"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",     // version ff
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",     // uppercase
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",     // zero trace-id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",     // zero parent-id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xx",  // version 00 is exactly 55
        "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01xx",   // no '-' after 55
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",      // short trace-id
        "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",     // separators
        "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",     // not hex
        ""}) {
    EXPECT_FALSE(parse_traceparent(bad)) << bad;
  }
}

TEST(clean_tracestate, passes_valid_lists_on_unchanged) {
  bool changed = true;
  EXPECT_EQ(clean_tracestate("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", changed),
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  EXPECT_FALSE(changed);
  EXPECT_EQ(clean_tracestate("fw529a3039@dt=ZGVmYXVsdA , ,x/y*z_-1=a b", changed),
            "fw529a3039@dt=ZGVmYXVsdA,x/y*z_-1=a b");  // blanks around members, empty members
  EXPECT_FALSE(changed);
}

TEST(clean_tracestate, never_passes_on_a_header_it_cannot_parse) {
  bool changed = false;
  // CR/LF would inject a header into the next request.
  EXPECT_EQ(clean_tracestate("vendor=abc\r\nX-Injected: 1", changed), "");
  EXPECT_TRUE(changed);
  for (const char* bad : {"Upper=x", "novalue", "k=v,=x", "k=a,b", "1key=x", "k=a=b"}) {
    EXPECT_EQ(clean_tracestate(bad, changed), "") << bad;
    EXPECT_TRUE(changed) << bad;
  }
  std::string many;
  for (int i = 0; i < 33; ++i) many += (i ? ",k" : "k") + std::to_string(i) + "=v";
  EXPECT_EQ(clean_tracestate(many, changed), "");  // more than 32 members
  EXPECT_TRUE(changed);
}

TEST(clean_tracestate, cuts_long_lists_from_the_end_at_512_characters) {
  std::string list;
  for (int i = 0; i < 30; ++i)
    list += (i ? ",k" : "k") + std::to_string(i) + "=" + std::string(40, 'v');
  bool changed = false;
  const auto out = clean_tracestate(list, changed);
  EXPECT_TRUE(changed);
  EXPECT_LE(out.size(), 512u);
  EXPECT_EQ(out, list.substr(0, out.size()));  // whole members, the first ones
  EXPECT_EQ(out.back(), 'v');
  const std::string huge = "k=" + std::string(10 << 20, 'v');  // 10 MB: not a valid member
  EXPECT_EQ(clean_tracestate(huge, changed), "");
}

using traceparent_trace_test = testing::recorder_test;

TEST_F(traceparent_trace_test, a_tracestate_that_could_inject_headers_is_not_passed_on) {
  start();
  {
    trace t{headers{{"traceparent", valid}, {"tracestate", "vendor=abc\r\nX-Evil: 1"}}};
    EXPECT_EQ(t.status(), context_status::continued);  // the trace itself continues
    EXPECT_EQ(outgoing_headers().count("tracestate"), 0u);
  }
  EXPECT_EQ(stats().rejected_contexts, 1u);  // counted, not silent
}

TEST_F(traceparent_trace_test, a_trace_continues_from_traceparent_and_passes_tracestate_on) {
  start();
  {
    trace t{headers{{"traceparent", valid}, {"tracestate", "vendor=abc"}}};
    EXPECT_EQ(t.status(), context_status::continued);
    EXPECT_EQ(t.base_id(), "4bf92f35-77b3-4da6-a3ce-929d0e0e4736");
    span s{"rpc"};
    const auto out = outgoing_headers();
    EXPECT_EQ(out.at("tracestate"), "vendor=abc");
    // Same trace-id; the parent is now our span (its id's low 64 bits).
    const auto next = parse_traceparent(out.at("traceparent"));
    ASSERT_TRUE(next);
    EXPECT_EQ(next->base_id, t.base_id());
    EXPECT_EQ(next->parent_id.substr(19), current_context().parent_id.substr(19));
    // The OSProfiler pair names the same trace.
    EXPECT_EQ(
        verify_context(out.at("X-Trace-Info"), out.at("X-Trace-HMAC"), {"SECRET_KEY"}).ids.base_id,
        t.base_id());
  }
  const auto ev = events();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0]["parent_id"], "00000000-0000-0000-00f0-67aa0ba902b7");
}

TEST_F(traceparent_trace_test, signed_osprofiler_headers_win_and_unsampled_records_nothing) {
  start();
  const auto signed_ctx = sign_context("11111111-1111-4111-8111-111111111111",
                                       "11111111-1111-4111-8111-111111111111", "SECRET_KEY");
  {
    trace t{headers{{"X-Trace-Info", signed_ctx.info},
                    {"X-Trace-HMAC", signed_ctx.hmac},
                    {"traceparent", valid}}};
    EXPECT_EQ(t.base_id(), "11111111-1111-4111-8111-111111111111");
  }
  {
    trace t{headers{{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"}}};
    EXPECT_EQ(t.status(), context_status::not_sampled);
    EXPECT_FALSE(t.active());
    span s{"rpc"};
  }
  {
    trace t{headers{{"traceparent", "garbage"}}};
    EXPECT_EQ(t.status(), context_status::malformed);
    EXPECT_TRUE(t.active());  // a new trace of our own
  }
  EXPECT_EQ(stats().rejected_contexts, 1u);
  EXPECT_TRUE(events().empty());
}

TEST_F(traceparent_trace_test, sample_rate_keeps_about_that_share_of_own_traces) {
  opts_.sample_rate = 0.25;
  start();
  int recorded = 0;
  constexpr int traces = 4000;
  for (int i = 0; i < traces; ++i) {
    trace t;
    recorded += t.active() ? 1 : 0;
  }
  // Binomial(4000, 0.25): standard deviation 27; 5 of them either side.
  EXPECT_NEAR(recorded, traces / 4, 137);
}

}  // namespace
}  // namespace dbtrace
