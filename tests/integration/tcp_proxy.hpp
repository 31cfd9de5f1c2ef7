// SPDX-License-Identifier: Apache-2.0
// A loopback TCP proxy in front of a test server that can lose a reply: the
// request reaches the server whole, its answer never reaches the client, and
// the connection closes (a connection lost in the middle of a request).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace dbtrace::testing {

class tcp_proxy {
 public:
  explicit tcp_proxy(int upstream_port) : upstream_(upstream_port) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = loopback(0);
    bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    listen(listener_, 16);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~tcp_proxy() {
    stop_ = true;
    acceptor_.join();
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& t : pumps_) t.join();
    close(listener_);
  }
  int port() const { return port_; }
  // The next reply on a connection that has sent at least `bytes` is dropped,
  // and the connection closed (after a moment in which what the client still
  // sends reaches the server).
  void lose_reply_after(std::size_t bytes) {
    lose_after_ = bytes;
    lose_ = true;
  }
  int replies_lost() const { return lost_; }

 private:
  static sockaddr_in loopback(int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    return a;
  }
  static bool send_all(int fd, const char* data, ssize_t n) {
    while (n > 0) {
      const ssize_t w = send(fd, data, static_cast<std::size_t>(n), MSG_NOSIGNAL);
      if (w <= 0) return false;
      data += w;
      n -= w;
    }
    return true;
  }

  void accept_loop() {
    while (!stop_) {
      pollfd p{listener_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      const int client = accept(listener_, nullptr, nullptr);
      if (client < 0) continue;
      std::lock_guard<std::mutex> lock(mutex_);
      pumps_.emplace_back([this, client] { pump(client); });
    }
  }

  void pump(int client) {
    const int server = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = loopback(upstream_);
    if (connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      char buffer[1 << 16];
      std::size_t sent = 0;  // by the client
      bool losing = false;
      auto close_at = std::chrono::steady_clock::time_point::max();
      while (!stop_ && std::chrono::steady_clock::now() < close_at) {
        pollfd p[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
        if (poll(p, 2, 50) <= 0) continue;
        if (p[0].revents) {
          const ssize_t n = recv(client, buffer, sizeof buffer, 0);
          if (n <= 0 || !send_all(server, buffer, n)) break;
          sent += static_cast<std::size_t>(n);
        }
        if (p[1].revents) {
          const ssize_t n = recv(server, buffer, sizeof buffer, 0);
          if (n <= 0) break;
          if (!losing && sent >= lose_after_ && lose_.exchange(false)) {
            ++lost_;
            losing = true;
            close_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
          }
          if (!losing && !send_all(client, buffer, n)) break;
        }
      }
    }
    close(server);
    close(client);
  }

  int upstream_, listener_, port_ = 0;
  std::atomic<bool> stop_{false}, lose_{false};
  std::atomic<std::size_t> lose_after_{0};
  std::atomic<int> lost_{0};
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<std::thread> pumps_;
};

}  // namespace dbtrace::testing
