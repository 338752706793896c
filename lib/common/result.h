// Errors as values: every fallible call on a data or control path returns Result<T>.
// An Error carries one sentence for the user and, when the system gave one, its cause as a
// std::error_code (errno in the generic category), so that callers decide by the cause (out of
// space is not a medium failure) without parsing the sentence. Exceptions are kept for fatal
// start-up errors.
#pragma once

#include <cerrno>
#include <expected>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

namespace maya {

struct Error {
  std::string message;
  std::error_code code{};  // empty: no system cause (a logic or validation error)
};

template <class T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(std::string message) {
  return std::unexpected(Error{std::move(message)});
}

inline std::unexpected<Error> fail(std::string message, std::error_code code) {
  return std::unexpected(Error{std::move(message), code});
}

// An error caused by `err` (an errno value).
inline std::error_code errno_code(int err) {
  return {err, std::generic_category()};
}

// Prefixes context ("reading /x: ") to an error on its way up; the cause stays.
inline std::unexpected<Error> fail(const std::string& context, const Error& cause) {
  return std::unexpected(Error{context + ": " + cause.message, cause.code});
}

// The store has no room (the file system is full, or a quota is reached): not a medium
// failure, and it passes once space is freed.
inline bool out_of_space(const std::error_code& code) {
  return code == std::errc::no_space_on_device || code == errno_code(EDQUOT);
}
inline bool out_of_space(const Error& error) {
  return out_of_space(error.code);
}

}  // namespace maya

// Binds the value of a Result-returning expression to `var`, or returns its error.
#define MAYA_TRY(var, expr) \
  auto var = (expr);        \
  if (!var) return std::unexpected(var.error())

// Returns the error of a Result<void>-returning expression, if any. Only for Result<void>: a
// value, such as a lock guard, would be dropped at once; MAYA_TRY keeps it alive.
#define MAYA_TRY_VOID(expr)                                                              \
  do {                                                                                   \
    auto maya_try_void_ = (expr);                                                        \
    static_assert(std::is_same_v<decltype(maya_try_void_), ::maya::Result<void>>,        \
                  "MAYA_TRY_VOID would drop this value; use MAYA_TRY to keep it alive"); \
    if (!maya_try_void_) return std::unexpected(maya_try_void_.error());                 \
  } while (0)
