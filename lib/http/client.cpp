#include "lib/http/client.h"

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <limits>

#include "lib/http/unix_path.h"

namespace maya::http {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using local = asio::local::stream_protocol;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {

bhttp::request<bhttp::string_body> to_message(const Request& request, const std::string& host) {
  bhttp::request<bhttp::string_body> message(bhttp::string_to_verb(request.method), request.target,
                                             11);
  message.set(bhttp::field::host, host);
  message.set(bhttp::field::user_agent, "maya/" MAYA_VERSION);
  if (!request.body.empty()) message.set(bhttp::field::content_type, "application/json");
  for (const auto& [name, value] : request.headers) message.set(name, value);
  message.body() = request.body;
  message.keep_alive(false);
  message.prepare_payload();
  return message;
}

// Runs `io` until `done` is set or `deadline` passes. At the deadline `stop` closes what is
// pending (the socket, a resolver), the aborted handlers run, and the answer is false.
template <class Stop>
bool run_until(asio::io_context& io, const bool& done, Clock::time_point deadline, Stop stop) {
  io.restart();
  while (!done && Clock::now() < deadline) {
    if (io.run_one_until(deadline) == 0 && io.stopped()) break;  // nothing left to wait for
  }
  if (done) return true;
  stop();
  io.restart();
  io.run();
  return false;
}

struct Outcome {
  error_code error;
  const char* stage = "connect to";
  bool timed_out = false;
};

// The exchange every transport shares: connect, send the request, read (all of the answer, or
// its header for a stream), all before `deadline`. `connect(handler)` and `read(handler)` start
// the transport's own operations; `stop()` aborts whatever is pending.
template <class Socket, class Connect, class Read, class Stop>
Outcome exchange(asio::io_context& io, Socket& socket, Connect connect,
                 bhttp::request<bhttp::string_body>& message, Read read, Clock::time_point deadline,
                 Stop stop) {
  Outcome out;
  bool done = false;
  connect([&](error_code ec) {
    if (ec) {
      out.error = ec;
      done = true;
      return;
    }
    out.stage = "send a request to";
    bhttp::async_write(socket, message, [&](error_code write_ec, std::size_t) {
      // A server may answer before it has read the whole body (413 for an oversized one) and
      // hang up: read the answer even when the write failed, and report the write error only
      // when there is none.
      out.stage = write_ec ? "send a request to" : "read the answer from";
      read([&, write_ec](error_code ec) {
        out.error = (ec && write_ec) ? write_ec : ec;
        done = true;
      });
    });
  });
  out.timed_out = !run_until(io, done, deadline, stop);
  return out;
}

std::error_code cause_of(const error_code& error) {
  if (error.category() == boost::system::system_category() ||
      error.category() == boost::system::generic_category())
    return errno_code(error.value());
  if (error == asio::error::eof || error == bhttp::error::end_of_stream ||
      error == bhttp::error::partial_message)
    return errno_code(ECONNRESET);
  return {};
}

std::unexpected<Error> transport_failure(const Outcome& out, const std::string& where,
                                         std::chrono::milliseconds timeout) {
  if (out.timed_out) {
    return fail("no answer from " + where + " within " + std::to_string(timeout.count()) + " ms",
                errno_code(ETIMEDOUT));
  }
  if (out.error == asio::error::not_found ||
      out.error == boost::system::errc::no_such_file_or_directory) {
    return fail("no socket at " + where, errno_code(ENOENT));
  }
  if (out.error == asio::error::connection_refused) {
    return fail("nothing is listening on " + where, errno_code(ECONNREFUSED));
  }
  return fail(std::string("cannot ") + out.stage + " " + where + ": " + out.error.message(),
              cause_of(out.error));
}

// Connects a TCP socket to host:port: an address directly, a name through the resolver.
auto tcp_connect(tcp::socket& socket, tcp::resolver& resolver, const std::string& host,
                 std::uint16_t port) {
  return [&socket, &resolver, &host, port](auto handler) {
    error_code not_address;
    auto address = asio::ip::make_address(host, not_address);
    if (!not_address) {
      socket.async_connect(tcp::endpoint(address, port), handler);
      return;
    }
    resolver.async_resolve(
        host, std::to_string(port),
        [&socket, handler](error_code ec, const tcp::resolver::results_type& results) {
          if (ec) return handler(ec);
          asio::async_connect(socket, results,
                              [handler](error_code ec, const tcp::endpoint&) { handler(ec); });
        });
  };
}

std::string host_field(const std::string& host, std::uint16_t port) {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Response to_response(bhttp::response<bhttp::string_body>& answer) {
  return Response{static_cast<int>(answer.result_int()), std::move(answer.body()),
                  std::string(answer[bhttp::field::content_type])};
}

}  // namespace

Result<Response> request(const std::filesystem::path& socket_path, const Request& request,
                         std::chrono::milliseconds timeout) {
  MAYA_TRY_VOID(check_socket_path(socket_path));
  asio::io_context io;
  local::socket socket(io);
  auto message = to_message(request, "localhost");
  boost::beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);

  auto connect = [&](auto handler) {
    socket.async_connect(local::endpoint(socket_path.string()), handler);
  };
  auto read = [&](auto handler) {
    bhttp::async_read(socket, buffer, parser,
                      [handler](error_code ec, std::size_t) { handler(ec); });
  };
  auto stop = [&] {
    error_code ignored;
    socket.close(ignored);
  };
  auto out = exchange(io, socket, connect, message, read, Clock::now() + timeout, stop);
  if (out.timed_out || out.error) return transport_failure(out, socket_path.string(), timeout);
  return to_response(parser.get());
}

Result<Response> request(const std::string& host, std::uint16_t port, const Request& request,
                         std::chrono::milliseconds timeout) {
  asio::io_context io;
  tcp::socket socket(io);
  tcp::resolver resolver(io);
  auto where = host_field(host, port);
  auto message = to_message(request, where);
  boost::beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);

  auto read = [&](auto handler) {
    bhttp::async_read(socket, buffer, parser,
                      [handler](error_code ec, std::size_t) { handler(ec); });
  };
  auto stop = [&] {
    error_code ignored;
    resolver.cancel();
    socket.close(ignored);
  };
  auto out = exchange(io, socket, tcp_connect(socket, resolver, host, port), message, read,
                      Clock::now() + timeout, stop);
  if (out.timed_out || out.error) return transport_failure(out, where, timeout);
  return to_response(parser.get());
}

// A stream's connection and parser. The body is read into `chunk` (buffer_body): Beast hands
// out what has arrived, whether the answer is chunked or not.
struct ResponseStream::State {
  asio::io_context io;
  tcp::socket socket{io};
  tcp::resolver resolver{io};
  std::string where;
  boost::beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::buffer_body> parser;
  std::array<char, 16384> chunk{};
  bool open = true;

  void stop() {
    error_code ignored;
    resolver.cancel();
    socket.close(ignored);
    open = false;
  }
};

ResponseStream::ResponseStream(std::unique_ptr<State> state) : state_(std::move(state)) {}
ResponseStream::~ResponseStream() = default;

Result<std::unique_ptr<ResponseStream>> ResponseStream::open(const std::string& host,
                                                             std::uint16_t port,
                                                             const Request& request,
                                                             std::chrono::milliseconds timeout) {
  auto state = std::make_unique<State>();
  State& s = *state;
  s.where = host_field(host, port);
  s.parser.body_limit(std::numeric_limits<std::uint64_t>::max());  // a stream has no end
  auto message = to_message(request, s.where);
  auto read = [&s](auto handler) {
    bhttp::async_read_header(s.socket, s.buffer, s.parser,
                             [handler](error_code ec, std::size_t) { handler(ec); });
  };
  auto out = exchange(s.io, s.socket, tcp_connect(s.socket, s.resolver, host, port), message, read,
                      Clock::now() + timeout, [&s] { s.stop(); });
  if (out.timed_out || out.error) return transport_failure(out, s.where, timeout);
  return std::unique_ptr<ResponseStream>(new ResponseStream(std::move(state)));
}

int ResponseStream::status() const {
  return static_cast<int>(state_->parser.get().result_int());
}

Result<ResponseStream::Piece> ResponseStream::read(Clock::time_point deadline) {
  State& s = *state_;
  if (s.parser.is_done()) return Piece{{}, true, false};
  if (!s.open) return fail("the answer from " + s.where + " was cut short", errno_code(ECONNRESET));
  auto& body = s.parser.get().body();
  body.data = s.chunk.data();
  body.size = s.chunk.size();
  bool done = false;
  error_code result;
  bhttp::async_read_some(s.socket, s.buffer, s.parser, [&](error_code ec, std::size_t) {
    result = ec;
    done = true;
  });
  if (!run_until(s.io, done, deadline, [&s] { s.stop(); })) return Piece{{}, false, true};
  if (result == bhttp::error::need_buffer) result = {};  // the chunk is full: not an error
  if (result) {
    s.stop();
    return fail("cannot read the answer from " + s.where + ": " + result.message(),
                cause_of(result));
  }
  Piece piece;
  piece.data.assign(s.chunk.data(), s.chunk.size() - body.size);
  piece.ended = s.parser.is_done();
  return piece;
}

}  // namespace maya::http
