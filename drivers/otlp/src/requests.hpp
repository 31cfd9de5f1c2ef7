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

 private:
  encoding encoding_;
  std::string head_;  // the resource and the scope, encoded once
  std::string body_;
  std::size_t spans_ = 0;
  std::size_t resource_spans_at_ = 0, scope_spans_at_ = 0;  // protobuf: open messages
};

// db.client.operation.duration (stable database conventions): a histogram in
// seconds per attribute set, cumulative since the writer started. Filled on
// the exporter thread, never on the application's.
class duration_histogram {
 public:
  static constexpr double bounds[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10};
  static constexpr std::size_t buckets = std::size(bounds) + 1;

  explicit duration_histogram(std::int64_t start_ns) : start_ns_(start_ns) {}

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
  std::int64_t start_ns_;
  std::map<std::string, point> points_;
  std::string key_;  // reused: no allocation per span once the sets are known
};

}  // namespace dbtrace::drivers::otlp
