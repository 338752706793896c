// Unsigned integers from JSON files that an operator or a crash may have damaged. nlohmann's
// get<std::uint64_t>() converts a float with a static_cast (undefined behaviour for 1e300) and
// get<std::uint16_t>() wraps 70000 to 4464; json_unsigned refuses both with a json::type_error,
// which the loaders already report as "<file> is damaged: ...".
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

namespace maya {

template <class T>
T json_unsigned(const nlohmann::json& value) {
  static_assert(std::is_unsigned_v<T>);
  if (!value.is_number_unsigned() || value.get<std::uint64_t>() > std::numeric_limits<T>::max()) {
    throw nlohmann::json::type_error::create(302,
                                             std::string("expected an integer from 0 to ") +
                                                 std::to_string(std::numeric_limits<T>::max()) +
                                                 ", not a " + value.type_name() +
                                                 (value.is_number() ? " out of that range" : ""),
                                             nullptr);
  }
  return static_cast<T>(value.get<std::uint64_t>());
}

// object[key] as above, or `fallback` when the key is absent.
template <class T>
T json_unsigned(const nlohmann::json& object, const char* key, T fallback) {
  auto it = object.find(key);
  return it == object.end() ? fallback : json_unsigned<T>(*it);
}

}  // namespace maya
