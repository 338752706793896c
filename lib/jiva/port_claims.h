// Which volume may use a port that several jiva volumes claim (their jiva.json name the same
// port: a hand edit, a restored backup). Exactly one of them keeps it, decided the same way
// every time, and the others stay down (broken) with a sentence that names the owner:
//   1. a claimant whose target serves on that port now, or was the last to serve on it (its
//      target may have just crashed), keeps it: a healthy volume is never taken down because
//      another volume's manifest was damaged, not even while its target restarts;
//   2. else the claimant created first (jiva.json "created", then the name): ports are handed
//      out once (create never gives a port another manifest holds), so a later volume that
//      names an earlier volume's port is the damaged one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace maya::jiva {

struct PortClaim {
  std::string volume;
  std::uint16_t port = 0;
  std::string created;   // ISO 8601 from jiva.json ("" sorts last)
  bool serving = false;  // its target serves on `port` now
  bool served = false;   // its target served on `port` last (served_port_file)
};

// volume → why it may not use its port, for every claimant that does not own it.
std::map<std::string, std::string> port_clashes(const std::vector<PortClaim>& claims);

// <volume dir>/target.served: the port the volume's target last served on (answered on its
// control socket), written atomically by the daemon each time that changes, so it outlives a
// crashed target and a daemon restart. Deleted with the volume.
std::filesystem::path served_port_file(const std::filesystem::path& volume_dir);
std::optional<std::uint16_t> read_served_port(const std::filesystem::path& volume_dir);

}  // namespace maya::jiva
