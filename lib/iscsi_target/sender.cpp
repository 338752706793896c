#include "lib/iscsi_target/sender.h"

#include <sys/socket.h>

#include "lib/iscsi_target/socket_io.h"

namespace maya::iscsi_target {

namespace {
// Answers smaller than this, with nothing in flight, are written on the connection thread:
// cheaper than a thread switch for the 4 KiB reads and the status-only answers of writes.
constexpr std::size_t kInlineBytes = 64 * 1024;
}  // namespace

Sender::Sender(int fd) : fd_(fd), thread_([this] { run(); }) {}

Sender::~Sender() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

bool Sender::submit(iscsi::OutQueue& out) {
  if (out.empty()) return true;
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return waiting_.empty() || failed_; });
  if (failed_) {
    out.clear();
    return false;
  }
  if (!writing_ && out.data_bytes() < kInlineBytes) {
    // Small answers with nothing in flight: writing them here is cheaper than a thread switch.
    // Only this thread hands over work, so the writer stays idle meanwhile.
    lock.unlock();
    iov_.clear();
    out.iovecs(iov_);
    auto written = write_all(fd_, iov_);
    out.clear();
    if (written) return true;
    ::shutdown(fd_, SHUT_RDWR);
    lock.lock();
    failed_ = true;
    error_ = written.error().message;
    return false;
  }
  out.move_to(waiting_);
  const bool idle = !writing_;
  lock.unlock();
  if (idle) changed_.notify_all();
  return true;
}

bool Sender::drain() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return (waiting_.empty() && !writing_) || failed_; });
  return !failed_;
}

std::string Sender::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

void Sender::run() {
  iscsi::OutQueue sending;
  std::vector<iovec> iov;
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return !waiting_.empty() || stop_; });
    if (waiting_.empty() || failed_) return;  // stopping, with nothing (more) to write
    waiting_.move_to(sending);
    writing_ = true;
    lock.unlock();
    changed_.notify_all();  // room for the next batch
    iov.clear();
    sending.iovecs(iov);
    auto written = write_all(fd_, iov);
    sending.clear();
    if (!written) ::shutdown(fd_, SHUT_RDWR);
    lock.lock();
    writing_ = false;
    if (!written) {
      failed_ = true;
      error_ = written.error().message;
      waiting_.clear();
    }
    changed_.notify_all();
  }
}

}  // namespace maya::iscsi_target
