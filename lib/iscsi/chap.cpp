#include "lib/iscsi/chap.h"

#include "lib/common/base64.h"
#include "lib/iscsi/negotiation.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <memory>

namespace maya::iscsi {
namespace {

constexpr std::size_t kChallengeLength = 16;
constexpr std::size_t kMaxBinaryLength = 1024;

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Constant-time comparison, so response checks leak no timing.
bool equal_bytes(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  if (a.size() != b.size()) return false;
  std::uint8_t diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= a[i] ^ b[i];
  return diff == 0;
}

std::optional<std::uint8_t> parse_identifier(std::string_view v) {
  auto n = parse_number(v);
  if (!n || *n > 255) return std::nullopt;
  return static_cast<std::uint8_t>(*n);
}

}  // namespace

std::optional<std::vector<std::uint8_t>> decode_chap_binary(std::string_view v) {
  if (v.size() < 3 || v[0] != '0' || v.size() > 2 + kMaxBinaryLength * 2) return std::nullopt;
  std::vector<std::uint8_t> out;
  std::string_view body = v.substr(2);
  if (v[1] == 'x' || v[1] == 'X') {
    std::size_t i = 0;
    if (body.size() % 2 == 1) {  // an odd digit count has an implied leading zero
      int d = hex_digit(body[0]);
      if (d < 0) return std::nullopt;
      out.push_back(static_cast<std::uint8_t>(d));
      i = 1;
    }
    for (; i < body.size(); i += 2) {
      int hi = hex_digit(body[i]), lo = hex_digit(body[i + 1]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<std::uint8_t>((hi << 4) | lo));
    }
    return out;
  }
  if (v[1] == 'b' || v[1] == 'B') {
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : body) {
      if (c == '=') break;
      int d = base64_value(c);
      if (d < 0) return std::nullopt;
      acc = (acc << 6) | static_cast<std::uint32_t>(d);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out.push_back(static_cast<std::uint8_t>(acc >> bits));
      }
    }
    if (out.empty()) return std::nullopt;
    return out;
  }
  return std::nullopt;
}

std::string encode_chap_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s = "0x";
  for (std::uint8_t b : bytes) {
    s.push_back(kDigits[b >> 4]);
    s.push_back(kDigits[b & 0xf]);
  }
  return s;
}

std::vector<std::uint8_t> chap_md5_response(std::uint8_t identifier, std::string_view secret,
                                            std::span<const std::uint8_t> challenge) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::vector<std::uint8_t> digest(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_md5(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), &identifier, 1) != 1 ||
      EVP_DigestUpdate(ctx.get(), secret.data(), secret.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), challenge.data(), challenge.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), digest.data(), &len) != 1) {
    return {};
  }
  digest.resize(len);
  return digest;
}

void ChapAuthenticator::set_fixed_challenge(std::uint8_t id, std::vector<std::uint8_t> challenge) {
  identifier_ = id;
  challenge_ = std::move(challenge);
  fixed_ = true;
}

ChapStatus ChapAuthenticator::step(const KeyValues& in, KeyValues& out) {
  switch (state_) {
    case State::kWaitAlgorithm: {
      const std::string* a = find_key(in, "CHAP_A");
      if (a == nullptr) return in.empty() ? ChapStatus::kContinue : ChapStatus::kInitiatorError;
      bool md5 = false;
      std::string_view rest = *a;
      while (!rest.empty()) {
        auto comma = rest.find(',');
        if (rest.substr(0, comma) == "5") md5 = true;
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      }
      if (!md5) {
        out.emplace_back("CHAP_A", "Reject");
        return ChapStatus::kAuthFailed;
      }
      if (!fixed_) {
        challenge_.resize(kChallengeLength);
        if (RAND_bytes(challenge_.data(), static_cast<int>(challenge_.size())) != 1 ||
            RAND_bytes(&identifier_, 1) != 1) {
          return ChapStatus::kAuthFailed;
        }
      }
      out.emplace_back("CHAP_A", "5");
      out.emplace_back("CHAP_I", std::to_string(identifier_));
      out.emplace_back("CHAP_C", encode_chap_hex(challenge_));
      state_ = State::kWaitResponse;
      return ChapStatus::kContinue;
    }
    case State::kWaitResponse: {
      const std::string* n = find_key(in, "CHAP_N");
      const std::string* r = find_key(in, "CHAP_R");
      if (n == nullptr || r == nullptr) return ChapStatus::kInitiatorError;
      auto response = decode_chap_binary(*r);
      if (!response) return ChapStatus::kInitiatorError;
      auto expected = chap_md5_response(identifier_, creds_.secret, challenge_);
      // Compare both regardless of the name check so the timing says nothing.
      const bool name_ok = *n == creds_.user;
      const bool response_ok = equal_bytes(*response, expected);
      if (!name_ok || !response_ok) return ChapStatus::kAuthFailed;

      const std::string* mi = find_key(in, "CHAP_I");
      const std::string* mc = find_key(in, "CHAP_C");
      if ((mi == nullptr) != (mc == nullptr)) return ChapStatus::kInitiatorError;
      if (mi != nullptr) {
        if (!creds_.mutual_enabled()) return ChapStatus::kAuthFailed;
        auto id = parse_identifier(*mi);
        auto challenge = decode_chap_binary(*mc);
        if (!id || !challenge) return ChapStatus::kInitiatorError;
        // A reflected challenge would let an attacker use us as an oracle.
        if (equal_bytes(*challenge, challenge_)) return ChapStatus::kAuthFailed;
        out.emplace_back("CHAP_N", creds_.mutual_user);
        out.emplace_back("CHAP_R",
                         encode_chap_hex(chap_md5_response(*id, creds_.mutual_secret, *challenge)));
      }
      state_ = State::kDone;
      return ChapStatus::kDone;
    }
    case State::kDone:
      return ChapStatus::kDone;
  }
  return ChapStatus::kInitiatorError;
}

}  // namespace maya::iscsi
