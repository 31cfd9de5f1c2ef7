// SPDX-License-Identifier: Apache-2.0
// file:// — appends OSProfiler events as JSON lines; reads them back for the CLI.
#include "dbtrace/drivers/jsonl.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <type_traits>

#include "dbtrace/error.hpp"
#include "dbtrace/osprofiler_event.hpp"

namespace dbtrace::drivers {
namespace {

// file:///absolute/path.jsonl -> /absolute/path.jsonl
std::string path_of(const std::string& connection_string) {
  const auto uri = parse_connection_uri(connection_string);
  if (!uri.host.empty() || uri.path.size() < 2 || !uri.query.empty() ||
      connection_string.find('?') != std::string::npos)
    throw config_error("connection_string: expected file:///absolute/path.jsonl, got '" +
                       redact_connection_string(connection_string) + "'");
  return uri.path;
}

// Each batch is one write(2) to a file opened with O_APPEND: durable against a
// crash of this process once write returns, and lines of concurrent writers
// (other processes) never interleave within a batch.
class jsonl_writer final : public writer {
 public:
  explicit jsonl_writer(const store_params& p)
      : path_(path_of(p.connection_string)), format_(p.project, p.service, p.host) {}
  ~jsonl_writer() override { close(); }

  std::string permanent_problem() noexcept override { return file_store_problem(path_); }

  write_result write(const std::vector<span_view>& batch, std::string& error) noexcept override {
    try {
      if (fd_ < 0) {
        fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd_ < 0) {
          error = path_ + ": " + std::strerror(errno);
          if (const auto problem = file_store_problem(path_); !problem.empty()) {
            error = problem;
            return write_result::rejected;  // it will not get better by waiting
          }
          return write_result::retry;
        }
      }
      format_.format(batch);
      const std::string_view lines = format_.lines();
      std::size_t done = 0;
      while (done < lines.size()) {
        const ssize_t n = ::write(fd_, lines.data() + done, lines.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          error = path_ + ": " + std::strerror(n < 0 ? errno : ENOSPC);
          // A partial batch is not resent whole (that would duplicate lines):
          // what was written stays, the rest is dropped and counted.
          const bool partial = done > 0;
          close();  // reopen on the next try (disk full, file removed)
          return partial ? write_result::rejected : write_result::retry;
        }
        done += static_cast<std::size_t>(n);
      }
      return write_result::ok;
    } catch (const std::exception& e) {
      error = e.what();
      return write_result::retry;
    }
  }

 private:
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  std::string path_;
  osprofiler_formatter format_;
  int fd_ = -1;
};

class jsonl_reader final : public reader {
 public:
  explicit jsonl_reader(std::string path) : path_(std::move(path)) {}

  std::vector<trace_summary> list_traces(bool errors_only) override {
    std::vector<trace_summary> out;
    std::map<std::string, std::size_t> index;
    std::set<std::string> failed;
    for_each_event([&](const nlohmann::ordered_json& j) {
      const auto base_id = j.value("base_id", std::string());
      const auto ts = j.value("timestamp", std::string());
      if (j.contains("info") && j["info"].is_object() && j["info"].contains("etype"))
        failed.insert(base_id);
      auto it = index.find(base_id);
      if (it == index.end()) {
        index.emplace(base_id, out.size());
        out.push_back({base_id, ts});
      } else if (ts < out[it->second].timestamp) {
        out[it->second].timestamp = ts;
      }
    });
    if (errors_only) {
      std::vector<trace_summary> kept;
      for (auto& t : out)
        if (failed.count(t.base_id)) kept.push_back(std::move(t));
      out = std::move(kept);
    }
    return out;
  }

  std::vector<stored_event> read_trace(const std::string& base_id) override {
    std::vector<stored_event> out;
    for_each_event([&](const nlohmann::ordered_json& j) {
      if (j.value("base_id", std::string()) != base_id) return;
      out.push_back(stored_event_from_json(j));
    });
    return out;
  }

  void scan(const std::function<bool(const stored_event&)>& each) override {
    for_each_event(
        [&](const nlohmann::ordered_json& j) { return each(stored_event_from_json(j)); });
  }

 private:
  // Calls f on every event; f may return false to stop.
  template <class F>
  void for_each_event(F&& f) {
    std::ifstream in(path_);
    if (!in) throw store_error(path_ + ": " + std::strerror(errno));
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      const auto j = parse_event_text(line);
      if (!j.is_object()) continue;  // a line cut by a crash is skipped, the rest still read
      if constexpr (std::is_same_v<decltype(f(j)), bool>) {
        if (!f(j)) return;
      } else {
        f(j);
      }
    }
  }

  std::string path_;
};

}  // namespace

store_kind jsonl_store() {
  return {{"file://"},
          [](const store_params& p) { return std::make_unique<jsonl_writer>(p); },
          [](const std::string& cs) { return std::make_unique<jsonl_reader>(path_of(cs)); }};
}

}  // namespace dbtrace::drivers
