// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the unit tests: a recorder on a fresh memory store, the
// Python OSProfiler peer, temporary files, running the CLI.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "dbtrace/dbtrace.hpp"
#include "dbtrace/driver.hpp"
#include "dbtrace/drivers/memory.hpp"

namespace dbtrace::testing {

// A forked child's exit code; -1 when it hung past `limit` (it is killed) or
// did not exit normally.
inline int exit_code_within(pid_t child, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  pid_t done = 0;
  while ((done = waitpid(child, &status, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (done == 0) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline bool under_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

struct command_result {
  int status = -1;
  std::string out;
};

// Runs a shell command, capturing standard output.
inline command_result run(const std::string& command) {
  command_result r;
  FILE* p = popen(command.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int rc = pclose(p);
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return r;
}

inline std::filesystem::path temp_dir() {
  auto base = std::filesystem::temp_directory_path() / ("dbtrace-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(base);
  return base;
}

inline std::string write_file(const std::string& name, const std::string& text) {
  const auto path = temp_dir() / name;
  std::ofstream(path, std::ios::trunc) << text;
  return path.string();
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// What a user reads: README.md, then the manual's pages (docs/*.md) by name.
inline std::string user_documentation() {
  std::vector<std::string> pages;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(DBTRACE_SOURCE_DIR) + "/docs"))
    if (entry.path().extension() == ".md") pages.push_back(entry.path().string());
  std::sort(pages.begin(), pages.end());
  std::string text = read_file(std::string(DBTRACE_SOURCE_DIR) + "/README.md");
  for (const auto& page : pages) text += "\n" + read_file(page);
  return text;
}

// A free TCP port on 127.0.0.1 for a server a test starts itself.
inline int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// A throwaway server of the test's own (scripts/<kind>_server.sh: pg, redis),
// which the test can stop and start again; stopped by PID at the end.
class test_server {
 public:
  explicit test_server(const std::string& kind)
      : script_(std::string(DBTRACE_SOURCE_DIR) + "/scripts/" + kind + "_server.sh"),
        dir_((temp_dir() / (kind + "-" + std::to_string(free_port()))).string()),
        port_(free_port()) {}
  ~test_server() { stop(); }
  bool start() {
    return run(script_ + " start " + dir_ + " " + std::to_string(port_) + " 2>&1").status == 0;
  }
  bool stop() { return run(script_ + " stop " + dir_).status == 0; }
  // SIGSTOP / SIGCONT: a hung server that keeps its connections open.
  bool pause() { return run(script_ + " pause " + dir_).status == 0; }
  bool resume() { return run(script_ + " resume " + dir_).status == 0; }
  int port() const { return port_; }

 private:
  std::string script_, dir_;
  int port_;
};

// What the process writes to stderr while it lives (fd 2 into a file).
class capture_stderr {
 public:
  capture_stderr() : path_((temp_dir() / ("stderr-" + std::to_string(counter()++))).string()) {
    std::fflush(stderr);
    saved_ = dup(2);
    const int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);
  }
  ~capture_stderr() { restore(); }
  // Stops capturing and returns what was written.
  std::string text() {
    restore();
    return read_file(path_);
  }

 private:
  static int& counter() {
    static int n = 0;
    return n;
  }
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    dup2(saved_, 2);
    close(saved_);
    saved_ = -1;
  }
  std::string path_;
  int saved_ = -1;
};

// Debian's interpreter: another python3 on PATH may lack python3-osprofiler.
constexpr const char* python = "/usr/bin/python3";

// True when the Python OSProfiler peer can run; otherwise the test skips,
// or fails under CI, where the peer is part of the job.
inline bool python_peer_available() {
  const auto r = run(std::string(python) + " -c 'import osprofiler._utils' 2>&1");
  return r.status == 0;
}
#define DBTRACE_REQUIRE_PYTHON_PEER()                                                      \
  do {                                                                                     \
    if (!::dbtrace::testing::python_peer_available()) {                                    \
      if (::dbtrace::testing::under_ci()) FAIL() << "python3-osprofiler is missing in CI"; \
      GTEST_SKIP() << "python3-osprofiler not installed";                                  \
    }                                                                                      \
  } while (0)

// The test PostgreSQL server (scripts/test.sh starts it): libpq key=value
// strings for the app role (with a password) and the superuser.
inline std::string pg_app() {
  const char* v = std::getenv("DBTRACE_TEST_PG");
  return v ? v : "";
}
inline std::string pg_admin() {
  const char* v = std::getenv("DBTRACE_TEST_PG_ADMIN");
  return v ? v : "";
}
#define DBTRACE_REQUIRE_PG()                                                                      \
  do {                                                                                            \
    if (::dbtrace::testing::pg_app().empty()) {                                                   \
      if (::dbtrace::testing::under_ci()) FAIL() << "no test PostgreSQL (DBTRACE_TEST_PG) in CI"; \
      GTEST_SKIP() << "DBTRACE_TEST_PG not set: run scripts/test.sh";                             \
    }                                                                                             \
  } while (0)

// The test MariaDB server (scripts/test.sh starts it): SOCI's MySQL
// key=value string for the app user (with a password).
inline std::string mysql_app() {
  const char* v = std::getenv("DBTRACE_TEST_MYSQL");
  return v ? v : "";
}
#define DBTRACE_REQUIRE_MYSQL()                                                                   \
  do {                                                                                            \
    if (::dbtrace::testing::mysql_app().empty()) {                                                \
      if (::dbtrace::testing::under_ci()) FAIL() << "no test MariaDB (DBTRACE_TEST_MYSQL) in CI"; \
      GTEST_SKIP() << "DBTRACE_TEST_MYSQL not set: run scripts/test.sh";                          \
    }                                                                                             \
  } while (0)

// Runs a Python script with Debian's interpreter; arguments are passed as argv.
inline command_result run_python(const std::string& script,
                                 const std::vector<std::string>& args = {}) {
  const std::string path = write_file("peer.py", script);
  std::string cmd = std::string(python) + " " + path;
  for (const auto& a : args) cmd += " '" + a + "'";
  return run(cmd + " 2>&1");
}

// A recorder writing into a fresh memory://<test name> store.
class recorder_test : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::string(::testing::UnitTest::GetInstance()->current_test_info()->name());
    drivers::memory_clear(store_);
    opts_.enabled = true;
    opts_.connection_string = "memory://" + store_;
    opts_.project = "proj";
    opts_.service = "svc";
  }
  void TearDown() override { dbtrace::shutdown(); }
  void start() { dbtrace::init(opts_); }
  // Starts again with the current opts_ on an empty store.
  void restart() {
    dbtrace::shutdown();
    drivers::memory_clear(store_);
    start();
  }

  // Flushes and returns every event, parsed, in write order.
  std::vector<nlohmann::json> events() {
    EXPECT_TRUE(dbtrace::flush());
    std::vector<nlohmann::json> out;
    for (const auto& e : drivers::memory_events(store_))
      out.push_back(nlohmann::json::parse(e.json));
    return out;
  }

  std::string store_;
  options opts_;
};

}  // namespace dbtrace::testing
