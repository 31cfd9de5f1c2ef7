// SPDX-License-Identifier: Apache-2.0
// Span views to OSProfiler events: the one formatter behind every store that
// keeps events. Runs on the exporter thread (and in readers), never on the
// application's.
#include <charconv>
#include <cstring>

#include "dbtrace/osprofiler_event.hpp"
#include "trace/ids.hpp"

namespace dbtrace {
namespace {

void append_integer(std::string& out, std::int64_t v) {
  char buf[24];
  const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  out.append(buf, static_cast<std::size_t>(end - buf));
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
void sql_stop_info(std::string& info, const span_view& v, const std::string& host_json) {
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
                                           std::string host)
    : project_(valid_utf8(project)), service_(valid_utf8(service)), host_(valid_utf8(host)) {
  append_json_string(host_json_, host_);
}

void osprofiler_formatter::uuid_cache::put(const detail::id128& id, std::string& out) {
  if (!set_ || id.hi != id_.hi || id.lo != id_.lo) {
    detail::format_uuid(id, text_);
    id_ = id;
    set_ = true;
  }
  if (out.size() == sizeof text_)
    std::memcpy(out.data(), text_, sizeof text_);  // a reused event's: no call to assign
  else
    out.assign(text_, sizeof text_);
}

void osprofiler_formatter::sql_start_info(std::string& info, const span_view& v) {
  const bool reusable =
      !v.params && v.batch <= 0 && v.statement->key != 0 && (!v.target || v.target->key != 0);
  if (!reusable) return render_sql_start_info(info, v, host_json_);
  const std::uint64_t target = v.target ? v.target->key : 0;
  if (start_info_.empty() || start_statement_ != v.statement->key || start_target_ != target) {
    render_sql_start_info(start_info_, v, host_json_);
    start_statement_ = v.statement->key;
    start_target_ = target;
  }
  info = start_info_;
}

event& osprofiler_formatter::next(std::vector<event>& out, std::size_t& used) {
  if (used == out.size()) out.emplace_back();
  return out[used++];
}

void osprofiler_formatter::fill(event& e, const span_view& v, std::string_view suffix,
                                std::int64_t ns) {
  if (v.is_sql())
    e.name.assign(v.name.data(), v.name.size());
  else
    e.name = valid_utf8(v.name);  // the application's text: it goes into columns as well
  e.name.append(suffix.data(), suffix.size());
  base_id_.put(v.base_id, e.base_id);
  trace_id_.put(v.id, e.trace_id);
  parent_id_.put(v.parent_id, e.parent_id);
  format_timestamp(ns, e.timestamp, second_);
  e.project = project_;
  e.service = service_;
  e.host = host_;
  e.error = false;
}

std::size_t osprofiler_formatter::add(const span_view& v, std::vector<event>& out,
                                      std::size_t& used) {
  const bool start = v.phase != span_phase::finished;
  const bool stop = v.phase != span_phase::started;
  if (start) {
    event& e = next(out, used);
    fill(e, v, "-start", v.start_ns);
    if (v.is_sql())
      sql_start_info(e.info_json, v);
    else
      generic_start_info(e.info_json, v, host_json_);
  }
  if (stop) {
    event& e = next(out, used);
    fill(e, v, "-stop", v.end_ns);
    e.error = v.error != nullptr;
    if (v.is_sql())
      sql_stop_info(e.info_json, v, host_json_);
    else
      generic_stop_info(e.info_json, v, host_json_);
  }
  return std::size_t{start} + std::size_t{stop};
}

}  // namespace dbtrace
