// Login text and key negotiation: a sequence of Login Requests through the login state machine
// (security with or without CHAP, operational negotiation, transit rules, continuation), and
// every key of each request also through the Negotiator directly at each stage.
// Input: [flags u8] then records of [data length u16][48-byte BHS][data].
#include <array>
#include <cstdlib>

#include "lib/iscsi/login.h"
#include "lib/iscsi/negotiation.h"
#include "lib/iscsi/text.h"
#include "tests/fuzz/reader.h"

namespace iscsi = maya::iscsi;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  maya::fuzz::Reader in(data, size);
  const std::uint8_t flags = in.u8();
  iscsi::LoginConfig config;
  config.target_name = "iqn.2026-11.io.maya:fuzz";
  if ((flags & 1) != 0) config.chap = {"user", "secret-of-12b", "", ""};
  if ((flags & 2) != 0)
    config.chap.mutual_user = "target", config.chap.mutual_secret = "tsecret-12by";
  config.discovery_auth = (flags & 4) != 0;
  iscsi::LoginMachine machine(config);
  machine.chap().set_fixed_challenge(7, std::vector<std::uint8_t>(16, 0x5a));

  for (int i = 0; i < 8 && !in.empty(); ++i) {
    const std::uint16_t length = in.u16();
    std::array<std::uint8_t, iscsi::kBhsLength> bhs{};
    auto head = in.bytes(bhs.size());
    std::copy(head.begin(), head.end(), bhs.begin());
    auto text = in.bytes(length);

    iscsi::LoginStep step = machine.handle(iscsi::decode_login(bhs), text);
    if (step.data.size() > (1u << 24)) std::abort();

    if (auto kvs = iscsi::parse_text(text)) {
      for (auto stage : {iscsi::Stage::kOperational, iscsi::Stage::kFullFeature}) {
        iscsi::Negotiator negotiator;
        for (const auto& kv : *kvs) {
          if (kv.first.starts_with("CHAP_") || kv.first == "AuthMethod") continue;
          (void)negotiator.answer(kv.first, kv.second, stage);
        }
        iscsi::KeyValues out;
        negotiator.append_declarations(out);
        negotiator.finish();
        const auto& p = negotiator.params();
        if (p.first_burst_length > p.max_burst_length && p.max_burst_length != 0) std::abort();
      }
    }
    if (step.fail || step.complete) break;
  }
  return 0;
}
