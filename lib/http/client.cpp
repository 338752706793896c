#include "lib/http/client.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "lib/http/unix_path.h"

namespace maya::http {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using local = asio::local::stream_protocol;
using boost::system::error_code;

Result<Response> request(const std::filesystem::path& socket_path, const Request& request,
                         std::chrono::milliseconds timeout) {
  MAYA_TRY_VOID(check_socket_path(socket_path));
  asio::io_context io;
  local::socket socket(io);
  asio::steady_timer timer(io);

  bhttp::request<bhttp::string_body> message(bhttp::string_to_verb(request.method), request.target,
                                             11);
  message.set(bhttp::field::host, "localhost");
  message.set(bhttp::field::user_agent, "maya/" MAYA_VERSION);
  if (!request.body.empty()) message.set(bhttp::field::content_type, "application/json");
  message.body() = request.body;
  message.keep_alive(false);
  message.prepare_payload();

  boost::beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);

  error_code result;
  const char* stage = "connect to";
  bool timed_out = false;
  timer.expires_after(timeout);
  timer.async_wait([&](error_code ec) {
    if (ec) return;
    timed_out = true;
    error_code ignored;
    socket.close(ignored);
  });
  socket.async_connect(local::endpoint(socket_path.string()), [&](error_code ec) {
    if (ec) {
      result = ec;
      timer.cancel();
      return;
    }
    stage = "send a request to";
    bhttp::async_write(socket, message, [&](error_code write_ec, std::size_t) {
      // A server may answer before it has read the whole body (413 for an oversized one) and
      // hang up: read the answer even when the write failed, and report the write error only
      // when there is none.
      stage = write_ec ? "send a request to" : "read the answer from";
      bhttp::async_read(socket, buffer, parser, [&, write_ec](error_code ec, std::size_t) {
        result = (ec && write_ec) ? write_ec : ec;
        timer.cancel();
      });
    });
  });
  io.run();

  std::string where = socket_path.string();
  if (timed_out) {
    return fail("no answer from " + where + " within " + std::to_string(timeout.count()) + " ms");
  }
  if (result == asio::error::not_found ||
      result == boost::system::errc::no_such_file_or_directory) {
    return fail("no socket at " + where);
  }
  if (result == asio::error::connection_refused) return fail("nothing is listening on " + where);
  if (result) return fail(std::string("cannot ") + stage + " " + where + ": " + result.message());

  auto& answer = parser.get();
  return Response{static_cast<int>(answer.result_int()), std::move(answer.body()),
                  std::string(answer[bhttp::field::content_type])};
}

}  // namespace maya::http
