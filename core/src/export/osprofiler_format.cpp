// SPDX-License-Identifier: Apache-2.0
// Span views to OSProfiler events: the one formatter behind every store that
// keeps events. Runs on the exporter thread (and in readers), never on the
// application's.
#include <cstring>
#include <string>

#include "dbtrace/detail/text_buffer.hpp"
#include "dbtrace/osprofiler_event.hpp"
#include "trace/ids.hpp"

namespace dbtrace {
namespace {

void append_integer(std::string& out, std::int64_t v) {
  char buf[24];
  out.append(buf, static_cast<std::size_t>(detail::put_decimal(buf, v) - buf));
}

void append_error(std::string& info, const span_error& e) {
  info += "\"etype\": ";
  append_json_string(info, e.etype);
  info += ", \"message\": ";
  append_json_string(info, e.message);
  info += ", ";
}

// info of a db-start: OSProfiler's statement (and params), then the OTel
// attributes known at start.
void render_sql_start_info(std::string& info, const span_view& v, const std::string& host_json) {
  info.assign("{\"db\": {\"statement\": ");
  info += v.statement->json_text;
  if (v.params && v.params->is_array()) {
    info += ", \"params\": ";
    append_python_json(info, *v.params);
  }
  if (v.target) info += v.target->json_attributes;
  info += v.statement->json_attributes;
  if (v.batch > 0) {
    info += ", \"db.operation.batch.size\": ";
    append_integer(info, v.batch);
  }
  info += "}, \"host\": ";
  info += host_json;
  info += '}';
}

// info of a db-stop: the outcome.
void render_sql_stop_info(std::string& info, const span_view& v, const std::string& host_json) {
  info.assign("{");
  if (v.error) {
    append_error(info, *v.error);
    info += "\"db\": {\"original_exception\": ";
    append_json_string(info, v.error->message);
    info += ", \"error.type\": ";
    append_json_string(info, v.error->etype);
    if (!v.error->sqlstate.empty()) {
      info += ", \"db.response.status_code\": ";
      append_json_string(info, v.error->sqlstate);
    }
    if (!v.error->category.empty()) {
      info += ", \"db.error.category\": ";
      append_json_string(info, v.error->category);
    }
    info += "}, ";
  } else if (v.rows >= 0) {
    info += "\"db\": {\"db.response.returned_rows\": ";
    append_integer(info, v.rows);
    info += "}, ";
  }
  info += "\"host\": ";
  info += host_json;
  info += '}';
}

// info of a generic span's start: what the application passed, then host.
void generic_start_info(std::string& info, const span_view& v, const std::string& host_json) {
  info.assign("{");
  if (v.info && v.info->is_object()) {
    for (const auto& [key, value] : v.info->items()) {
      if (key == "host") continue;
      append_json_string(info, key);
      info += ": ";
      append_python_json(info, value);
      info += ", ";
    }
  }
  info += "\"host\": ";
  info += host_json;
  info += '}';
}

void generic_stop_info(std::string& info, const span_view& v, const std::string& host_json) {
  info.assign("{");
  if (v.error) append_error(info, *v.error);
  info += "\"host\": ";
  info += host_json;
  info += '}';
}

}  // namespace

osprofiler_formatter::osprofiler_formatter(std::string project, std::string service,
                                           std::string host, parts wanted)
    : parts_(wanted),
      project_(valid_utf8(project)),
      service_(valid_utf8(service)),
      host_(valid_utf8(host)) {
  append_json_string(host_json_, host_);
  tail_ = ", \"project\": ";
  append_json_string(tail_, project_);
  tail_ += ", \"service\": ";
  append_json_string(tail_, service_);
  tail_ += "}\n";
}

std::string_view osprofiler_formatter::uuid_cache::text(const detail::id128& id) noexcept {
  if (!set_ || id.hi != id_.hi || id.lo != id_.lo) {
    detail::format_uuid(id, text_);
    id_ = id;
    set_ = true;
  }
  return {text_, sizeof text_};
}

std::string_view osprofiler_formatter::sql_start_info(const span_view& v) {
  const bool reusable =
      !v.params && v.batch <= 0 && v.statement->key != 0 && (!v.target || v.target->key != 0);
  if (!reusable) {
    render_sql_start_info(scratch_, v, host_json_);
    return scratch_;
  }
  const std::uint64_t target = v.target ? v.target->key : 0;
  if (start_info_.empty() || start_statement_ != v.statement->key || start_target_ != target) {
    render_sql_start_info(start_info_, v, host_json_);
    start_statement_ = v.statement->key;
    start_target_ = target;
  }
  return start_info_;
}

// The keys around an event's values, in OSProfiler's order and spacing.
namespace {
constexpr std::string_view key_name = "{\"name\": ";
constexpr std::string_view key_base_id = ", \"base_id\": \"";
constexpr std::string_view key_trace_id = "\", \"trace_id\": \"";
constexpr std::string_view key_parent_id = "\", \"parent_id\": \"";
constexpr std::string_view key_timestamp = "\", \"timestamp\": \"";
constexpr std::string_view key_info = "\", \"info\": ";
constexpr std::size_t uuid_size = 36, timestamp_size = 26;
constexpr std::size_t keys_size = key_name.size() + key_base_id.size() + key_trace_id.size() +
                                  key_parent_id.size() + key_timestamp.size() + key_info.size();
constexpr std::string_view rows_prefix = "{\"db\": {\"db.response.returned_rows\": ";
constexpr std::size_t max_digits = 20;  // of an int64, its sign included
}  // namespace

void osprofiler_formatter::write_event(const span_view& v, bool start, std::string_view name_json,
                                       std::string_view info) {
  if (parts_ == parts::columns) {  // the ids, timestamp and info side by side
    char* const begin = text_.room(3 * uuid_size + timestamp_size + info.size());
    char* p = detail::put(begin, base_id_.text(v.base_id));
    p = detail::put(p, trace_id_.text(v.id));
    p = detail::put(p, parent_id_.text(v.parent_id));
    p = write_timestamp(p, start ? v.start_ns : v.end_ns, second_);
    const char* info_at = p;
    p = detail::put(p, info);
    const auto at = static_cast<std::size_t>(begin - text_.data());
    placed_.push_back({at, at, static_cast<std::size_t>(info_at - text_.data()),
                       static_cast<std::size_t>(p - text_.data()), at, 0, 0, nullptr,
                       !start && v.error != nullptr});
    text_.commit(p);
    return;
  }
  char* const begin = text_.room(keys_size + name_json.size() + 3 * uuid_size + timestamp_size +
                                 info.size() + tail_.size());
  char* p = detail::put(begin, key_name);
  p = detail::put(p, name_json);
  p = detail::put(p, key_base_id);
  const char* ids = p;
  p = detail::put(p, base_id_.text(v.base_id));
  p = detail::put(p, key_trace_id);
  p = detail::put(p, trace_id_.text(v.id));
  p = detail::put(p, key_parent_id);
  p = detail::put(p, parent_id_.text(v.parent_id));
  p = detail::put(p, key_timestamp);
  p = write_timestamp(p, start ? v.start_ns : v.end_ns, second_);
  p = detail::put(p, key_info);
  const char* info_at = p;
  p = detail::put(p, info);
  const char* info_end = p;
  p = detail::put(p, tail_);
  const char* const base = text_.data();
  placed_.push_back(
      {static_cast<std::size_t>(begin - base), static_cast<std::size_t>(ids - base),
       static_cast<std::size_t>(info_at - base), static_cast<std::size_t>(info_end - base),
       static_cast<std::size_t>(p - base) - 1, 0, 0, nullptr, !start && v.error != nullptr});
  text_.commit(p);
}

std::string_view osprofiler_formatter::sql_stop_info(const span_view& v) {
  if (v.error) {
    render_sql_stop_info(scratch_, v, host_json_);
    return scratch_;
  }
  // No error: `{"db": {"db.response.returned_rows": N}, "host": H}`, or
  // `{"host": H}` when the rows are unknown, without a string of its own.
  scratch_.resize(rows_prefix.size() + max_digits + 11 + host_json_.size() + 1);
  char* p = scratch_.data();
  if (v.rows >= 0) {
    p = detail::put(p, rows_prefix);
    p = detail::put_decimal(p, v.rows);
    p = detail::put(p, "}, \"host\": ");
  } else {
    p = detail::put(p, "{\"host\": ");
  }
  p = detail::put(p, host_json_);
  *p++ = '}';
  return {scratch_.data(), static_cast<std::size_t>(p - scratch_.data())};
}

void osprofiler_formatter::add(const span_view& v) {
  const bool start = v.phase != span_phase::finished;
  const bool stop = v.phase != span_phase::started;
  if (v.is_sql()) {
    if (start) {
      write_event(v, true, "\"db-start\"", sql_start_info(v));
      placed_.back().name_static = "db-start";
      placed_.back().name_size = 8;
    }
    if (stop) {
      write_event(v, false, "\"db-stop\"", sql_stop_info(v));
      placed_.back().name_static = "db-stop";
      placed_.back().name_size = 7;
    }
    return;
  }
  // A generic span: the application's name, valid UTF-8 in columns as in JSON.
  const std::string name = valid_utf8(v.name);
  for (const bool starts : {true, false}) {
    if (starts ? !start : !stop) continue;
    const std::string_view suffix = starts ? "-start" : "-stop";
    const std::size_t name_at = names_.size();
    names_.append(name);
    names_.append(suffix);
    name_json_.clear();
    append_json_string(name_json_,
                       std::string_view(names_.data() + name_at, names_.size() - name_at));
    if (starts)
      generic_start_info(scratch_, v, host_json_);
    else
      generic_stop_info(scratch_, v, host_json_);
    write_event(v, starts, name_json_, scratch_);
    placed_.back().name = name_at;
    placed_.back().name_size = names_.size() - name_at;
  }
}

const std::vector<event_text>& osprofiler_formatter::format(const std::vector<span_view>& batch) {
  text_.clear();
  names_.clear();
  text_.release_above(std::size_t{16} << 20);  // a batch of huge spans is not kept
  names_.release_above(std::size_t{1} << 20);
  placed_.clear();
  for (const auto& v : batch) add(v);
  // The text is where it stays: its parts can be handed out.
  events_.resize(placed_.size());
  const char* const text = text_.data();
  const bool keyed = parts_ == parts::json_and_columns;  // keys between the ids (write_event)
  const std::size_t trace_id_at = uuid_size + (keyed ? key_trace_id.size() : 0);
  const std::size_t parent_id_at = trace_id_at + uuid_size + (keyed ? key_parent_id.size() : 0);
  const std::size_t timestamp_at = parent_id_at + uuid_size + (keyed ? key_timestamp.size() : 0);
  for (std::size_t i = 0; i < placed_.size(); ++i) {
    const placed& at = placed_[i];
    event_text& e = events_[i];
    e.json = {text + at.begin, at.end - at.begin};
    e.name = {at.name_static ? at.name_static : names_.data() + at.name, at.name_size};
    e.base_id = {text + at.ids, uuid_size};
    e.trace_id = {text + at.ids + trace_id_at, uuid_size};
    e.parent_id = {text + at.ids + parent_id_at, uuid_size};
    e.timestamp = {text + at.ids + timestamp_at, timestamp_size};
    e.info = {text + at.info, at.info_end - at.info};
    e.error = at.error;
  }
  return events_;
}

}  // namespace dbtrace
