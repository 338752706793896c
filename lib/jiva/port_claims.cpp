#include "lib/jiva/port_claims.h"

#include <algorithm>
#include <cstdlib>
#include <tuple>

#include "lib/common/files.h"

namespace maya::jiva {

std::map<std::string, std::string> port_clashes(const std::vector<PortClaim>& claims) {
  std::map<std::uint16_t, std::vector<const PortClaim*>> by_port;
  for (const auto& claim : claims) by_port[claim.port].push_back(&claim);
  std::map<std::string, std::string> clashes;
  for (auto& [port, claimants] : by_port) {
    if (claimants.size() < 2) continue;
    auto rank = [](const PortClaim* c) {
      return std::make_tuple(!c->serving, !c->served, c->created.empty(), c->created, c->volume);
    };
    std::sort(claimants.begin(), claimants.end(),
              [&](const PortClaim* a, const PortClaim* b) { return rank(a) < rank(b); });
    const PortClaim& owner = *claimants.front();
    const std::string why = owner.serving  ? "its target serves on it now"
                            : owner.served ? "its target served on it last"
                                           : "it was created first (" + owner.created + ")";
    for (std::size_t i = 1; i < claimants.size(); ++i) {
      clashes[claimants[i]->volume] = "its jiva.json names port " + std::to_string(port) +
                                      ", which belongs to volume " + owner.volume + " (" + why +
                                      ")";
    }
  }
  return clashes;
}

std::filesystem::path served_port_file(const std::filesystem::path& volume_dir) {
  return volume_dir / "target.served";
}

std::optional<std::uint16_t> read_served_port(const std::filesystem::path& volume_dir) {
  auto text = read_file(served_port_file(volume_dir));
  if (!text) return std::nullopt;
  char* end = nullptr;
  const unsigned long port = std::strtoul(text->c_str(), &end, 10);
  if (end == text->c_str() || port == 0 || port > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(port);
}

}  // namespace maya::jiva
