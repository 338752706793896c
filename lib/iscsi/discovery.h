// SendTargets (RFC 7143 §6.3, Appendix C): the answer to "SendTargets=All", "=<target name>"
// or "=" (the session's own target), as TargetName / TargetAddress="addr:port,tpgt" records.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lib/iscsi/text.h"

namespace maya::iscsi {

struct TargetRecord {
  std::string name;
  std::vector<std::string> addresses;  // already formatted: "10.0.0.1:3260,1", "[::1]:3260,1"
};

// "addr:port,tpgt", with IPv6 addresses in brackets.
std::string format_target_address(std::string_view ip, std::uint16_t port, std::uint16_t tpgt);

// `session_target` is the target of a normal session ("" in a discovery session).
KeyValues answer_send_targets(std::string_view value, std::span<const TargetRecord> targets,
                              std::string_view session_target);

}  // namespace maya::iscsi
