// A small HTTP/1.1 client, used by the CLI (control socket), the tests (plugin socket) and the
// realm (etcd's JSON gateway over TCP). Every call is bounded by a timeout. One request per
// connection (Connection: close).
//
// The request's `headers` are sent as extra header fields (etcd's "Authorization: <token>").
// Failures to reach the peer carry a cause: ETIMEDOUT when the time ran out, ECONNREFUSED when
// nothing listens, otherwise the system's errno when there is one.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "lib/common/result.h"
#include "lib/http/message.h"

namespace maya::http {

Result<Response> request(const std::filesystem::path& socket_path, const Request& request,
                         std::chrono::milliseconds timeout = std::chrono::seconds(30));

// The same over TCP; `host` is an IP address (v4 or v6) or a name to resolve.
Result<Response> request(const std::string& host, std::uint16_t port, const Request& request,
                         std::chrono::milliseconds timeout);

// An answer read as it comes, for endless responses (etcd's watch): open() sends the request and
// reads the status line and header; read() then hands out the body piece by piece.
class ResponseStream {
 public:
  static Result<std::unique_ptr<ResponseStream>> open(const std::string& host, std::uint16_t port,
                                                      const Request& request,
                                                      std::chrono::milliseconds timeout);
  ~ResponseStream();
  ResponseStream(const ResponseStream&) = delete;
  ResponseStream& operator=(const ResponseStream&) = delete;

  int status() const;

  struct Piece {
    std::string data;        // what arrived (may be empty: a chunk's framing alone)
    bool ended = false;      // the server ended the answer (no more pieces)
    bool timed_out = false;  // the deadline passed first; the connection is closed
  };
  // The next bytes of the body, waiting at most until `deadline`. An error: the connection broke.
  Result<Piece> read(std::chrono::steady_clock::time_point deadline);

 private:
  struct State;
  explicit ResponseStream(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace maya::http
