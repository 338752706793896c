// Text key=value pairs as carried in Login and Text PDUs (RFC 7143 §6): "key=value\0" records,
// and the reassembly of a text that spans several PDUs with the C (continue) bit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace maya::iscsi {

using KeyValue = std::pair<std::string, std::string>;
using KeyValues = std::vector<KeyValue>;

inline constexpr std::size_t kMaxKeyLength = 63;
inline constexpr std::size_t kMaxTextLength = 64 * 1024;  // bound on a reassembled text

enum class TextError : std::uint8_t { kMissingEquals, kKeyTooLong, kEmptyKey, kTooLong };

// Parses "k=v\0k=v\0…". A final record without its NUL is accepted; empty records are skipped.
std::expected<KeyValues, TextError> parse_text(std::span<const std::uint8_t> data);
// Appends "k=v\0" for each pair.
void append_text(std::vector<std::uint8_t>& out, const KeyValues& kvs);
void append_key(std::vector<std::uint8_t>& out, std::string_view key, std::string_view value);

const std::string* find_key(const KeyValues& kvs, std::string_view key);

// Collects the data of a text split across PDUs (C bit) until the last one.
class TextAssembler {
 public:
  // Adds one PDU's data; false if the total would exceed kMaxTextLength.
  bool add(std::span<const std::uint8_t> data);
  std::span<const std::uint8_t> bytes() const { return buffer_; }
  void clear() { buffer_.clear(); }

 private:
  std::vector<std::uint8_t> buffer_;
};

// Sends a long text back in pieces no longer than the peer's MaxRecvDataSegmentLength.
class TextSplitter {
 public:
  void set(std::vector<std::uint8_t> text) {
    text_ = std::move(text);
    offset_ = 0;
  }
  bool pending() const { return offset_ < text_.size(); }
  // The next piece; `more` says whether another follows (the C bit).
  std::span<const std::uint8_t> next(std::size_t max_length, bool& more);
  void clear() {
    text_.clear();
    offset_ = 0;
  }

 private:
  std::vector<std::uint8_t> text_;
  std::size_t offset_ = 0;
};

}  // namespace maya::iscsi
