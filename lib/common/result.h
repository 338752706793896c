// Errors as values: every fallible call on a data or control path returns Result<T>.
// An Error carries one sentence for the user; exceptions are kept for fatal start-up errors.
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace maya {

struct Error {
  std::string message;
};

template <class T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(std::string message) {
  return std::unexpected(Error{std::move(message)});
}

// Prefixes context ("reading /x: ") to an error on its way up.
inline std::unexpected<Error> fail(const std::string& context, const Error& cause) {
  return std::unexpected(Error{context + ": " + cause.message});
}

}  // namespace maya

// Binds the value of a Result-returning expression to `var`, or returns its error.
#define MAYA_TRY(var, expr) \
  auto var = (expr);        \
  if (!var) return std::unexpected(var.error())

// Returns the error of a Result<void>-returning expression, if any.
#define MAYA_TRY_VOID(expr)                            \
  do {                                                 \
    if (auto maya_try_void_ = (expr); !maya_try_void_) \
      return std::unexpected(maya_try_void_.error());  \
  } while (0)
