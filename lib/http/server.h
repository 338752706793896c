// An HTTP/1.1 server on a Unix socket (UnixServer) or a TCP port (TcpServer). The accept loop runs
// on the caller's io_context; each request's handler runs on a worker pool, so a slow handler (a
// mount, a mkfs) never blocks the others and requests are served in parallel, as Docker sends them.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "lib/common/result.h"
#include "lib/http/message.h"

namespace boost::asio {
class io_context;
}

namespace maya::http {

using Handler = std::function<Response(const Request&)>;

struct ServerOptions {
  std::size_t body_limit = 1 << 20;  // larger bodies get 413 and the connection is closed
  mode_t socket_mode = 0600;
  std::size_t workers = 4;
  std::chrono::seconds idle_timeout{60};  // a connection that sends nothing is dropped
  // Builds the answer to requests the server refuses itself (malformed, too large); plain
  // text when unset. Each protocol has its own error shape ({"error":…}, Docker's {"Err":…}).
  std::function<Response(int status, const std::string& message)> make_error;
  // Remove the socket file at close(). Off for a socket the service manager (systemd) holds.
  bool remove_on_close = true;
};

class UnixServer {
 public:
  // Binds `socket_path` (replacing a stale socket file) and starts accepting on `io`.
  static Result<std::unique_ptr<UnixServer>> listen(boost::asio::io_context& io,
                                                    const std::filesystem::path& socket_path,
                                                    ServerOptions options, Handler handler);
  // Serves an already-listening Unix socket (inherited from systemd or from the daemon image
  // this one replaced) instead of binding; takes ownership of `fd`. `socket_path` is where
  // clients find it.
  static Result<std::unique_ptr<UnixServer>> adopt(boost::asio::io_context& io, int fd,
                                                   const std::filesystem::path& socket_path,
                                                   ServerOptions options, Handler handler);
  ~UnixServer();
  UnixServer(const UnixServer&) = delete;
  UnixServer& operator=(const UnixServer&) = delete;

  // Stops accepting, waits for running handlers, removes the socket file.
  void close();
  // For a handover: stops accepting as close() does but leaves the socket listening and its
  // file in place, and returns a copy of the listening descriptor (CLOEXEC). Connections that
  // arrive meanwhile wait in the backlog for the next process; none is refused.
  Result<int> hand_over();
  const std::filesystem::path& path() const;

  struct Impl;

 private:
  explicit UnixServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

// The same server on a TCP port (the EBS-compatible API): the same limits (body_limit → 413 and a
// lingering close, idle_timeout), the same worker pool. socket_mode and remove_on_close do not
// apply.
class TcpServer {
 public:
  // Binds HOST:PORT (a literal IP address; port 0 picks a free port) and starts accepting.
  static Result<std::unique_ptr<TcpServer>> listen(boost::asio::io_context& io,
                                                   const std::string& host, std::uint16_t port,
                                                   ServerOptions options, Handler handler);
  ~TcpServer();
  TcpServer(const TcpServer&) = delete;
  TcpServer& operator=(const TcpServer&) = delete;

  // Stops accepting; connections waiting for a request are closed, running handlers finish.
  void close();
  // "IP:PORT" as bound ("[::1]:5656" for IPv6), with the port picked for port 0.
  const std::string& endpoint() const;
  std::uint16_t port() const;

  struct Impl;

 private:
  explicit TcpServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace maya::http
