// file:// — appends OSProfiler events as JSON lines; reads them back for the CLI.
#include "dbtrace/drivers/jsonl.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include "dbtrace/error.hpp"

namespace dbtrace::drivers {
namespace {

class jsonl_driver final : public driver {
 public:
  explicit jsonl_driver(std::string path) : path_(std::move(path)) {}
  ~jsonl_driver() override {
    if (file_) std::fclose(file_);
  }

  write_result write(const std::vector<event>& batch, std::string& error) noexcept override {
    try {
      if (!file_) {
        file_ = std::fopen(path_.c_str(), "ae");
        if (!file_) {
          error = path_ + ": " + std::strerror(errno);
          return write_result::retry;
        }
      }
      buffer_.clear();
      for (const auto& e : batch) {
        append_event_json(buffer_, e);
        buffer_ += '\n';
      }
      if (std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size()) {
        error = path_ + ": " + std::strerror(errno);
        std::fclose(file_);  // reopen on the next try (disk full, file removed)
        file_ = nullptr;
        return write_result::retry;
      }
      return write_result::ok;
    } catch (const std::exception& e) {
      error = e.what();
      return write_result::retry;
    }
  }

  bool flush() noexcept override { return !file_ || std::fflush(file_) == 0; }

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

 private:
  template <class F>
  void for_each_event(F&& f) {
    std::ifstream in(path_);
    if (!in) throw store_error(path_ + ": " + std::strerror(errno));
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      const auto j = nlohmann::ordered_json::parse(line, nullptr, false);
      if (j.is_object()) f(j);  // a line cut by a crash is skipped, the rest still read
    }
  }

  std::string path_;
  std::FILE* file_ = nullptr;
  std::string buffer_;
};

}  // namespace

std::unique_ptr<driver> make_jsonl_driver(const std::string& path) {
  return std::make_unique<jsonl_driver>(path);
}

}  // namespace dbtrace::drivers
