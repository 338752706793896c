#include "lib/iscsi/discovery.h"

namespace maya::iscsi {

std::string format_target_address(std::string_view ip, std::uint16_t port, std::uint16_t tpgt) {
  std::string s;
  if (ip.find(':') != std::string_view::npos) {
    s = "[" + std::string(ip) + "]";
  } else {
    s = std::string(ip);
  }
  return s + ":" + std::to_string(port) + "," + std::to_string(tpgt);
}

KeyValues answer_send_targets(std::string_view value, std::span<const TargetRecord> targets,
                              std::string_view session_target) {
  KeyValues out;
  for (const TargetRecord& t : targets) {
    bool wanted = value == "All"  ? session_target.empty() || t.name == session_target
                  : value.empty() ? t.name == session_target
                                  : t.name == value;
    if (!wanted) continue;
    out.emplace_back("TargetName", t.name);
    for (const auto& address : t.addresses) out.emplace_back("TargetAddress", address);
  }
  return out;
}

}  // namespace maya::iscsi
