// SPDX-License-Identifier: Apache-2.0
// redis:// — OSProfiler's Redis layout, through hiredis.
#include "dbtrace/drivers/redis.hpp"

#include <hiredis/hiredis.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <unordered_map>

#include "dbtrace/detail/text_buffer.hpp"
#include "dbtrace/error.hpp"
#include "dbtrace/osprofiler_event.hpp"

namespace dbtrace::drivers {
namespace {

const std::string events_prefix = "osprofiler_opt:";
const std::string errors_prefix = "osprofiler_error:";

// A batch is written once, whole: one MULTI/EXEC transaction that also sets
// the batch's marker key (named after the batch's first span, so a retry of
// the same batch names the same key). Before it, WATCH and GET the marker: if
// it exists, an earlier attempt whose reply was lost did write the batch; if
// another connection sets it meanwhile (a stalled server running the earlier
// attempt late), WATCH makes this EXEC do nothing. Either way, no duplicates.
constexpr int marker_seconds = 300;
// Outside OSProfiler's key prefixes, so that no reader lists it as a trace.
const std::string marker_prefix = "dbtrace_batch:";

struct location {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string password;
};

// redis://[[user]:password@]host[:port][/db], as redis-py's from_url reads it
// (a userinfo without ':' is the password).
location parse(const std::string& uri) {
  const auto u = parse_connection_uri(uri);
  location l;
  if (!u.host.empty()) l.host = u.host;
  l.port = u.port.value_or(l.port);
  l.password = u.password.empty() ? u.user : u.password;
  if (u.path.size() > 1) {
    const std::string db = u.path.substr(1);
    char* end = nullptr;
    const long n = std::strtol(db.c_str(), &end, 10);
    if (*end != '\0' || db[0] == '-' || n > 1'000'000)
      throw config_error("connection_string: the database in '" + redact_connection_string(uri) +
                         "' is not a number (redis://host/0)");
    l.db = static_cast<int>(n);
  }
  return l;
}

using reply_ptr = std::unique_ptr<redisReply, decltype(&freeReplyObject)>;

constexpr timeval answer_timeout{2, 0};  // a dead or stopped server must not hold the exporter

// What hiredis says went wrong, with its timeout named as one.
std::string problem(const redisContext& c) {
  const std::string_view text = c.errstr;
  if (c.err == REDIS_ERR_IO && text.find("temporarily unavailable") != std::string_view::npos)
    return "no answer from the server in " + std::to_string(answer_timeout.tv_sec) +
           " s (stopped or overloaded?)";
  return text.empty() ? "connection lost" : std::string(text);
}

// Where the store is, and how to connect to it (writer and reader alike).
struct server {
  explicit server(const std::string& uri)
      : where(parse(uri)), shown(redact_connection_string(uri)) {}

  // A connection, or null and what went wrong (not naming the store).
  redisContext* connect(std::string& error) const {
    redisContext* c = redisConnectWithTimeout(where.host.c_str(), where.port, answer_timeout);
    if (!c || c->err) {
      error = c ? problem(*c) : "cannot allocate a connection";
      if (c) redisFree(c);
      return nullptr;
    }
    redisSetTimeout(c, answer_timeout);
    auto check = [&](redisReply* r) {
      reply_ptr reply(r, freeReplyObject);
      if (!reply || reply->type == REDIS_REPLY_ERROR) {
        error = reply ? std::string(reply->str, reply->len) : problem(*c);
        return false;
      }
      return true;
    };
    if ((!where.password.empty() &&
         !check(static_cast<redisReply*>(redisCommand(c, "AUTH %s", where.password.c_str())))) ||
        (where.db != 0 &&
         !check(static_cast<redisReply*>(redisCommand(c, "SELECT %d", where.db))))) {
      redisFree(c);
      return nullptr;
    }
    return c;
  }

  location where;
  std::string shown;  // the URI without its password, for messages
};

// Its messages name no store: the exporter's report does.
class redis_writer final : public writer {
 public:
  explicit redis_writer(const store_params& p)
      : server_(p.connection_string),
        filter_error_trace_(p.filter_error_trace),
        format_(p.project, p.service, p.host) {}
  ~redis_writer() override { close(); }

  write_result write(const std::vector<span_view>& batch, std::string& error) noexcept override {
    try {
      if (!ctx_ && !(ctx_ = server_.connect(error))) return write_result::unreachable;
      const auto& events = format_.format(batch);
      const std::size_t used = events.size();
      // One LPUSH per trace with all of its events in order (the list ends up
      // as one LPUSH per event leaves it), written in Redis's protocol
      // directly; pipelined: all commands out, then all replies in.
      // Each trace's events are chained in batch order (next_), so grouping
      // them allocates nothing per trace once the vectors have grown.
      run_of_.clear();  // its keys are views into the last batch's text
      runs_.clear();
      next_.resize(used);
      trace_run* same = nullptr;  // the last event's trace: mostly the next's
      for (std::size_t i = 0; i < used; ++i) {
        if (!same || events[i].base_id != events[i - 1].base_id) {
          const auto [at, fresh] = run_of_.try_emplace(events[i].base_id, runs_.size());
          if (fresh) {
            runs_.push_back({events[i].base_id, i, i, 0});
            same = &runs_.back();
          } else {
            same = &runs_[at->second];
          }
        }
        if (same->count++) next_[same->last] = i;
        same->last = i;
      }
      refused_ = 0;
      if (used == 0) return write_result::ok;
      const std::string marker = marker_prefix + batch_marker(batch);
      // Round trip 1: was this batch written by an attempt whose reply was lost?
      out_.clear();
      append_command(out_, {"WATCH", marker});
      append_command(out_, {"GET", marker});
      reply_ptr written(nullptr, freeReplyObject);
      if (!send(error) || !receive(error) || !(written = receive(error)))
        return write_result::retry;
      if (written->type == REDIS_REPLY_ERROR) return refused(*written, error);
      if (written->type != REDIS_REPLY_NIL) {
        out_.clear();
        append_command(out_, {"UNWATCH"});
        if (!send(error) || !receive(error)) return write_result::retry;
        return write_result::ok;
      }
      // Round trip 2: the batch, in one transaction with its marker. One LPUSH
      // per trace with all of its events in order (the list ends up as one
      // LPUSH per event leaves it), written in Redis's protocol directly.
      out_.clear();
      append_command(out_, {"MULTI"});
      for (const trace_run& run : runs_) {
        append_count(out_, run.count + 2);
        append_bulk(out_, "LPUSH");
        append_bulk(out_, events_prefix, run.base);
        for (std::size_t i = run.first, n = 0; n < run.count; ++n, i = next_[i])
          append_bulk(out_, events[i].json);
      }
      std::size_t commands = runs_.size();
      for (std::size_t i = 0; i < used && filter_error_trace_; ++i) {
        const event_text& e = events[i];
        if (!e.error) continue;
        const std::string base_id(e.base_id), timestamp(e.timestamp);
        append_command(
            out_, {"SET", errors_prefix + base_id,
                   "{\"base_id\": \"" + base_id + "\", \"timestamp\": \"" + timestamp + "\"}"});
        ++commands;
      }
      append_command(out_, {"SET", marker, "1", "EX", std::to_string(marker_seconds)});
      append_command(out_, {"EXEC"});
      if (!send(error)) return write_result::retry;
      for (std::size_t i = 0; i < commands + 2; ++i) {  // +OK, then +QUEUED per command
        reply_ptr queued = receive(error);
        if (!queued) return write_result::retry;
        if (queued->type == REDIS_REPLY_ERROR) error.assign(queued->str, queued->len);
      }
      reply_ptr done = receive(error);
      if (!done) return write_result::retry;  // the marker makes the retry safe
      if (done->type == REDIS_REPLY_ERROR) return refused(*done, error);  // e.g. EXECABORT
      if (done->type == REDIS_REPLY_NIL) return write_result::ok;  // written by the earlier attempt
      if (done->type != REDIS_REPLY_ARRAY) {
        error = "unexpected reply to EXEC";
        return write_result::retry;
      }
      // Refused commands (e.g. WRONGTYPE: the key holds something else) lose
      // their trace's events; the rest of the batch is written.
      bool any_refused = false;
      for (std::size_t i = 0; i < done->elements && i < runs_.size(); ++i) {
        const redisReply* r = done->element[i];
        if (r->type != REDIS_REPLY_ERROR) continue;
        if (!any_refused) error.assign(r->str, r->len);
        any_refused = true;
        refused_ += runs_[i].count;
      }
      return any_refused ? write_result::partly : write_result::ok;
    } catch (const std::exception& e) {
      error = e.what();
      return write_result::retry;
    }
  }

  std::uint64_t refused_events() noexcept override { return refused_; }

  void shutdown(std::chrono::milliseconds) noexcept override { close(); }

 private:
  void close() {
    if (ctx_) redisFree(ctx_);
    ctx_ = nullptr;
  }

  // Sends what out_ holds straight to the socket hiredis connected (its own
  // buffer, empty between round trips, would take a copy of the whole batch
  // first); hiredis then reads the replies. The socket's send timeout is the
  // answer timeout (redisSetTimeout). False (and the connection closed) when
  // it cannot.
  bool send(std::string& error) {
    const char* at = out_.data();
    std::size_t left = out_.size();
    while (left > 0) {
      const ssize_t sent = ::send(ctx_->fd, at, left, MSG_NOSIGNAL);
      if (sent > 0) {
        at += sent;
        left -= static_cast<std::size_t>(sent);
      } else if (sent < 0 && errno == EINTR) {
        continue;
      } else {
        error = sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
                    ? "the server took no more in " + std::to_string(answer_timeout.tv_sec) +
                          " s (stopped or overloaded?)"
                    : std::string("cannot send: ") + std::strerror(sent < 0 ? errno : EPIPE);
        close();
        return false;
      }
    }
    return true;
  }
  // The next reply; null (and the connection closed) when the connection failed.
  reply_ptr receive(std::string& error) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) == REDIS_OK)
      return reply_ptr(static_cast<redisReply*>(raw), freeReplyObject);
    error = problem(*ctx_);
    close();
    return reply_ptr(nullptr, freeReplyObject);
  }
  // A command the server refused as a whole: permanent, or worth a retry.
  static write_result refused(const redisReply& reply, std::string& error) {
    error.assign(reply.str, reply.len);
    // A server that does not allow the commands will not on a retry either;
    // anything else (LOADING, OOM, a transaction aborted) may pass later.
    const bool never = error.rfind("NOPERM", 0) == 0 || error.rfind("ERR unknown command", 0) == 0;
    return never ? write_result::rejected : write_result::retry;
  }
  static void append_command(detail::text_buffer& out,
                             std::initializer_list<std::string_view> args) {
    append_count(out, args.size());
    for (const auto a : args) append_bulk(out, a);
  }
  // `<mark><n>\r\n`: a command's count of arguments (*), a bulk string's size ($).
  static char* put_count(char* p, char mark, std::size_t n) {
    *p++ = mark;
    p = detail::put_decimal(p, static_cast<std::uint64_t>(n));
    return detail::put(p, "\r\n");
  }
  static void append_count(detail::text_buffer& out, std::size_t n) {
    out.commit(put_count(out.room(max_digits + 3), '*', n));
  }
  // A RESP bulk string: `$<size>\r\n<s>\r\n`; of two parts, their concatenation.
  static void append_bulk(detail::text_buffer& out, std::string_view s,
                          std::string_view then = {}) {
    const std::size_t size = s.size() + then.size();
    char* p = put_count(out.room(max_digits + 3 + size + 2), '$', size);
    out.commit(detail::put(detail::put(detail::put(p, s), then), "\r\n"));
  }
  static constexpr std::size_t max_digits = 20;

  server server_;
  bool filter_error_trace_;
  osprofiler_formatter format_;
  redisContext* ctx_ = nullptr;
  // A batch's events by trace (views into the formatter's batch): one run
  // per trace, in order of first appearance, its events chained by next_.
  struct trace_run {
    std::string_view base;
    std::size_t first, last, count;
  };
  std::unordered_map<std::string_view, std::size_t> run_of_;  // trace -> index in runs_
  std::vector<trace_run> runs_;
  std::vector<std::size_t> next_;  // per event: the next event of its trace
  detail::text_buffer out_;        // the commands of a round trip
  std::uint64_t refused_ = 0;      // events of the last write that Redis refused
};

class redis_reader final : public reader {
 public:
  explicit redis_reader(const std::string& uri) : server_(uri) {}

  std::vector<trace_summary> list_traces(bool errors_only) override {
    connection r(server_);
    std::vector<trace_summary> out;
    if (errors_only) {
      for (const auto& key : r.scan(errors_prefix + "*")) {
        // One key that is not OSProfiler's (another type, another shape) is
        // skipped; the rest of the store is still listed.
        const auto value = r.command({"GET", key}, connection::skip_refused);
        if (!value || value->type != REDIS_REPLY_STRING) continue;
        const auto j = nlohmann::json::parse(std::string(value->str, value->len), nullptr, false);
        if (j.is_object() && j.contains("base_id") && j["base_id"].is_string() &&
            j.contains("timestamp") && j["timestamp"].is_string())
          out.push_back({j["base_id"].get<std::string>(), j["timestamp"].get<std::string>()});
      }
    } else {
      for (const auto& key : r.scan(events_prefix + "*")) {
        // LPUSH puts the newest first: the last element is the trace's first event.
        const auto value = r.command({"LINDEX", key, "-1"}, connection::skip_refused);
        if (!value || value->type != REDIS_REPLY_STRING) continue;
        const auto j = nlohmann::json::parse(std::string(value->str, value->len), nullptr, false);
        out.push_back({key.substr(events_prefix.size()),
                       j.is_object() && j.contains("timestamp") && j["timestamp"].is_string()
                           ? j["timestamp"].get<std::string>()
                           : std::string()});
      }
    }
    std::sort(out.begin(), out.end(), [](const trace_summary& a, const trace_summary& b) {
      return a.timestamp != b.timestamp ? a.timestamp < b.timestamp : a.base_id < b.base_id;
    });
    return out;
  }

  std::vector<stored_event> read_trace(const std::string& base_id) override {
    connection r(server_);
    const auto list = r.command({"LRANGE", events_prefix + base_id, "0", "-1"});
    std::vector<stored_event> out;
    if (list->type != REDIS_REPLY_ARRAY) return out;
    for (std::size_t i = 0; i < list->elements; ++i) {
      const auto* item = list->element[i];
      auto j = parse_event_text(std::string_view(item->str, item->len));
      if (!j.is_object()) continue;  // not an event: skipped, the others still read
      out.push_back(stored_event_from_json(std::move(j)));
    }
    return out;
  }

 private:
  // A connection of the CLI's own.
  struct connection {
    explicit connection(const server& d) : d_(d) {
      std::string error;
      c_ = d.connect(error);
      if (!c_) throw store_error(d.shown + ": " + error);
    }
    ~connection() { redisFree(c_); }
    static constexpr bool skip_refused = true;
    // Runs one command; a reply that is an error (WRONGTYPE, say) throws, or
    // with `skip_refused` gives null.
    reply_ptr command(std::vector<std::string> args, bool refused_is_null = false) {
      std::vector<const char*> argv;
      std::vector<std::size_t> lens;
      for (const auto& a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
      }
      reply_ptr r(static_cast<redisReply*>(redisCommandArgv(c_, static_cast<int>(argv.size()),
                                                            argv.data(), lens.data())),
                  freeReplyObject);
      if (!r) throw store_error(d_.shown + ": " + c_->errstr);
      if (r->type == REDIS_REPLY_ERROR) {
        if (refused_is_null) return reply_ptr(nullptr, freeReplyObject);
        throw store_error(d_.shown + ": " + std::string(r->str, r->len));
      }
      return r;
    }
    std::vector<std::string> scan(const std::string& pattern) {
      std::vector<std::string> keys;
      std::string cursor = "0";
      do {
        const auto r = command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) break;
        cursor.assign(r->element[0]->str, r->element[0]->len);
        const auto* batch = r->element[1];
        for (std::size_t i = 0; i < batch->elements; ++i)
          keys.emplace_back(batch->element[i]->str, batch->element[i]->len);
      } while (cursor != "0");
      return keys;
    }
    const server& d_;
    redisContext* c_;
  };

  server server_;
};

}  // namespace

store_kind redis_store() {
  return {{"redis://"},
          [](const store_params& p) { return std::make_unique<redis_writer>(p); },
          [](const std::string& uri) { return std::make_unique<redis_reader>(uri); }};
}

}  // namespace dbtrace::drivers
