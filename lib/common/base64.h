// Base64 (RFC 4648, the standard alphabet): etcd's JSON gateway carries keys and values in it,
// and iSCSI's CHAP carries binary values in it ("0b...").
#pragma once

#include <string>
#include <string_view>

#include "lib/common/result.h"

namespace maya {

// The 6-bit value of one base64 digit, or -1 for a byte outside the alphabet (and '=').
int base64_value(char c);

std::string base64_encode(std::string_view bytes);
// Strict: only the standard alphabet with '=' padding, length a multiple of 4.
Result<std::string> base64_decode(std::string_view text);

}  // namespace maya
