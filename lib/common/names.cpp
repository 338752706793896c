#include "lib/common/names.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace maya {

namespace {

// The rule every maya name shares: [A-Za-z0-9][A-Za-z0-9_.-]{0,62}. `what` names it in errors.
Result<void> validate_name(std::string_view what, std::string_view name) {
  constexpr std::size_t kMax = 63;
  const std::string kind(what);
  if (name.empty()) return fail("invalid " + kind + ": it is empty");
  if (name.size() > kMax) {
    return fail("invalid " + kind + ": it has " + std::to_string(name.size()) +
                " characters, at most " + std::to_string(kMax) + " are allowed");
  }
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (!alnum(name.front())) {
    return fail("invalid " + kind + " \"" + std::string(name) +
                "\": it must start with a letter or a digit");
  }
  for (char c : name) {
    if (!alnum(c) && c != '_' && c != '.' && c != '-') {
      return fail("invalid " + kind + " \"" + std::string(name) +
                  "\": only letters, digits, '_', '.' and '-' are allowed");
    }
  }
  return {};
}

}  // namespace

Result<void> validate_volume_name(std::string_view name) {
  return validate_name("volume name", name);
}

Result<void> validate_realm_name(std::string_view name) {
  return validate_name("realm name", name);
}

Result<void> validate_iscsi_name(std::string_view name) {
  auto bad = [&](const std::string& why) {
    return fail("invalid iSCSI name \"" + std::string(name) + "\": " + why);
  };
  if (name.size() > 223) return bad("it is longer than 223 bytes");
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':';
    if (!ok) return bad("only lowercase letters, digits, '.', '-' and ':' are allowed");
  }
  auto hex = [](std::string_view digits) {
    return std::all_of(digits.begin(), digits.end(),
                       [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
  };
  if (name.starts_with("eui.")) {
    if (name.size() == 20 && hex(name.substr(4))) return {};
    return bad("an eui. name has 16 hex digits");
  }
  if (name.starts_with("naa.")) {
    std::size_t digits = name.size() - 4;
    if ((digits == 16 || digits == 32) && hex(name.substr(4))) return {};
    return bad("a naa. name has 16 or 32 hex digits");
  }
  // iqn.YYYY-MM.authority
  auto digit = [&](std::size_t i) { return i < name.size() && name[i] >= '0' && name[i] <= '9'; };
  bool date = digit(4) && digit(5) && digit(6) && digit(7) && name.size() > 8 && name[8] == '-' &&
              digit(9) && digit(10);
  if (!name.starts_with("iqn.") || !date || name.size() < 13 || name[11] != '.')
    return bad("expected iqn.YYYY-MM.reversed.domain[:name], eui.<16 hex> or naa.<hex>");
  return {};
}

}  // namespace maya
