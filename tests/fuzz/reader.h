// Reads a fuzz input as records: fixed-width big-endian numbers and length-prefixed byte runs.
// A simple, documented layout lets tests/fuzz/make_corpus.py write valid seeds by hand; past the
// end every read yields zeros or an empty run.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>

namespace maya::fuzz {

class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size) : rest_(data, size) {}

  bool empty() const { return rest_.empty(); }
  std::uint8_t u8() {
    if (rest_.empty()) return 0;
    std::uint8_t v = rest_[0];
    rest_ = rest_.subspan(1);
    return v;
  }
  std::uint16_t u16() { return static_cast<std::uint16_t>(u8() << 8 | u8()); }
  std::span<const std::uint8_t> bytes(std::size_t n) {
    n = std::min(n, rest_.size());
    auto v = rest_.first(n);
    rest_ = rest_.subspan(n);
    return v;
  }
  std::string str(std::size_t n) {
    auto b = bytes(n);
    return {b.begin(), b.end()};
  }

 private:
  std::span<const std::uint8_t> rest_;
};

}  // namespace maya::fuzz
