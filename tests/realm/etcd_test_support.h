// What the store's tests need around it: a private etcd (started by tests/support/etcd.sh on free
// loopback ports in a temp dir) and plain TCP listeners that stand for a dead or broken server.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lib/process/exec.h"

namespace maya::realm::testing {

namespace fs = std::filesystem;

// A TCP socket on 127.0.0.1 with a port of the kernel's choosing. listen(): connections
// complete but nobody answers (a hung server). answer(): each connection gets `reply` once its
// request has arrived, then is closed.
class TcpListener {
 public:
  TcpListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~TcpListener() {
    stop_ = true;
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
    if (server_.joinable()) server_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Closes the socket: the port refuses connections (until someone else takes it).
  void close() {
    ::close(fd_);
    fd_ = -1;
  }
  void listen() { EXPECT_EQ(::listen(fd_, 16), 0); }
  void answer(std::string reply) {
    listen();
    server_ = std::thread([this, reply] {
      while (!stop_) {
        int conn = ::accept(fd_, nullptr, nullptr);
        if (conn < 0) return;
        std::string got;
        char buf[4096];
        // The request's header and a body: enough once a blank line and a '}' arrived.
        while (got.find("\r\n\r\n") == std::string::npos || got.back() != '}') {
          ssize_t n = ::recv(conn, buf, sizeof buf, 0);
          if (n <= 0) break;
          got.append(buf, static_cast<std::size_t>(n));
        }
        ::send(conn, reply.data(), reply.size(), MSG_NOSIGNAL);
        ::close(conn);
      }
    });
  }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread server_;
};

// A private etcd for one test.
class EtcdServer {
 public:
  // Empty when started; otherwise why not.
  std::string start(const fs::path& dir) {
    dir_ = dir;
    return launch("etcd_start");
  }
  // After kill(): the same data, the same ports.
  std::string restart() { return launch("etcd_restart"); }

 private:
  std::string launch(const std::string& how) {
    std::string script = std::string(MAYA_SOURCE_DIR) + "/tests/support/etcd.sh";
    auto run = run_command({"bash", "-c",
                            "source \"$1\" && " + how +
                                " \"$2\" && "
                                "echo \"ETCD $ETCD_ENDPOINT $ETCD_PID\"",
                            "bash", script, dir_.string()},
                           std::chrono::seconds(90));
    if (!run) return run.error().message;
    auto at = run->output.rfind("ETCD ");
    if (!run->succeeded() || at == std::string::npos) return "etcd_start failed: " + run->output;
    std::istringstream line(run->output.substr(at + 5));
    line >> endpoint_ >> pid_;
    return pid_ > 0 ? "" : how + " printed no pid: " + run->output;
  }

 public:
  const std::string& endpoint() const { return endpoint_; }
  // SIGKILL, and wait (30 s at most) until it is gone: its sockets close when it exits.
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    for (int i = 0; i < 3000 && alive(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    pid_ = 0;
  }
  ~EtcdServer() { kill(); }

  // etcdctl against this etcd; the output, or the failure in the test's log.
  ::testing::AssertionResult ctl(std::vector<std::string> args) {
    std::vector<std::string> argv = {"etcdctl", "--endpoints", endpoint_};
    argv.insert(argv.end(), args.begin(), args.end());
    auto run = run_command_checked(argv, std::chrono::seconds(30));
    if (!run) return ::testing::AssertionFailure() << run.error().message;
    return ::testing::AssertionSuccess();
  }

 private:
  // Gone, or a zombie that its new parent has yet to reap (it holds no socket then).
  bool alive() const {
    std::ifstream stat("/proc/" + std::to_string(pid_) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), {});
    auto close = text.rfind(')');
    return close != std::string::npos && text.size() > close + 2 && text[close + 2] != 'Z';
  }
  fs::path dir_;
  std::string endpoint_;
  pid_t pid_ = 0;
};

}  // namespace maya::realm::testing
