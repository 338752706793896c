#include "lib/jiva/port_claims.h"

#include <algorithm>
#include <tuple>

namespace maya::jiva {

std::map<std::string, std::string> port_clashes(const std::vector<PortClaim>& claims) {
  std::map<std::uint16_t, std::vector<const PortClaim*>> by_port;
  for (const auto& claim : claims) by_port[claim.port].push_back(&claim);
  std::map<std::string, std::string> clashes;
  for (auto& [port, claimants] : by_port) {
    if (claimants.size() < 2) continue;
    auto rank = [](const PortClaim* c) {
      return std::make_tuple(!c->serving, c->created.empty(), c->created, c->volume);
    };
    std::sort(claimants.begin(), claimants.end(),
              [&](const PortClaim* a, const PortClaim* b) { return rank(a) < rank(b); });
    const PortClaim& owner = *claimants.front();
    const std::string why = owner.serving ? "its target serves on it now"
                                          : "it was created first (" + owner.created + ")";
    for (std::size_t i = 1; i < claimants.size(); ++i) {
      clashes[claimants[i]->volume] = "its jiva.json names port " + std::to_string(port) +
                                      ", which belongs to volume " + owner.volume + " (" + why +
                                      ")";
    }
  }
  return clashes;
}

}  // namespace maya::jiva
