// SPDX-License-Identifier: Apache-2.0
// OTLP/HTTP request bodies, in either of its encodings: the spans of a batch
// (ExportTraceServiceRequest) and the db.client.operation.duration histogram
// (ExportMetricsServiceRequest).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "dbtrace/driver.hpp"

namespace dbtrace::drivers::otlp {

enum class encoding { protobuf, json };

// The Content-Type header of a body in `e`.
const char* content_type(encoding e);

// Who sends: the resource's service.name and service.namespace.
struct resource_names {
  std::string service, project;
};

// One batch's ExportTraceServiceRequest. SQL spans carry the database
// semantic conventions; generic spans their info as `osprofiler.<key>`.
class trace_request {
 public:
  trace_request(encoding e, const resource_names& names);

  void clear();
  void add(const span_view& v);
  bool empty() const { return spans_ == 0; }
  // The body, complete; valid until the next clear().
  const std::string& finish();

  // The last statement's attributes as encoded (protobuf), by its and its
  // target's keys; they repeat span after span.
  struct encoded_attributes {
    std::uint64_t statement = 0, target = 0;
    std::string bytes;
  };

 private:
  encoding encoding_;
  std::string head_;  // the resource and the scope, encoded once
  std::string body_;
  std::size_t spans_ = 0;
  std::size_t resource_spans_at_ = 0, scope_spans_at_ = 0;  // protobuf: open messages
  encoded_attributes last_attributes_;
};

// db.client.operation.duration (stable database conventions): a histogram in
// seconds per attribute set, cumulative since the writer started. Filled on
// the exporter thread, never on the application's.
class duration_histogram {
 public:
  static constexpr double bounds[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10};
  static constexpr std::size_t buckets = std::size(bounds) + 1;

  explicit duration_histogram(std::int64_t start_ns) : start_ns_(start_ns) {}
  duration_histogram(const duration_histogram&) = delete;  // it points into its own points
  duration_histogram& operator=(const duration_histogram&) = delete;

  void add(const span_view& v);
  bool empty() const { return points_.empty(); }
  // An ExportMetricsServiceRequest with every point so far.
  std::string request(encoding e, const resource_names& names, std::int64_t now_ns) const;

 private:
  struct point {
    std::vector<std::pair<const char*, std::string>> attributes;  // string-valued
    int port = 0;                                                 // server.port, 0 unknown
    std::array<std::uint64_t, buckets> counts{};
    std::uint64_t count = 0;
    double sum = 0, min = 0, max = 0;
  };
  // The point of a span's attribute set, made when the set is new.
  point& point_of(const span_view& v);
  std::int64_t start_ns_;
  std::map<std::string, point> points_;
  std::string key_;  // reused: no allocation per span once the sets are known
  // The set of the last span without an error, by its statement's and
  // target's keys, and its point (points are never removed).
  std::uint64_t last_statement_ = 0, last_target_ = 0;
  point* last_point_ = nullptr;
};

}  // namespace dbtrace::drivers::otlp
