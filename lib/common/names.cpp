#include "lib/common/names.h"

#include <cctype>
#include <string>

namespace maya {

Result<void> validate_volume_name(std::string_view name) {
  constexpr std::size_t kMax = 63;
  if (name.empty()) return fail("invalid volume name: it is empty");
  if (name.size() > kMax) {
    return fail("invalid volume name: it has " + std::to_string(name.size()) +
                " characters, at most " + std::to_string(kMax) + " are allowed");
  }
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (!alnum(name.front())) {
    return fail("invalid volume name \"" + std::string(name) +
                "\": it must start with a letter or a digit");
  }
  for (char c : name) {
    if (!alnum(c) && c != '_' && c != '.' && c != '-') {
      return fail("invalid volume name \"" + std::string(name) +
                  "\": only letters, digits, '_', '.' and '-' are allowed");
    }
  }
  return {};
}

}  // namespace maya
