// A complete, successful Login Request (normal session, no digests, InitialR2T=No and
// ImmediateData=Yes) that the connection fuzzer may put before the fuzzed bytes, so most inputs
// reach the full feature phase instead of dying in login.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace maya::fuzz {

inline std::vector<std::uint8_t> login_prefix(const std::string& target_name) {
  std::string keys;
  const std::string pairs[] = {"InitiatorName=iqn.2026-01.test:fuzz",
                               "TargetName=" + target_name,
                               "SessionType=Normal",
                               "InitialR2T=No",
                               "ImmediateData=Yes",
                               "MaxRecvDataSegmentLength=65536",
                               "FirstBurstLength=65536"};
  for (const std::string& kv : pairs) {
    keys += kv;
    keys += '\0';
  }
  std::vector<std::uint8_t> pdu(48, 0);
  pdu[0] = 0x43;  // Login Request, immediate
  pdu[1] = 0x87;  // Transit, CSG operational, NSG full feature
  pdu[5] = static_cast<std::uint8_t>(keys.size() >> 16);
  pdu[6] = static_cast<std::uint8_t>(keys.size() >> 8);
  pdu[7] = static_cast<std::uint8_t>(keys.size());
  pdu[8] = 0x40;  // ISID: random qualifier type
  pdu.insert(pdu.end(), keys.begin(), keys.end());
  while (pdu.size() % 4 != 0) pdu.push_back(0);
  return pdu;
}

}  // namespace maya::fuzz
