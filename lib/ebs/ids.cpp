#include "lib/ebs/ids.h"

#include <sys/random.h>

#include <cerrno>
#include <system_error>

namespace maya::ebs {
namespace {

// `n` characters from `alphabet`, whose size is a power of two (so no modulo bias).
std::string random_chars(std::size_t n, std::string_view alphabet) {
  std::string bytes = random_bytes(n);
  std::string out;
  out.reserve(n);
  for (char b : bytes) out.push_back(alphabet[static_cast<unsigned char>(b) % alphabet.size()]);
  return out;
}

constexpr std::string_view kHex = "0123456789abcdef";

bool prefixed_hex(std::string_view id, std::string_view prefix) {
  if (id.size() != prefix.size() + 17 || !id.starts_with(prefix)) return false;
  for (char c : id.substr(prefix.size())) {
    if (kHex.find(c) == std::string_view::npos) return false;
  }
  return true;
}

}  // namespace

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = getrandom(out.data() + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "getrandom");
    }
    got += static_cast<std::size_t>(r);
  }
  return out;
}

std::string new_volume_id() {
  return "vol-" + random_chars(17, kHex);
}

std::string new_snapshot_id() {
  return "snap-" + random_chars(17, kHex);
}

std::string new_request_id() {
  std::string b = random_bytes(16);
  b[6] = static_cast<char>((b[6] & 0x0F) | 0x40);  // version 4
  b[8] = static_cast<char>((b[8] & 0x3F) | 0x80);  // RFC 4122 variant
  std::string out;
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    auto c = static_cast<unsigned char>(b[i]);
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xF]);
  }
  return out;
}

bool is_volume_id(std::string_view id) {
  return prefixed_hex(id, "vol-");
}

bool is_snapshot_id(std::string_view id) {
  return prefixed_hex(id, "snap-");
}

AccessKeyPair new_access_key_pair() {
  return AccessKeyPair{
      "AKIA" + random_chars(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
      random_chars(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")};
}

}  // namespace maya::ebs
