// Internal to lib/target: the login loop of one portal — one thread, one epoll set — that
// accepts connections and runs each through login with the socket-agnostic iscsi::Connection,
// on non-blocking sockets. What it keeps for a connection still logging in is small (no thread,
// no receive buffer until bytes arrive). It drops a connection whose login has not finished by
// the deadline (trickled bytes do not extend it), and the oldest one when max_pending_logins are
// waiting. A connection that logs in is handed, with its engine and any bytes already read or
// still to write, to the thread Target::admit started for it.
#pragma once

#include <chrono>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "lib/common/fd.h"
#include "lib/common/result.h"
#include "lib/target/target.h"

namespace maya::target {

class LoginLoop {
 public:
  static Result<std::unique_ptr<LoginLoop>> create(Target& target);
  ~LoginLoop();
  LoginLoop(const LoginLoop&) = delete;
  LoginLoop& operator=(const LoginLoop&) = delete;

  // Until target.stopping_; then drops every connection still logging in.
  void run();

 private:
  struct Pending;
  using Clock = std::chrono::steady_clock;

  LoginLoop(Target& target, Fd epoll);
  void accept_some();
  void add(int fd);
  void on_event(Pending& p, std::uint32_t events);
  void on_readable(Pending& p);
  void feed(Pending& p);
  void flush(Pending& p);
  void drop(Pending& p, const std::string& why, bool warn);
  void hand_off(Pending& p, bool abandon);
  void expire(Clock::time_point now);
  void sweep();
  void watch_listener(bool on);
  void watch_output(Pending& p, bool on);
  Pending* oldest();

  Target& target_;
  Fd epoll_;
  std::list<Pending> pending_;  // in accept order: the oldest (and first deadline) in front
  std::size_t live_ = 0;        // entries in pending_ that are not dead
  bool listening_ = true;
  Clock::time_point resume_accept_{};
  LogThrottle full_log_, expired_log_, accept_log_;
};

}  // namespace maya::target
