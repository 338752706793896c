// Sender: the writing half of a connection, on its own thread, so that the connection thread
// reads and executes the next commands while the answers to the previous ones are being sent.
// The connection thread hands over its whole OutQueue (no copying: the queue's buffers move);
// at most one batch waits while another is written, which bounds memory. A failed write shuts
// the socket down, so the reading side stops too.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lib/iscsi/out_queue.h"

namespace maya::iscsi_target {

class Sender {
 public:
  explicit Sender(int fd);
  ~Sender();  // writes what was handed over (unless a write failed), then joins
  Sender(const Sender&) = delete;
  Sender& operator=(const Sender&) = delete;

  // Hands over everything in `out` (which is left empty, with spare buffers); waits while
  // an earlier batch still waits to be written. False once a write has failed.
  bool submit(iscsi::OutQueue& out);
  // Waits until everything handed over has been written; false if a write failed.
  bool drain();
  // Why a write failed (empty if none did).
  std::string error() const;

 private:
  void run();

  const int fd_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  iscsi::OutQueue waiting_;  // handed over, not yet taken by the thread
  bool writing_ = false, stop_ = false, failed_ = false;
  std::string error_;
  std::vector<iovec> iov_;  // for writes on the submitting thread
  std::thread thread_;
};

}  // namespace maya::iscsi_target
