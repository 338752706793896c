#include "lib/common/errno_text.h"

#include <cstring>

namespace maya {

std::string errno_text(int err) {
  char buffer[256];
  // The GNU strerror_r returns the text, in `buffer` or in a static string.
  return ::strerror_r(err, buffer, sizeof buffer);
}

std::unexpected<Error> fail_errno(const std::string& what, int err) {
  return fail(what + ": " + errno_text(err), errno_code(err));
}

}  // namespace maya
