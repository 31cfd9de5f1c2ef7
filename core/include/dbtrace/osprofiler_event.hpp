// SPDX-License-Identifier: Apache-2.0
// OSProfiler's event format, shared by every store that keeps events (JSON
// lines, Redis, PostgreSQL, memory) and by the readers: span views become
// `<name>-start` / `<name>-stop` events here, and nowhere else.
// Thread safety: an osprofiler_formatter belongs to one thread; the free
// functions are pure.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "dbtrace/detail/text_buffer.hpp"
#include "dbtrace/driver.hpp"

namespace dbtrace {

// One OSProfiler event of a formatted batch: its whole JSON text and the
// parts stores keep in columns, all views into the formatter's buffers that
// last until its next format().
struct event_text {
  std::string_view json;  // the event as OSProfiler writes it (key order name, base_id,
                          // trace_id, parent_id, timestamp, info, project, service;
                          // Python json.dumps spacing)
  std::string_view name;  // "db-start", "db-stop", "rpc-start", ...: valid UTF-8, unescaped
  std::string_view base_id, trace_id, parent_id;
  std::string_view timestamp;  // naive UTC, %Y-%m-%dT%H:%M:%S.%f
  std::string_view info;       // the JSON text of the `info` object
  bool error = false;          // a stop event that carries an etype
};

// An event_text kept beyond the batch (the memory store's).
struct event {
  event() = default;
  explicit event(const event_text& e)
      : json(e.json),
        name(e.name),
        base_id(e.base_id),
        trace_id(e.trace_id),
        parent_id(e.parent_id),
        timestamp(e.timestamp),
        info_json(e.info),
        error(e.error) {}
  std::string json, name, base_id, trace_id, parent_id, timestamp, info_json;
  bool error = false;
};

// A stored event from its whole OSProfiler JSON (the stores that keep events
// whole: Redis, JSON lines); `host` comes from info.host, as OSProfiler reads it.
stored_event stored_event_from_json(nlohmann::ordered_json event);
// An event's JSON text as a store holds it, parsed; bytes that are not UTF-8
// (a store another tool wrote) become U+FFFD rather than lose the event.
// A discarded value when the text is not JSON, or nests deeper than
// max_stored_json_depth (rendering it again would recurse that deep).
nlohmann::ordered_json parse_event_text(std::string_view text);

// How deep stored JSON (an event, a report file) may nest arrays and objects:
// OSProfiler's events nest a few levels; a store or file nesting deeper is
// hostile or broken, and reading it is refused rather than crash the reader.
constexpr std::size_t max_stored_json_depth = 128;
// A report file's JSON text (`dbtrace trace show FILE`), parsed; throws
// std::invalid_argument when it is not JSON or nests too deep.
nlohmann::ordered_json parse_report_text(std::string_view text);

// The text of the last second formatted (one gmtime per second of timestamps),
// for write_timestamp.
struct timestamp_cache {
  std::int64_t second = INT64_MIN;  // none yet
  char prefix[20] = {};             // `%Y-%m-%dT%H:%M:%S.` of `second`
  void refill(std::int64_t new_second) noexcept;
};

// Turns span views into OSProfiler events: a span is none, one or two events
// by its phase. Each event is written once, straight into one buffer, from
// fragments rendered once (a trace's ids, a statement's db-start info, the
// project/service tail), so that a span costs its exporter a few copies.
class osprofiler_formatter {
 public:
  // What a store takes of an event: its JSON text (a JSON lines file,
  // Redis), or only its columns (a SQL table's), which leaves each event's
  // `json` and lines() empty and spares rendering the text around them.
  enum class parts { json_and_columns, columns };
  osprofiler_formatter(std::string project, std::string service, std::string host,
                       parts wanted = parts::json_and_columns);

  // The events of `batch`, in order; they last until the next call.
  const std::vector<event_text>& format(const std::vector<span_view>& batch);
  // The same events as JSON lines: each event's text and a newline.
  std::string_view lines() const noexcept {
    return parts_ == parts::columns ? std::string_view() : text_.view();
  }

 private:
  // An id's text, formatted again only when the id changes: a trace's
  // base_id and parent come span after span, a span's id in both its events.
  class uuid_cache {
   public:
    std::string_view text(const detail::id128& id) noexcept;

   private:
    detail::id128 id_{};
    char text_[36] = {};
    bool set_ = false;
  };
  // Where an event's parts are in text_ (and names_), until the batch is done
  // and text_ stops moving.
  struct placed {
    std::size_t begin, ids, info, info_end, end;
    std::size_t name, name_size;  // in names_, or a static text (name_static)
    const char* name_static;
    bool error;
  };
  void add(const span_view& v);
  void write_event(const span_view& v, bool start, std::string_view name_json,
                   std::string_view info);
  // Writes a SQL stop event's info without an error straight into the event.
  std::string_view sql_stop_info(const span_view& v);
  std::string_view sql_start_info(const span_view& v);
  parts parts_;
  std::string project_, service_, host_, host_json_;
  std::string tail_;  // `, "project": …, "service": …}` and the newline
  uuid_cache base_id_, trace_id_, parent_id_;
  timestamp_cache second_;
  // The last db-start info without params or batch size: the same for every
  // execution of one interned statement on one target.
  std::uint64_t start_statement_ = 0, start_target_ = 0;
  std::string start_info_;
  std::string scratch_, name_json_;  // an info or name rendered before it is copied in
  detail::text_buffer text_, names_;
  std::vector<placed> placed_;
  std::vector<event_text> events_;
};

// Naive UTC `%Y-%m-%dT%H:%M:%S.%f` (always 6 digits), as OSProfiler writes it.
void format_timestamp(std::int64_t ns, std::string& out);
// Writes the same, its 26 characters, to `out` and returns their end; the
// last second's text is kept in `last`, not in a thread_local. Inline: an
// exporter writes two a span.
inline char* write_timestamp(char* out, std::int64_t ns, timestamp_cache& last) noexcept {
  constexpr std::int64_t ns_per_second = 1000000000;
  std::int64_t second = ns / ns_per_second, in_second = ns % ns_per_second;
  if (in_second < 0) {  // before the epoch: the second before, and a positive rest
    in_second += ns_per_second;
    --second;
  }
  if (second != last.second) last.refill(second);
  std::memcpy(out, last.prefix, sizeof last.prefix);
  const auto micros = static_cast<std::uint32_t>(in_second / 1000);
  return detail::digits::four(detail::digits::two(out + 20, micros / 10000), micros % 10000);
}
// The same from microseconds (what stores read back), for any year up to 9999.
void format_timestamp_us(std::int64_t us, std::string& out);
// Microseconds since the epoch of such a timestamp (fewer fraction digits
// allowed); nullopt if malformed.
std::optional<std::int64_t> parse_timestamp(const std::string& ts);

// `text` as a JSON string literal the way Python's json.dumps writes it
// (ensure_ascii); invalid UTF-8 becomes U+FFFD instead of failing.
void append_json_string(std::string& out, std::string_view text);
// Writes `j` the way Python's json.dumps does by default: ", " and ": "
// separators, non-ASCII escaped; invalid UTF-8 becomes U+FFFD.
void append_python_json(std::string& out, const nlohmann::json& j);
// `text` with every invalid UTF-8 sequence replaced by U+FFFD.
std::string valid_utf8(std::string_view text);

// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", lowercase.
std::string uuid_text(const detail::id128& id);

// OSProfiler's `data` table, as its SQLAlchemy driver creates it (CREATE
// TABLE/INDEX IF NOT EXISTS); `id_column` is the dialect's auto-numbered key
// ("id SERIAL PRIMARY KEY", "id INTEGER NOT NULL PRIMARY KEY").
std::string data_table_ddl(const char* id_column);

// OSProfiler's SQL stores hold the payload as a JSON string (double-encoded);
// this accepts that and plain JSON, and gives an empty object for anything else
// (also for JSON nesting deeper than max_stored_json_depth).
nlohmann::ordered_json decode_data_column(std::string_view text);

}  // namespace dbtrace
