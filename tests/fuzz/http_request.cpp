// Raw bytes from a client socket: Beast's request parser with the limits lib/http/server.cpp
// sets (16 KiB of header, 1 MiB of body), then the request goes where the daemon would send it
// (the Docker plugin router or the control API's), as the server's session does.
#include <boost/beast/http.hpp>
#include <cstdlib>

#include "lib/common/log.h"
#include "tests/fuzz/routers.h"

namespace bhttp = boost::beast::http;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  maya::log::set_level(maya::log::Level::error);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(1 << 20);
  parser.eager(true);
  boost::system::error_code ec;
  std::size_t used = 0;
  while (used < size && !parser.is_done()) {
    std::size_t n = parser.put(boost::asio::buffer(data + used, size - used), ec);
    if (ec == bhttp::error::need_more) break;
    if (ec) return 0;  // the server answers 400 and closes
    if (n == 0) break;
    used += n;
  }
  if (!parser.is_done()) {
    parser.put_eof(ec);
    if (ec || !parser.is_done()) return 0;
  }
  auto message = parser.release();
  maya::http::Request request{std::string(message.method_string()), std::string(message.target()),
                              std::move(message.body())};
  maya::fuzz::Routers routers;  // a fresh volume store per input
  maya::http::Response response = routers(request);
  if (response.status < 100 || response.status > 599) std::abort();
  return 0;
}
