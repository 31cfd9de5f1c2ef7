// Event formatting: records to OSProfiler events, on the exporter thread.
#include "format.hpp"

#include <charconv>
#include <memory>

#include "ids.hpp"
#include "statement_text.hpp"

namespace dbtrace::detail {
namespace {

void append_integer(std::string& out, std::int64_t v) {
  char buf[24];
  const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  out.append(buf, static_cast<std::size_t>(end - buf));
}

}  // namespace

event_formatter::event_formatter(std::string project, std::string service, std::string host)
    : project_(std::move(project)), service_(std::move(service)), host_(std::move(host)) {
  append_json_string(host_json_, host_);
}

event& event_formatter::next(std::vector<event>& out, std::size_t& used) {
  if (used == out.size()) out.emplace_back();
  return out[used++];
}

void event_formatter::fill_ids(event& e, const record& r, const char* name, std::size_t name_len,
                               std::int64_t ns) {
  e.name.assign(name, name_len);
  e.base_id.resize(36);
  format_uuid(r.base_id, e.base_id.data());
  e.trace_id.resize(36);
  format_uuid(r.trace_id, e.trace_id.data());
  e.parent_id.resize(36);
  format_uuid(r.parent_id, e.parent_id.data());
  format_timestamp(ns, e.timestamp);
  e.project = project_;
  e.service = service_;
  e.host = host_;
  e.error = false;
}

void event_formatter::add(record& r, std::vector<event>& out, std::size_t& used) {
  std::unique_ptr<record_extra> extra(r.extra);
  r.extra = nullptr;
  const bool failed = extra && extra->failed;

  auto append_error = [&](std::string& info) {
    info += "\"etype\": ";
    append_json_string(info, extra->etype);
    info += ", \"message\": ";
    append_json_string(info, extra->message);
    info += ", ";
  };

  if (r.kind == record_kind::sql) {
    event& start = next(out, used);
    fill_ids(start, r, "db-start", 8, r.start_ns);
    std::string& info = start.info_json;
    info.assign("{\"db\": {\"statement\": ");
    if (r.statement)
      info += r.statement->json_text;
    else
      append_json_string(info, extra ? extra->statement : std::string());
    if (extra && extra->params.is_array()) {
      info += ", \"params\": ";
      append_python_json(info, extra->params);
    }
    if (r.target) info += r.target->json_attributes;
    if (r.statement) info += r.statement->json_attributes;
    if (r.batch > 0) {
      info += ", \"db.operation.batch.size\": ";
      append_integer(info, r.batch);
    }
    info += "}, \"host\": ";
    info += host_json_;
    info += '}';

    event& stop = next(out, used);
    fill_ids(stop, r, "db-stop", 7, r.end_ns);
    std::string& sinfo = stop.info_json;
    sinfo.assign("{");
    if (failed) {
      stop.error = true;
      append_error(sinfo);
      sinfo += "\"db\": {\"original_exception\": ";
      append_json_string(sinfo, extra->message);
      sinfo += ", \"error.type\": ";
      append_json_string(sinfo, extra->etype);
      if (!extra->sqlstate.empty()) {
        sinfo += ", \"db.response.status_code\": ";
        append_json_string(sinfo, extra->sqlstate);
      }
      if (!extra->category.empty()) {
        sinfo += ", \"db.error.category\": ";
        append_json_string(sinfo, extra->category);
      }
      sinfo += "}, ";
    } else if (r.rows >= 0) {
      sinfo += "\"db\": {\"db.response.returned_rows\": ";
      append_integer(sinfo, r.rows);
      sinfo += "}, ";
    }
    sinfo += "\"host\": ";
    sinfo += host_json_;
    sinfo += '}';
    return;
  }

  // A generic span's start or stop; these always carry an extra (the name).
  if (!extra) return;
  const bool is_start = r.kind == record_kind::span_start;
  const std::string name = extra->name + (is_start ? "-start" : "-stop");
  event& e = next(out, used);
  fill_ids(e, r, name.data(), name.size(), r.start_ns);
  std::string& info = e.info_json;
  info.assign("{");
  if (is_start) {
    for (const auto& [key, value] : extra->info.items()) {
      if (key == "host") continue;
      append_json_string(info, key);
      info += ": ";
      append_python_json(info, value);
      info += ", ";
    }
  } else if (failed) {
    e.error = true;
    append_error(info);
  }
  info += "\"host\": ";
  info += host_json_;
  info += '}';
}

}  // namespace dbtrace::detail
