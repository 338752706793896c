// Byte-level text helpers shared by the EC2 query parser, SigV4 and the XML writer: percent
// decoding (form and URI), AWS's strict URI encoding, UTF-8 validation, lowercase hex.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace maya::ebs {

// Decodes %XX escapes; with `plus_is_space` (application/x-www-form-urlencoded) also '+' → ' '.
// A '%' not followed by two hex digits gives nullopt.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

// SigV4's UriEncode: every byte but the unreserved A-Za-z0-9-._~ becomes %XX (uppercase hex);
// with `keep_slash` '/' stays (the canonical URI).
std::string uri_encode(std::string_view bytes, bool keep_slash = false);

// True for well-formed UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view bytes);

// The length of the well-formed UTF-8 sequence starting at text[0], or 0 if it is not one.
std::size_t utf8_sequence_length(std::string_view text);

// The raw (still encoded) NAME=VALUE pairs of a query string or form body, in order: split at
// '&' (empty pieces skipped), then at the first '=' (none: an empty value).
std::vector<std::pair<std::string_view, std::string_view>> split_query(std::string_view text);

// Lowercase hex of the bytes.
std::string hex_lower(std::span<const unsigned char> bytes);

}  // namespace maya::ebs
