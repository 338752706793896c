// Sessions across connections: TSIH assignment and session reinstatement (a new login with the
// same InitiatorName + ISID replaces the old session, whose connection is told to stop). Shared
// by every connection of a target; thread-safe. Also builds the SCSI I_T nexus names.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "lib/scsi/scsi_disk.h"

namespace maya::iscsi {

using Isid = std::array<std::uint8_t, 6>;

// "iqn…,i,0x<ISID>" / "iqn…,t,0x<TPGT>" (SPC-4 iSCSI TransportIDs).
scsi::Nexus make_nexus(const std::string& initiator_name, const Isid& isid,
                       const std::string& target_name, std::uint16_t tpgt);

class SessionRegistry {
 public:
  struct Opened {
    std::uint16_t tsih = 0;
    std::uint64_t id = 0;   // unique per open(), even when a continued session keeps its TSIH
    bool replaced = false;  // an older session with the same initiator and ISID was closed
    bool refused = false;   // `admit` said no: nothing was registered or closed
  };

  // Registers a session. `stop` ends its connection (called under the registry lock, so it
  // must only signal, e.g. shutdown(2) the socket). Normal sessions reinstate older ones.
  // `continue_tsih` != 0: the initiator continues that session on a new connection; it keeps
  // its TSIH and the old connection is stopped.
  // `admit` (if set) is asked under the registry's lock before a normal session registers, so
  // that a check of normal_sessions() and an admission cannot pass each other.
  Opened open(const std::string& initiator_name, const Isid& isid, bool normal,
              std::function<void()> stop, std::uint16_t continue_tsih = 0,
              const std::function<bool()>& admit = {});
  // Is there a session `tsih` of this initiator and ISID?
  bool exists(std::uint16_t tsih, const std::string& initiator_name, const Isid& isid) const;
  // Forgets a session; true if it was still registered (not replaced meanwhile): the caller
  // then ends its I_T nexus.
  bool close(std::uint64_t id);
  // Stops every session but `except` (TARGET COLD RESET).
  void stop_all_except(std::uint16_t except);
  void stop_all();
  std::size_t size() const;
  std::size_t normal_sessions() const;

 private:
  struct Entry {
    std::uint16_t tsih;
    std::uint64_t id;
    std::string initiator_name;
    Isid isid;
    bool normal;
    std::function<void()> stop;
  };
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
  std::uint16_t next_tsih_ = 1;
  std::uint64_t next_id_ = 1;
};

}  // namespace maya::iscsi
