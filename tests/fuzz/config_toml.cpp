// The TOML config reader: any text either parses into a Config or gives a
// "PATH:LINE:COL: ..." error; nothing else.
#include <cstdlib>
#include <string_view>

#include "lib/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = maya::config::parse(text, "/etc/maya.conf");
  if (!config && config.error().message.empty()) std::abort();  // errors say what is wrong
  return 0;
}
