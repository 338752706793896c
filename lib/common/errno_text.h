// The system's words for an errno value, and an Error that keeps that errno as its cause: the one
// place that turns errno into text (strerror_r, safe on any thread).
#pragma once

#include <cerrno>
#include <string>

#include "lib/common/result.h"

namespace maya {

// "No space left on device" for ENOSPC. The default reads errno at the call.
std::string errno_text(int err = errno);

// fail("WHAT: <errno text>") with the errno as the error's code, so callers can decide by cause.
std::unexpected<Error> fail_errno(const std::string& what, int err = errno);

}  // namespace maya
