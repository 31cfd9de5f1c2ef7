// SPDX-License-Identifier: Apache-2.0
// OTLP request bodies. What a span carries is decided once (encode_span);
// each encoding writes it as text or bytes straight from the view, without
// building objects per span (that alone cost ~10 µs a span).
#include "requests.hpp"

#include <algorithm>

#include "dbtrace/osprofiler_event.hpp"
#include "protobuf.hpp"

namespace dbtrace::drivers::otlp {
namespace {

using json = nlohmann::json;

constexpr const char* scope_name = "dbtrace";
constexpr const char* scope_version = DBTRACE_VERSION;

// OTLP/JSON: lowercase hex ids, int64 as decimal strings, lowerCamelCase keys.
class json_span_writer {
 public:
  explicit json_span_writer(std::string& out) : out_(out) {}

  void begin_span(const span_view& v, std::string_view name, int kind, bool first) {
    if (!first) out_ += ',';
    out_ += "{\"traceId\":\"";
    append_hex(v.base_id.hi);
    append_hex(v.base_id.lo);
    out_ += "\",\"spanId\":\"";
    append_hex(v.id.lo);
    out_ += '"';
    if (!(v.parent_id == v.base_id)) {
      out_ += ",\"parentSpanId\":\"";
      append_hex(v.parent_id.lo);
      out_ += '"';
    }
    out_ += ",\"name\":";
    append_json_string(out_, name);
    out_ += ",\"kind\":";
    out_ += std::to_string(kind);
    out_ += ",\"startTimeUnixNano\":\"";
    out_ += std::to_string(v.start_ns);
    out_ += "\",\"endTimeUnixNano\":\"";
    out_ += std::to_string(v.end_ns);
    out_ += "\",\"attributes\":[";
    any_attribute_ = false;
  }
  // The attributes a statement on a target always has, written by `write`.
  template <class F>
  void statement_attributes(const statement_info&, const target_info*, F&& write) {
    write();
  }
  void query_text(const statement_info& st) {
    open_attribute("db.query.text", "stringValue");
    out_ += st.json_text;  // already a JSON string literal
    out_ += "}}";
  }
  void text(std::string_view key, std::string_view value) {
    open_attribute(key, "stringValue");
    append_json_string(out_, value);
    out_ += "}}";
  }
  void integer(std::string_view key, std::int64_t value) {
    open_attribute(key, "intValue");
    out_ += '"';
    out_ += std::to_string(value);
    out_ += "\"}}";
  }
  void boolean(std::string_view key, bool value) {
    open_attribute(key, "boolValue");
    out_ += value ? "true}}" : "false}}";
  }
  void real(std::string_view key, double value) {
    open_attribute(key, "doubleValue");
    out_ += json(value).dump();
    out_ += "}}";
  }
  void end_span(const span_error* error) {
    out_ += "],\"status\":";
    if (error) {
      out_ += "{\"code\":2,\"message\":";
      append_json_string(out_, error->message);
      out_ += "}}";
    } else {
      out_ += "{\"code\":0}}";
    }
  }

 private:
  void append_hex(std::uint64_t v) {
    static const char* digits = "0123456789abcdef";
    char h[16];
    for (int i = 15; i >= 0; --i, v >>= 4) h[i] = digits[v & 0xF];
    out_.append(h, 16);
  }
  void open_attribute(std::string_view key, const char* type) {
    if (any_attribute_) out_ += ',';
    any_attribute_ = true;
    out_ += "{\"key\":";
    append_json_string(out_, key);
    out_ += ",\"value\":{\"";
    out_ += type;
    out_ += "\":";
  }
  std::string& out_;
  bool any_attribute_ = false;
};

// A KeyValue (common/v1) as field `field` of the message being written;
// `write_value` writes the one field of its AnyValue.
template <class WriteValue>
void protobuf_attribute(protobuf::message_writer& w, unsigned field, std::string_view key,
                        WriteValue write_value) {
  const auto attribute = w.open(field);
  w.string_field(1, key);
  const auto any_value = w.open(2);  // KeyValue.value
  write_value();
  w.close(any_value);
  w.close(attribute);
}

// OTLP/protobuf, field numbers from opentelemetry-proto (trace/v1, common/v1).
class protobuf_span_writer {
 public:
  protobuf_span_writer(std::string& out, trace_request::encoded_attributes& last)
      : out_(out), w_(out), last_(last) {}

  // The attributes a statement on a target always has, written by `write`
  // the first time and copied after that: they are most of a span's bytes
  // and each is a nested message of its own.
  template <class F>
  void statement_attributes(const statement_info& st, const target_info* target, F&& write) {
    const std::uint64_t target_key = target ? target->key : 0;
    if (st.key != 0 && st.key == last_.statement && target_key == last_.target &&
        !last_.bytes.empty()) {
      out_ += last_.bytes;
      return;
    }
    const std::size_t at = out_.size();
    write();
    if (st.key == 0) return;  // not interned: no key to know it by
    last_.statement = st.key;
    last_.target = target_key;
    last_.bytes.assign(out_, at, std::string::npos);
  }

  void begin_span(const span_view& v, std::string_view name, int kind, bool) {
    span_at_ = w_.open(2);                                          // ScopeSpans.spans
    w_.bytes_field(1, big_endian(v.base_id.hi, v.base_id.lo, 16));  // trace_id
    w_.bytes_field(2, big_endian(v.id.lo, 0, 8));                   // span_id
    if (!(v.parent_id == v.base_id))
      w_.bytes_field(4, big_endian(v.parent_id.lo, 0, 8));  // parent_span_id
    w_.string_field(5, name);
    w_.varint_field(6, static_cast<std::uint64_t>(kind));
    w_.fixed64_field(7, static_cast<std::uint64_t>(v.start_ns));
    w_.fixed64_field(8, static_cast<std::uint64_t>(v.end_ns));
  }
  void query_text(const statement_info& st) { text("db.query.text", st.text); }
  // Span.attributes (9), AnyValue's string (1), bool (2), int (3) or double (4) value.
  void text(std::string_view key, std::string_view value) {
    protobuf_attribute(w_, 9, key, [&] { w_.string_field(1, value); });
  }
  void integer(std::string_view key, std::int64_t value) {
    protobuf_attribute(w_, 9, key, [&] { w_.varint_field(3, static_cast<std::uint64_t>(value)); });
  }
  void boolean(std::string_view key, bool value) {
    protobuf_attribute(w_, 9, key, [&] { w_.varint_field(2, value ? 1 : 0); });
  }
  void real(std::string_view key, double value) {
    protobuf_attribute(w_, 9, key, [&] { w_.double_field(4, value); });
  }
  void end_span(const span_error* error) {
    if (error) {
      const auto status = w_.open(15);
      w_.string_field(2, error->message);
      w_.varint_field(3, 2);  // STATUS_CODE_ERROR
      w_.close(status);
    }
    w_.close(span_at_);
  }

 private:
  // An id's bytes in the order its hex is read: most significant first.
  std::string_view big_endian(std::uint64_t hi, std::uint64_t lo, int size) {
    for (int i = 0; i < 8; ++i) id_[7 - i] = static_cast<char>((hi >> (8 * i)) & 0xFF);
    for (int i = 0; i < 8; ++i) id_[15 - i] = static_cast<char>((lo >> (8 * i)) & 0xFF);
    return {id_, static_cast<std::size_t>(size)};
  }
  std::string& out_;
  protobuf::message_writer w_;
  trace_request::encoded_attributes& last_;
  std::size_t span_at_ = 0;
  char id_[16];
};

// A generic value of the application's (span info) by its JSON type.
template <class Writer>
void value_attribute(Writer& w, std::string_view key, const json& v) {
  if (v.is_string())
    w.text(key, v.get_ref<const std::string&>());
  else if (v.is_boolean())
    w.boolean(key, v.get<bool>());
  else if (v.is_number_integer())
    w.integer(key, v.get<std::int64_t>());
  else if (v.is_number())
    w.real(key, v.get<double>());
  else
    w.text(key, v.dump(-1, ' ', false, json::error_handler_t::replace));
}

// What an OTLP span says of a view, in either encoding.
template <class Writer>
void encode_span(Writer& w, const span_view& v, bool first) {
  if (!v.is_sql()) {
    w.begin_span(v, v.name, 1 /* INTERNAL */, first);
    if (v.info)
      for (const auto& [k, value] : v.info->items())
        if (k != "host") value_attribute(w, "osprofiler." + k, value);
    if (v.error) w.text("error.type", v.error->etype);
    w.end_span(v.error);
    return;
  }
  const statement_info& st = *v.statement;
  const db_target* t = v.target ? &v.target->target : nullptr;
  // The conventions' span name: the summary, else the system.
  std::string_view name = st.summary;
  if (name.empty() && t) name = t->system;
  w.begin_span(v, name.empty() ? std::string_view("db") : name, 3 /* CLIENT */, first);
  w.statement_attributes(st, v.target, [&] {
    w.query_text(st);
    if (t) {
      if (!t->system.empty()) w.text("db.system.name", t->system);
      if (!t->name_space.empty()) w.text("db.namespace", t->name_space);
      if (!t->address.empty()) w.text("server.address", t->address);
      if (t->port > 0) w.integer("server.port", t->port);
    }
    if (!st.operation.empty()) w.text("db.operation.name", st.operation);
    if (!st.collection.empty()) w.text("db.collection.name", st.collection);
    if (!st.summary.empty()) w.text("db.query.summary", st.summary);
  });
  if (v.params)
    for (std::size_t i = 0; i < v.params->size(); ++i) {
      const auto& p = (*v.params)[i];
      const std::string key = "db.query.parameter." + std::to_string(i);
      if (p.is_string())
        w.text(key, p.get_ref<const std::string&>());
      else
        w.text(key, p.dump(-1, ' ', false, json::error_handler_t::replace));
    }
  if (v.batch > 0) w.integer("db.operation.batch.size", v.batch);
  if (v.rows >= 0 && !v.error) w.integer("db.response.returned_rows", v.rows);
  if (v.error && !v.error->sqlstate.empty()) w.text("db.response.status_code", v.error->sqlstate);
  if (v.error) w.text("error.type", v.error->etype);
  w.end_span(v.error);
}

// Resource.attributes and InstrumentationScope, the same for both signals.
void append_protobuf_resource_and_scope(std::string& out, const resource_names& names) {
  protobuf::message_writer w(out);
  const auto resource = w.open(1);  // Resource{Spans,Metrics}.resource
  for (const auto& [key, value] :
       {std::pair<const char*, const std::string*>{"service.name", &names.service},
        {"service.namespace", &names.project}}) {
    if (!value->empty())
      protobuf_attribute(w, 1, key, [&] { w.string_field(1, *value); });  // Resource.attributes
  }
  w.close(resource);
}

void append_protobuf_scope(std::string& out) {
  protobuf::message_writer w(out);
  const auto scope = w.open(1);  // Scope{Spans,Metrics}.scope
  w.string_field(1, scope_name);
  w.string_field(2, scope_version);
  w.close(scope);
}

json json_resource(const resource_names& names) {
  json attributes = json::array();
  attributes.push_back({{"key", "service.name"}, {"value", {{"stringValue", names.service}}}});
  if (!names.project.empty())
    attributes.push_back(
        {{"key", "service.namespace"}, {"value", {{"stringValue", names.project}}}});
  return {{"attributes", attributes}};
}

}  // namespace

const char* content_type(encoding e) {
  return e == encoding::protobuf ? "application/x-protobuf" : "application/json";
}

trace_request::trace_request(encoding e, const resource_names& names) : encoding_(e) {
  if (e == encoding::protobuf) {
    append_protobuf_resource_and_scope(head_, names);
  } else {
    head_ = "{\"resourceSpans\":[{\"resource\":" +
            json_resource(names).dump(-1, ' ', false, json::error_handler_t::replace) +
            ",\"scopeSpans\":[{\"scope\":{\"name\":\"" + scope_name + "\",\"version\":\"" +
            scope_version + "\"},\"spans\":[";
  }
  clear();
}

void trace_request::clear() {
  body_.clear();
  spans_ = 0;
  if (encoding_ == encoding::json) {
    body_ = head_;
    return;
  }
  protobuf::message_writer w(body_);
  resource_spans_at_ = w.open(1);  // ExportTraceServiceRequest.resource_spans
  body_ += head_;
  scope_spans_at_ = w.open(2);  // ResourceSpans.scope_spans
  append_protobuf_scope(body_);
}

void trace_request::add(const span_view& v) {
  if (encoding_ == encoding::json) {
    json_span_writer w(body_);
    encode_span(w, v, spans_ == 0);
  } else {
    protobuf_span_writer w(body_, last_attributes_);
    encode_span(w, v, spans_ == 0);
  }
  ++spans_;
}

const std::string& trace_request::finish() {
  if (encoding_ == encoding::json) {
    body_ += "]}]}]}";
  } else {
    protobuf::message_writer w(body_);
    w.close(scope_spans_at_);
    w.close(resource_spans_at_);
  }
  return body_;
}

void duration_histogram::add(const span_view& v) {
  // A statement on a target without an error is one attribute set: the
  // last one's point is used again without building its key.
  const std::uint64_t target_key = v.target ? v.target->key : 0;
  const bool same_set = !v.error && v.statement->key != 0 && last_point_ &&
                        v.statement->key == last_statement_ && target_key == last_target_;
  point& p = same_set ? *last_point_ : point_of(v);
  if (!v.error && v.statement->key != 0) {
    last_point_ = &p;  // std::map: a point stays where it is
    last_statement_ = v.statement->key;
    last_target_ = target_key;
  }
  const double seconds = static_cast<double>(v.end_ns - v.start_ns) / 1e9;
  std::size_t b = 0;
  while (b < buckets - 1 && seconds > bounds[b]) ++b;  // bucket b: (bounds[b-1], bounds[b]]
  ++p.counts[b];
  ++p.count;
  p.sum += seconds;
  p.min = p.count == 1 ? seconds : std::min(p.min, seconds);
  p.max = p.count == 1 ? seconds : std::max(p.max, seconds);
}

duration_histogram::point& duration_histogram::point_of(const span_view& v) {
  const db_target* t = v.target ? &v.target->target : nullptr;
  static const std::string none;
  const std::string* values[] = {
      t ? &t->system : &none,   t ? &t->name_space : &none,        &v.statement->operation,
      &v.statement->collection, v.error ? &v.error->etype : &none, t ? &t->address : &none};
  static const char* const names[] = {"db.system.name",     "db.namespace", "db.operation.name",
                                      "db.collection.name", "error.type",   "server.address"};
  // The attribute set as a key; its attributes are kept once, for a new set.
  key_.clear();
  for (const auto* value : values) {
    key_ += *value;
    key_ += '\x1f';
  }
  const int port = t ? t->port : 0;
  key_ += std::to_string(port);
  auto [it, added] = points_.try_emplace(key_);
  point& p = it->second;
  if (added) {
    for (std::size_t i = 0; i < std::size(values); ++i)
      if (!values[i]->empty()) p.attributes.emplace_back(names[i], *values[i]);
    p.port = port;
  }
  return p;
}

namespace {
constexpr const char* metric_name = "db.client.operation.duration";
constexpr const char* metric_description = "Duration of database client operations.";
constexpr int cumulative = 2;  // AGGREGATION_TEMPORALITY_CUMULATIVE
}  // namespace

std::string duration_histogram::request(encoding e, const resource_names& names,
                                        std::int64_t now_ns) const {
  if (e == encoding::json) {
    json points = json::array();
    for (const auto& [key, p] : points_) {
      json attributes = json::array();
      for (const auto& [name, value] : p.attributes)
        attributes.push_back({{"key", name}, {"value", {{"stringValue", value}}}});
      if (p.port > 0)
        attributes.push_back(
            {{"key", "server.port"}, {"value", {{"intValue", std::to_string(p.port)}}}});
      json counts = json::array();
      for (auto c : p.counts) counts.push_back(std::to_string(c));
      points.push_back({{"attributes", attributes},
                        {"startTimeUnixNano", std::to_string(start_ns_)},
                        {"timeUnixNano", std::to_string(now_ns)},
                        {"count", std::to_string(p.count)},
                        {"sum", p.sum},
                        {"bucketCounts", counts},
                        {"explicitBounds", bounds},
                        {"min", p.min},
                        {"max", p.max}});
    }
    const json metric = {
        {"name", metric_name},
        {"description", metric_description},
        {"unit", "s"},
        {"histogram", {{"aggregationTemporality", cumulative}, {"dataPoints", points}}}};
    const json request = {{"resourceMetrics",
                           {{{"resource", json_resource(names)},
                             {"scopeMetrics",
                              {{{"scope", {{"name", scope_name}, {"version", scope_version}}},
                                {"metrics", {metric}}}}}}}}};
    return request.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  // Field numbers from opentelemetry-proto metrics/v1.
  std::string out;
  protobuf::message_writer w(out);
  const auto resource_metrics = w.open(1);  // ExportMetricsServiceRequest.resource_metrics
  append_protobuf_resource_and_scope(out, names);
  const auto scope_metrics = w.open(2);  // ResourceMetrics.scope_metrics
  append_protobuf_scope(out);
  const auto metric = w.open(2);  // ScopeMetrics.metrics
  w.string_field(1, metric_name);
  w.string_field(2, metric_description);
  w.string_field(3, "s");
  const auto histogram = w.open(9);  // Metric.histogram
  for (const auto& [key, p] : points_) {
    const auto point = w.open(1);  // Histogram.data_points, fields in number order
    w.fixed64_field(2, static_cast<std::uint64_t>(start_ns_));
    w.fixed64_field(3, static_cast<std::uint64_t>(now_ns));
    w.fixed64_field(4, p.count);
    w.double_field(5, p.sum);
    w.packed_fixed64_field(6, p.counts.data(), p.counts.size());
    w.packed_fixed64_field(7, bounds, std::size(bounds));
    for (const auto& [name, value] : p.attributes)  // HistogramDataPoint.attributes
      protobuf_attribute(w, 9, name, [&] { w.string_field(1, value); });
    if (p.port > 0)
      protobuf_attribute(w, 9, "server.port",
                         [&] { w.varint_field(3, static_cast<std::uint64_t>(p.port)); });
    w.double_field(11, p.min);
    w.double_field(12, p.max);
    w.close(point);
  }
  w.varint_field(2, cumulative);  // Histogram.aggregation_temporality
  w.close(histogram);
  w.close(metric);
  w.close(scope_metrics);
  w.close(resource_metrics);
  return out;
}

}  // namespace dbtrace::drivers::otlp
