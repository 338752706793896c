#include "lib/iscsi/text.h"

#include <algorithm>

namespace maya::iscsi {

std::expected<KeyValues, TextError> parse_text(std::span<const std::uint8_t> data) {
  if (data.size() > kMaxTextLength) return std::unexpected(TextError::kTooLong);
  KeyValues kvs;
  std::size_t pos = 0;
  while (pos < data.size()) {
    auto end = std::find(data.begin() + static_cast<std::ptrdiff_t>(pos), data.end(), 0);
    std::string_view record(reinterpret_cast<const char*>(data.data()) + pos,
                            static_cast<std::size_t>(end - data.begin()) - pos);
    pos += record.size() + 1;
    if (record.empty()) continue;
    auto eq = record.find('=');
    if (eq == std::string_view::npos) return std::unexpected(TextError::kMissingEquals);
    if (eq == 0) return std::unexpected(TextError::kEmptyKey);
    if (eq > kMaxKeyLength) return std::unexpected(TextError::kKeyTooLong);
    kvs.emplace_back(std::string(record.substr(0, eq)), std::string(record.substr(eq + 1)));
  }
  return kvs;
}

void append_key(std::vector<std::uint8_t>& out, std::string_view key, std::string_view value) {
  out.insert(out.end(), key.begin(), key.end());
  out.push_back('=');
  out.insert(out.end(), value.begin(), value.end());
  out.push_back(0);
}

void append_text(std::vector<std::uint8_t>& out, const KeyValues& kvs) {
  for (const auto& [k, v] : kvs) append_key(out, k, v);
}

const std::string* find_key(const KeyValues& kvs, std::string_view key) {
  for (const auto& kv : kvs) {
    if (kv.first == key) return &kv.second;
  }
  return nullptr;
}

bool TextAssembler::add(std::span<const std::uint8_t> data) {
  if (buffer_.size() + data.size() > kMaxTextLength) return false;
  buffer_.insert(buffer_.end(), data.begin(), data.end());
  return true;
}

std::span<const std::uint8_t> TextSplitter::next(std::size_t max_length, bool& more) {
  const std::size_t n = std::min(max_length, text_.size() - offset_);
  std::span<const std::uint8_t> piece(text_.data() + offset_, n);
  offset_ += n;
  more = offset_ < text_.size();
  return piece;
}

}  // namespace maya::iscsi
