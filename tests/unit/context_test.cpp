// SPDX-License-Identifier: Apache-2.0
// The per-thread id stack follows OSProfiler: [base_id, parent_id or base_id, ...].
#include <algorithm>
#include <optional>
#include <set>
#include <thread>

#include "dbtrace/signing.hpp"
#include "dbtrace/sql.hpp"
#include "test_support.hpp"

namespace dbtrace {
namespace {

using testing::recorder_test;
using context_test = recorder_test;

TEST_F(context_test, first_span_hangs_under_base_id_and_nested_spans_chain) {
  start();
  std::string base;
  {
    trace t;
    base = t.base_id();
    ASSERT_EQ(t.status(), context_status::new_trace);
    span outer{"wsgi", {{"path", "/x"}}};
    { span inner{"rpc"}; }
  }
  const auto ev = events();
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[0]["name"], "wsgi-start");
  EXPECT_EQ(ev[1]["name"], "rpc-start");
  EXPECT_EQ(ev[2]["name"], "rpc-stop");
  EXPECT_EQ(ev[3]["name"], "wsgi-stop");
  for (const auto& e : ev) EXPECT_EQ(e["base_id"], base);
  EXPECT_EQ(ev[0]["parent_id"], base);               // top-level: parent is base_id
  EXPECT_EQ(ev[1]["parent_id"], ev[0]["trace_id"]);  // nested: parent is the outer span
  EXPECT_EQ(ev[2]["trace_id"], ev[1]["trace_id"]);   // stop carries its start's ids
  EXPECT_EQ(ev[2]["parent_id"], ev[1]["parent_id"]);
  EXPECT_EQ(ev[0]["info"]["path"], "/x");
  EXPECT_EQ(ev[0]["project"], "proj");
  EXPECT_EQ(ev[0]["service"], "svc");
  EXPECT_TRUE(ev[3]["info"].contains("host"));
}

// A trace that outlives its thread's own state (a static or thread_local one,
// ended as the thread or process exits, after dbtrace's thread_locals are
// gone) ends without touching freed memory (ASan saw it write there), and
// what was recorded in it is kept.
TEST_F(context_test, a_trace_ending_after_its_threads_state_is_gone_keeps_what_it_recorded) {
  start();
  std::string base;
  std::thread([&] {
    struct ends_late {
      std::optional<trace> t;
    };
    // Constructed before dbtrace's thread_locals, so destroyed after them.
    thread_local ends_late late;
    late.t.emplace();
    base = late.t->base_id();
    span s{"work"};
  }).join();
  const auto ev = events();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0]["name"], "work-start");
  EXPECT_EQ(ev[0]["base_id"], base);
  EXPECT_EQ(ev[1]["name"], "work-stop");
}

// Spans and contexts asked for after the thread's trace state is destroyed
// (from a thread_local's destructor at thread exit) touch none of it: a span
// made then records nothing, one made before still records its stop.
TEST_F(context_test, spans_made_or_ended_as_the_thread_exits_touch_no_destroyed_state) {
  start();
  context late_context{"not asked yet", "", ""};
  std::thread([&] {
    struct ends_late {
      std::optional<trace> t;
      std::optional<span> s;
      context* seen = nullptr;
      ~ends_late() {  // runs before its members are destroyed: the trace is still open
        span made_late{"late"};
        *seen = current_context();
      }
    };
    // Constructed before dbtrace's thread_locals, so destroyed after them.
    thread_local ends_late late;
    late.seen = &late_context;
    late.t.emplace();
    late.s.emplace("work");
  }).join();
  EXPECT_FALSE(late_context.valid());
  // (Not in order: the stop went in after the thread's queue producer was
  // released, by the queue's shared path.)
  std::multiset<std::string> names;
  for (const auto& e : events()) names.insert(e["name"].get<std::string>());
  EXPECT_EQ(names, (std::multiset<std::string>{"work-start", "work-stop"}));
}

// A span's info written as a JSON literal is stored as that JSON, whatever it holds.
TEST_F(context_test, a_spans_info_is_recorded_as_the_json_it_is_written_as) {
  start();
  value deep = "bottom";
  for (int i = 0; i < 100; ++i) deep = {{"in", deep}};
  {
    trace t;
    span s{"wsgi",
           {{"request", {{"method", "POST"}, {"path", std::string("/users/") + "7"}}},
            {"attempt", 2},
            {"big", std::uint64_t{18446744073709551615u}},
            {"ratio", 0.5},
            {"cached", false},
            {"none", nullptr},
            {"tags", value::array({"a", 1, value::array({true})})},
            {"deep", deep}}};
    span plain{"rpc", 42};  // not an object: kept under "value"
  }
  const auto ev = events();
  ASSERT_EQ(ev.size(), 4u);
  const auto& info = ev[0]["info"];
  EXPECT_EQ(info["request"], (nlohmann::json{{"method", "POST"}, {"path", "/users/7"}}));
  EXPECT_EQ(info["attempt"], 2);
  EXPECT_EQ(info["big"], 18446744073709551615u);
  EXPECT_EQ(info["ratio"], 0.5);
  EXPECT_EQ(info["cached"], false);
  EXPECT_TRUE(info["none"].is_null());
  EXPECT_EQ(info["tags"], nlohmann::json::parse(R"(["a", 1, [true]])"));
  // 100 levels deep: cut at 64 with a note, not recursed into without end.
  auto level = info["deep"];
  int depth = 0;
  while (level.is_object()) level = level["in"], ++depth;
  EXPECT_LT(depth, 70);
  EXPECT_NE(level.get<std::string>().find("nested deeper than 64 levels"), std::string::npos);
  EXPECT_EQ(ev[1]["info"]["value"], 42);
}

TEST_F(context_test, nothing_is_recorded_outside_a_trace_or_when_disabled) {
  start();
  { span s{"orphan"}; }
  EXPECT_TRUE(events().empty());
  EXPECT_FALSE(current_context().valid());

  opts_.enabled = false;
  start();
  trace t;
  EXPECT_EQ(t.status(), context_status::disabled);
  EXPECT_FALSE(t.active());
  EXPECT_TRUE(outgoing_headers().empty());
}

TEST_F(context_test, traces_ended_out_of_order_leave_no_trace_active) {
  start();
  const auto before = current_context();  // none
  auto outer = std::make_unique<trace>();
  auto inner = std::make_unique<trace>();
  const auto inner_ctx = current_context();
  outer.reset();  // the outer one first: the inner one is still the current trace
  EXPECT_EQ(current_context().base_id, inner_ctx.base_id);
  inner.reset();  // and when it ends, what was there before both comes back
  EXPECT_EQ(current_context().base_id, before.base_id);
  EXPECT_FALSE(current_context().valid());
  { sql_span s({}, "SELECT 'after both'"); }
  EXPECT_TRUE(events().empty());  // nothing active: nothing recorded
}

TEST_F(context_test, a_trace_restores_the_outer_one_when_it_ends) {
  start();
  trace outer;
  const auto outer_ctx = current_context();
  {
    trace inner;
    EXPECT_NE(current_context().base_id, outer_ctx.base_id);
  }
  EXPECT_EQ(current_context().base_id, outer_ctx.base_id);
  EXPECT_EQ(current_context().parent_id, outer_ctx.parent_id);
}

TEST_F(context_test, outgoing_headers_continue_the_trace_under_the_current_span) {
  start();
  trace t;
  span s{"rpc"};
  const auto h = outgoing_headers();
  ASSERT_EQ(h.count("X-Trace-Info"), 1u);
  ASSERT_EQ(h.count("x-trace-hmac"), 1u);  // names compare case-insensitively

  const auto v = verify_context(h.at("X-Trace-Info"), h.at("X-Trace-HMAC"), {"SECRET_KEY"});
  ASSERT_EQ(v.status, context_status::continued);
  EXPECT_EQ(v.ids.base_id, t.base_id());
  EXPECT_EQ(v.ids.parent_id, current_context().parent_id);
}

TEST_F(context_test, a_signed_context_is_continued_with_its_ids) {
  start();
  const auto signed_ctx = sign_context("6f0c1b5e-9a43-4c2a-8f3e-2b7d9e4a1c05",
                                       "a3d1e2f4-5b6c-4d7e-8f90-1a2b3c4d5e6f", "SECRET_KEY");
  {
    trace t{headers{{"x-trace-info", signed_ctx.info}, {"X-TRACE-HMAC", signed_ctx.hmac}}};
    EXPECT_EQ(t.status(), context_status::continued);
    EXPECT_EQ(t.base_id(), "6f0c1b5e-9a43-4c2a-8f3e-2b7d9e4a1c05");
    span s{"db"};
  }
  const auto ev = events();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0]["parent_id"], "a3d1e2f4-5b6c-4d7e-8f90-1a2b3c4d5e6f");
  EXPECT_EQ(stats().rejected_contexts, 0u);
}

TEST_F(context_test, untrusted_contexts_start_a_new_trace_and_are_counted) {
  opts_.hmac_keys = {"MY_KEY"};
  start();
  const auto wrong_key = sign_context("6f0c1b5e-9a43-4c2a-8f3e-2b7d9e4a1c05",
                                      "6f0c1b5e-9a43-4c2a-8f3e-2b7d9e4a1c05", "OTHER");
  struct incoming {
    headers h;
    context_status expected;
  } cases[] = {
      {{}, context_status::no_context},
      {{{"X-Trace-Info", wrong_key.info}}, context_status::unsigned_context},
      {{{"X-Trace-Info", wrong_key.info}, {"X-Trace-HMAC", wrong_key.hmac}},
       context_status::bad_signature},
      {{{"X-Trace-Info", "!!!"}, {"X-Trace-HMAC", hmac_sha1_hex("!!!", "MY_KEY")}},
       context_status::malformed},
  };
  for (const auto& c : cases) {
    trace t{c.h};
    EXPECT_EQ(t.status(), c.expected) << to_string(c.expected);
    EXPECT_TRUE(t.active());
    EXPECT_NE(t.base_id(), "6f0c1b5e-9a43-4c2a-8f3e-2b7d9e4a1c05");
  }
  EXPECT_EQ(stats().rejected_contexts, 3u);  // a request without headers is not a rejection
}

// A wrong hmac_keys would split every trace silently: said once, without a secret.
TEST_F(context_test, a_signature_matching_no_key_is_said_once_without_secrets) {
  opts_.hmac_keys = {"MY_KEY"};
  start();
  const auto wrong_key = sign_context("6f0c1b5e-9a43-4c2a-8f3e-2b7d9e4a1c05",
                                      "6f0c1b5e-9a43-4c2a-8f3e-2b7d9e4a1c05", "OTHER");
  const headers h{{"X-Trace-Info", wrong_key.info}, {"X-Trace-HMAC", wrong_key.hmac}};
  std::string said;
  {
    testing::capture_stderr capture;
    for (int i = 0; i < 3; ++i) {
      trace t{h};
      EXPECT_EQ(t.status(), context_status::bad_signature);
    }
    said = capture.text();
  }
  EXPECT_EQ(std::count(said.begin(), said.end(), '\n'), 1) << said;
  EXPECT_NE(said.find("matches none of hmac_keys"), std::string::npos) << said;
  for (const std::string& secret : {std::string("MY_KEY"), std::string("OTHER"), wrong_key.hmac,
                                    wrong_key.info, std::string("6f0c1b5e")})
    EXPECT_EQ(said.find(secret), std::string::npos) << secret;
  EXPECT_EQ(stats().rejected_contexts, 3u);
}

TEST_F(context_test, a_captured_context_continues_on_another_thread) {
  start();
  trace t;
  span s{"request"};
  const context ctx = current_context();
  std::thread worker([ctx] {
    attach a{ctx};
    span child{"worker"};
  });
  worker.join();
  const auto ev = events();
  ASSERT_EQ(ev.size(), 3u);  // request-start, worker-start, worker-stop
  // Threads' events arrive in any order relative to each other: find them by name.
  auto named = [&](const char* name) {
    for (const auto& e : ev)
      if (e["name"] == name) return e;
    return nlohmann::json();
  };
  EXPECT_EQ(named("worker-start")["base_id"], t.base_id());
  EXPECT_EQ(named("worker-start")["parent_id"], named("request-start")["trace_id"]);
}

TEST_F(context_test, a_span_left_by_an_exception_records_the_error) {
  start();
  trace t;
  try {
    span s{"rpc"};
    throw std::runtime_error("boom");
  } catch (const std::exception&) {
  }
  {
    span s{"rpc2"};
    s.set_error(std::invalid_argument("bad id"));
  }
  const auto ev = events();
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[1]["info"]["etype"], "exception");
  EXPECT_EQ(ev[3]["info"]["etype"], "std::invalid_argument");
  EXPECT_EQ(ev[3]["info"]["message"], "bad id");
}

TEST_F(context_test, sample_rate_zero_records_nothing_for_own_traces) {
  opts_.sample_rate = 0.0;
  start();
  {
    trace t;
    EXPECT_EQ(t.status(), context_status::not_sampled);
    EXPECT_FALSE(t.active());
    span s{"rpc"};
  }
  EXPECT_TRUE(events().empty());
}

TEST_F(context_test, an_outer_trace_keeps_its_own_id_while_an_inner_one_runs) {
  start();
  trace outer;
  const std::string id = outer.base_id();
  ASSERT_FALSE(id.empty());
  {
    trace inner;
    EXPECT_NE(inner.base_id(), id);
    EXPECT_EQ(outer.base_id(), id);
    EXPECT_TRUE(outer.active());
  }
  EXPECT_EQ(outer.base_id(), id);
}

TEST_F(context_test, a_trace_takes_nothing_from_the_one_before_it_on_its_thread) {
  // A thread reuses its last trace's saved state: ids, tracestate and spans
  // of that trace must not show through in the next one.
  start();
  const std::string caller_base = "4bf92f35-77b3-4da6-a3ce-929d0e0e4736";
  std::string first_base;
  {
    trace continued{
        headers{{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
                {"tracestate", "congo=t61rcWkgMzE"}}};
    ASSERT_EQ(continued.status(), context_status::continued);
    EXPECT_EQ(current_context().tracestate, "congo=t61rcWkgMzE");
    span s{"inner"};
  }
  for (int round = 0; round < 3; ++round) {
    trace fresh;
    const auto c = current_context();
    ASSERT_TRUE(c.valid());
    EXPECT_EQ(c.base_id, fresh.base_id());  // formatted from the ids, as the events carry it
    EXPECT_EQ(c.parent_id, c.base_id);      // no span of the trace before is open here
    EXPECT_NE(c.base_id, caller_base);
    EXPECT_NE(c.base_id, first_base);
    EXPECT_TRUE(c.tracestate.empty());
    first_base = c.base_id;
    sql_span q({}, "SELECT 1");
  }
  const auto ev = events();
  ASSERT_EQ(ev.size(), 2u + 3u * 2u);
  std::set<std::string> bases;
  for (std::size_t i = 2; i < ev.size(); ++i) {
    bases.insert(ev[i]["base_id"].get<std::string>());
    EXPECT_EQ(ev[i]["parent_id"], ev[i]["base_id"]);
  }
  EXPECT_EQ(bases.size(), 3u);
  EXPECT_EQ(bases.count(caller_base), 0u);
}

TEST_F(context_test, a_context_whose_ids_are_not_uuids_continues_nothing_and_is_counted) {
  start();
  trace t{context{"garbage", "also garbage", ""}};
  EXPECT_EQ(t.status(), context_status::malformed);
  EXPECT_FALSE(t.active());
  EXPECT_EQ(t.base_id(), "");
  EXPECT_EQ(stats().rejected_contexts, 1u);
}

}  // namespace
}  // namespace dbtrace
