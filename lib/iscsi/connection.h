// One iSCSI connection (and, with MaxConnections=1, its session): a socket-agnostic protocol
// engine. The socket layer (lib/iscsi_target) hands it whatever bytes arrived; it frames and
// parses every whole PDU, runs login, then the full feature phase (SCSI commands with immediate,
// unsolicited and R2T-solicited data, Data-In with phase-collapsed status, NOP, Text/SendTargets,
// task management, logout, Reject), and leaves the PDUs to send in out(). A malformed PDU is
// rejected or ends the connection — never the process.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "lib/common/result.h"
#include "lib/iscsi/data_out.h"
#include "lib/iscsi/discovery.h"
#include "lib/iscsi/login.h"
#include "lib/iscsi/out_queue.h"
#include "lib/iscsi/pdu.h"
#include "lib/iscsi/session.h"
#include "lib/iscsi/text.h"
#include "lib/scsi/scsi_disk.h"

namespace maya::iscsi {

// The targets a discovery portal lists: given the local address the initiator reached us on
// (so a wildcard listen address can be answered with a reachable one).
using TargetDirectory = std::function<std::vector<TargetRecord>(const std::string& local_host)>;

// What every connection of one target shares. Not owned; outlives the connections.
struct TargetContext {
  LoginConfig login;
  scsi::ScsiDisk* disk = nullptr;  // null on a discovery-only portal
  TargetDirectory directory;       // set: SendTargets lists these instead of this target
  // Set: a normal session may start only while it returns true (else "service unavailable"),
  // e.g. not while the volume is attached to this host through another frontend.
  std::function<bool()> admit_normal;
  SessionRegistry* registry = nullptr;
};

struct ConnectionHooks {
  std::function<void()> stop;  // ends this connection from another thread (reinstatement)
  std::string portal;          // "addr:port,tpgt" of the local end, for SendTargets
  std::string local_host;      // the local end's IP address
  // Asked as a login is about to complete (before the session registers), with whether it is a
  // discovery session: 0 admits it, else the Login status that refuses it (e.g.
  // login_status::kOutOfResources over a connection cap).
  std::function<std::uint16_t(bool discovery)> admit;
};

class Connection {
 public:
  // The window of commands the initiator may have in flight (MaxCmdSN - ExpCmdSN + 1).
  static constexpr std::uint32_t kCommandWindow = 256;
  // Bounds on buffered write data: per command, and per connection across commands.
  static constexpr std::uint32_t kMaxWriteBuffer = 128u << 20;
  static constexpr std::uint64_t kMaxPendingWriteBytes = 512ull << 20;
  // receive() stops early once this much Data-In waits in out(), so memory stays bounded.
  static constexpr std::size_t kFlushThreshold = 8u << 20;

  Connection(const TargetContext& context, ConnectionHooks hooks);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Parses and handles the whole PDUs at the start of `in`; returns how many bytes it used. It
  // stops early when out() grows past kFlushThreshold, and right after the login completes (so
  // the socket layer can move a logged-in connection elsewhere): send out(), then call again
  // with the rest. An error means: send what out() holds, then drop the connection.
  Result<std::size_t> receive(std::span<const std::uint8_t> in);
  OutQueue& out() { return out_; }
  // Logout or a failed login: flush out(), then close.
  bool closing() const { return closing_; }
  bool logged_in() const { return phase_ == Phase::kFullFeature; }
  // The longest PDU the peer may send us (for sizing the receive buffer).
  std::size_t max_pdu_length() const;
  // No input for a while: pings the initiator (NOP-In); false if the last ping went unanswered
  // or the login never finished.
  bool on_idle();
  // Ends the session (idempotent; also done by the destructor).
  void end_session();

  const SessionParams& params() const { return params_; }
  std::uint16_t tsih() const { return tsih_; }

 private:
  enum class Phase : std::uint8_t { kLogin, kFullFeature };

  Result<void> handle(const PduView& pdu);
  Result<void> on_login(const PduView& pdu);
  Result<void> on_scsi_command(const PduView& pdu);
  Result<void> on_data_out(const PduView& pdu);
  Result<void> on_nop_out(const PduView& pdu);
  Result<void> on_text(const PduView& pdu);
  Result<void> on_logout(const PduView& pdu);
  Result<void> on_task_management(const PduView& pdu);  // task_management.cpp

  bool accept_cmdsn(std::uint32_t cmdsn, bool immediate);
  SequenceNumbers next_sn(bool advance_statsn);
  void send_reject(std::uint8_t reason, std::span<const std::uint8_t> bhs);
  void send_r2ts(WriteTask& task);
  void execute(const ScsiCommandReq& cmd, std::span<const std::uint8_t> data_out);
  void finish_write(std::size_t index);
  // An answer of the transport's own (the command never reached the disk), its residual
  // settled against the expected transfer as the disk settles its answers.
  void answer(const ScsiCommandReq& cmd, scsi::TaskResult&& result);
  void send_status(const ScsiCommandReq& cmd, scsi::TaskResult&& result);
  void send_text_piece(const TextReq& req);
  void drop_pending_writes();

  const TargetContext& context_;
  ConnectionHooks hooks_;
  LoginMachine login_;
  SessionParams params_;
  Phase phase_ = Phase::kLogin;
  bool closing_ = false;
  Digests digests_;
  OutQueue out_;

  std::uint32_t statsn_ = 0, exp_cmdsn_ = 0;
  std::uint32_t next_ttt_ = 0;
  std::uint16_t tsih_ = 0;
  std::uint64_t session_id_ = 0;  // our entry in the registry
  scsi::Nexus nexus_;
  bool nexus_live_ = false;

  std::vector<WriteTask> pending_;
  std::uint64_t pending_bytes_ = 0;
  std::vector<R2TRequest> r2t_scratch_;

  TextAssembler text_in_;
  TextSplitter text_out_;
  std::uint32_t text_ttt_ = kReservedTag;

  bool ping_outstanding_ = false;
  std::uint32_t ping_ttt_ = kReservedTag;
};

}  // namespace maya::iscsi
