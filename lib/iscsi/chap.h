// CHAP authentication (RFC 1994 with iSCSI's rules, RFC 7143 §12.1.3): CHAP_A=5 (MD5 via
// OpenSSL EVP), a random identifier and challenge from the target, the initiator's CHAP_N /
// CHAP_R checked against the configured secret; optionally mutual, where the initiator sends
// its own CHAP_I / CHAP_C and the target answers with its name and response.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lib/iscsi/text.h"

namespace maya::iscsi {

struct ChapCredentials {
  std::string user, secret;                // the initiator must prove it knows these
  std::string mutual_user, mutual_secret;  // the target proves itself with these (optional)
  bool enabled() const { return !user.empty(); }
  bool mutual_enabled() const { return !mutual_user.empty(); }
};

// CHAP binary values: "0x…" hex or "0b…" base64; nullopt when malformed.
std::optional<std::vector<std::uint8_t>> decode_chap_binary(std::string_view value);
std::string encode_chap_hex(std::span<const std::uint8_t> bytes);
// MD5(identifier || secret || challenge).
std::vector<std::uint8_t> chap_md5_response(std::uint8_t identifier, std::string_view secret,
                                            std::span<const std::uint8_t> challenge);

enum class ChapStatus : std::uint8_t {
  kContinue,       // send `out` and wait for the next request
  kDone,           // authenticated; `out` may carry the mutual answer
  kAuthFailed,     // Status 02/01
  kInitiatorError  // Status 02/00 (protocol violation)
};

class ChapAuthenticator {
 public:
  explicit ChapAuthenticator(const ChapCredentials& creds) : creds_(creds) {}

  // Feeds the CHAP_* keys of one login request (AuthMethod already chose CHAP).
  ChapStatus step(const KeyValues& in, KeyValues& out);
  bool done() const { return state_ == State::kDone; }

  // Tests pin the challenge instead of drawing random bytes.
  void set_fixed_challenge(std::uint8_t id, std::vector<std::uint8_t> challenge);

 private:
  enum class State : std::uint8_t { kWaitAlgorithm, kWaitResponse, kDone };
  const ChapCredentials& creds_;
  State state_ = State::kWaitAlgorithm;
  std::uint8_t identifier_ = 0;
  std::vector<std::uint8_t> challenge_;
  bool fixed_ = false;
};

}  // namespace maya::iscsi
