#include "lib/http/server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <optional>

#include "lib/common/log.h"
#include "lib/http/unix_path.h"

namespace maya::http {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using local = asio::local::stream_protocol;
using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr std::size_t kHeaderLimit = 16 * 1024;
// At a handover, how long a connection that has sent nothing yet may still send its request
// (it was accepted by this process, so only this process can answer it).
constexpr auto kHandoverGrace = std::chrono::seconds(2);

// What a session is to the server: something to close when the server closes.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void close_if_idle() = 0;
};

// What sessions share with the server. Only the io thread touches `closed` and `sessions`.
struct Shared {
  Handler handler;
  ServerOptions options;
  asio::thread_pool* pool = nullptr;
  bool closed = false;
  bool handing_over = false;  // closed for a handover: requests already here are still served
  std::map<SessionBase*, std::weak_ptr<SessionBase>> sessions;
};

// One connection, on a Unix socket or a TCP one.
template <class Socket>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Socket>> {
  using std::enable_shared_from_this<Session<Socket>>::shared_from_this;
  using std::enable_shared_from_this<Session<Socket>>::weak_from_this;

 public:
  Session(Socket socket, std::shared_ptr<Shared> shared)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), shared_(std::move(shared)) {}
  ~Session() { shared_->sessions.erase(this); }

  void start() {
    shared_->sessions[this] = weak_from_this();
    read();
  }

  // Server shutdown: a session waiting for a request is closed; one running a handler
  // finishes its response first.
  // At a handover, one that has sent nothing yet gets a moment to send its request first.
  void close_if_idle() override {
    if (busy_) return;
    if (!shared_->handing_over) return close();
    timer_.expires_after(kHandoverGrace);
    timer_.async_wait([weak = weak_from_this()](error_code ec) {
      if (auto self = weak.lock(); self && !ec) self->close();
    });
  }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(shared_->options.body_limit);
    parser_->header_limit(kHeaderLimit);
    timer_.expires_after(shared_->options.idle_timeout);
    timer_.async_wait([weak = weak_from_this()](error_code ec) {
      if (auto self = weak.lock(); self && !ec) self->close();
    });
    bhttp::async_read(
        socket_, buffer_, *parser_,
        [self = shared_from_this()](error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(error_code ec) {
    timer_.cancel();
    if (ec == bhttp::error::body_limit) {
      return respond(
          error_response(413, "the request body is larger than " +
                                  std::to_string(shared_->options.body_limit) + " bytes"),
          false, 11);
    }
    if (ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == asio::error::eof || ec == asio::error::connection_reset) {
      return close();
    }
    if (ec)
      return respond(error_response(400, "malformed HTTP request: " + ec.message()), false, 11);
    if (shared_->closed && !shared_->handing_over)
      return respond(error_response(503, "the daemon is shutting down"), false, 11);

    auto message = parser_->release();
    Request request{std::string(message.method_string()), std::string(message.target()),
                    std::move(message.body())};
    for (const auto& field : message)
      request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    // The socket stays open while the handler runs (a busy session is never closed under it).
    request.caller_gone = [fd = socket_.native_handle()] {
      pollfd p{fd, POLLRDHUP, 0};
      return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
    };
    bool keep_alive = message.keep_alive();
    unsigned version = message.version();
    const bool head = message.method() == bhttp::verb::head;
    busy_ = true;
    // The work guard keeps the event loop alive while the handler runs on the pool, so a
    // shutdown still writes the answer to a request that was already being served.
    auto work = asio::make_work_guard(socket_.get_executor());
    asio::post(*shared_->pool, [self = shared_from_this(), request = std::move(request), keep_alive,
                                version, head, work = std::move(work)]() mutable {
      Response response = self->run_handler(request);
      asio::post(work.get_executor(),
                 [self, response = std::move(response), keep_alive, version, head]() mutable {
                   self->respond(std::move(response), keep_alive, version, head);
                 });
      work.reset();
    });
  }

  Response run_handler(const Request& request) {
    try {
      return shared_->handler(request);
    } catch (const std::exception& e) {
      log::error("handler for " + request.method + " " + request.target + " failed: " + e.what());
      return error_response(500, std::string("internal error: ") + e.what());
    }
  }

  Response error_response(int status, const std::string& message) const {
    if (shared_->options.make_error) return shared_->options.make_error(status, message);
    return Response{status, message, "text/plain"};
  }

  // The answer to HEAD has the headers GET's would have (its Content-Length too) and no body.
  void respond(Response response, bool keep_alive, unsigned version, bool head = false) {
    auto message = std::make_shared<bhttp::response<bhttp::string_body>>(
        static_cast<bhttp::status>(response.status), version);
    message->set(bhttp::field::server, "maya/" MAYA_VERSION);
    message->set(bhttp::field::content_type, response.content_type);
    message->keep_alive(keep_alive && !shared_->closed);
    if (head) {
      message->content_length(response.body.size());
    } else {
      message->body() = std::move(response.body);
      message->prepare_payload();
    }
    busy_ = true;
    bhttp::async_write(socket_, *message,
                       [self = shared_from_this(), message](error_code ec, std::size_t) {
                         self->busy_ = false;
                         if (ec) return self->close();
                         if (!message->keep_alive()) return self->linger();
                         self->read();
                       });
  }

  // After refusing a request, stop sending and discard what the client still sends for a
  // moment, so it reads our answer instead of a connection reset (a "lingering close").
  void linger() {
    error_code ignored;
    socket_.shutdown(asio::socket_base::shutdown_send, ignored);
    timer_.expires_after(std::chrono::seconds(2));
    timer_.async_wait([weak = weak_from_this()](error_code ec) {
      if (auto self = weak.lock(); self && !ec) self->close();
    });
    drain();
  }

  void drain() {
    socket_.async_read_some(asio::buffer(drain_buffer_),
                            [self = shared_from_this()](error_code ec, std::size_t) {
                              if (ec) return self->close();
                              self->drain();
                            });
  }

  void close() {
    error_code ignored;
    timer_.cancel();
    socket_.shutdown(asio::socket_base::shutdown_both, ignored);
    socket_.close(ignored);
  }

  Socket socket_;
  asio::steady_timer timer_;
  boost::beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::shared_ptr<Shared> shared_;
  bool busy_ = false;
  std::array<char, 16384> drain_buffer_;
};

}  // namespace

struct UnixServer::Impl {
  Impl(asio::io_context& io, std::filesystem::path p, std::size_t workers)
      : acceptor(io), path(std::move(p)), pool(workers) {}

  void accept() {
    acceptor.async_accept([this](error_code ec, local::socket socket) {
      if (ec == asio::error::operation_aborted || shared->closed) return;
      if (!ec) {
        std::make_shared<Session<local::socket>>(std::move(socket), shared)->start();
      } else {
        log::warn("accept on " + path.string() + " failed: " + ec.message());
      }
      accept();
    });
  }

  local::acceptor acceptor;
  std::filesystem::path path;
  asio::thread_pool pool;
  std::shared_ptr<Shared> shared = std::make_shared<Shared>();
};

Result<std::unique_ptr<UnixServer>> UnixServer::listen(asio::io_context& io,
                                                       const std::filesystem::path& socket_path,
                                                       ServerOptions options, Handler handler) {
  MAYA_TRY_VOID(check_socket_path(socket_path));
  MAYA_TRY_VOID(remove_stale_socket(socket_path));

  auto impl = std::make_shared<Impl>(io, socket_path, options.workers);
  impl->shared->handler = std::move(handler);
  impl->shared->options = std::move(options);
  impl->shared->pool = &impl->pool;

  error_code ec;
  local::endpoint endpoint(socket_path.string());
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (ec) return fail("cannot listen on " + socket_path.string() + ": " + ec.message());
  // Permissions are set before listen(): no client can connect while the mode is still wide.
  if (::chmod(socket_path.c_str(), impl->shared->options.socket_mode) != 0) {
    return fail("cannot set the mode of " + socket_path.string());
  }
  impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("cannot listen on " + socket_path.string() + ": " + ec.message());
  impl->accept();
  return std::unique_ptr<UnixServer>(new UnixServer(std::move(impl)));
}

Result<std::unique_ptr<UnixServer>> UnixServer::adopt(asio::io_context& io, int fd,
                                                      const std::filesystem::path& socket_path,
                                                      ServerOptions options, Handler handler) {
  auto impl = std::make_shared<Impl>(io, socket_path, options.workers);
  impl->shared->handler = std::move(handler);
  impl->shared->options = std::move(options);
  impl->shared->pool = &impl->pool;
  error_code ec;
  impl->acceptor.assign(local(), fd, ec);
  if (ec) {
    ::close(fd);
    return fail("cannot serve the inherited socket " + socket_path.string() + ": " + ec.message());
  }
  impl->accept();
  return std::unique_ptr<UnixServer>(new UnixServer(std::move(impl)));
}

Result<int> UnixServer::hand_over() {
  if (impl_->shared->closed) return fail(impl_->path.string() + " is already closed");
  int copy = ::fcntl(impl_->acceptor.native_handle(), F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return fail("cannot keep the listening socket " + impl_->path.string());
  impl_->shared->options.remove_on_close = false;
  impl_->shared->handing_over = true;
  close();
  return copy;
}

void UnixServer::close() {
  if (impl_->shared->closed) return;
  impl_->shared->closed = true;
  error_code ignored;
  impl_->acceptor.close(ignored);
  if (impl_->shared->options.remove_on_close) ::unlink(impl_->path.c_str());
  auto sessions = impl_->shared->sessions;  // closing one erases it from the map
  for (auto& [raw, weak] : sessions) {
    if (auto session = weak.lock()) session->close_if_idle();
  }
}

const std::filesystem::path& UnixServer::path() const {
  return impl_->path;
}

UnixServer::~UnixServer() {
  close();
  impl_->pool.join();
}

struct TcpServer::Impl {
  Impl(asio::io_context& io, std::size_t workers) : acceptor(io), pool(workers) {}

  void accept() {
    acceptor.async_accept([this](error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || shared->closed) return;
      if (!ec) {
        error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        std::make_shared<Session<tcp::socket>>(std::move(socket), shared)->start();
      } else {
        log::warn("accept on " + endpoint + " failed: " + ec.message());
        // Out of descriptors: accepting again at once would spin; retry shortly.
        retry.expires_after(std::chrono::milliseconds(100));
        retry.async_wait([this](error_code e) {
          if (!e && !shared->closed) accept();
        });
        return;
      }
      accept();
    });
  }

  tcp::acceptor acceptor;
  asio::steady_timer retry{acceptor.get_executor()};
  std::string endpoint;
  std::uint16_t port = 0;
  asio::thread_pool pool;
  std::shared_ptr<Shared> shared = std::make_shared<Shared>();
};

Result<std::unique_ptr<TcpServer>> TcpServer::listen(asio::io_context& io, const std::string& host,
                                                     std::uint16_t port, ServerOptions options,
                                                     Handler handler) {
  error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return fail("cannot listen on " + host + ": not an IP address");
  tcp::endpoint endpoint(address, port);
  std::string where = (address.is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(port);

  auto impl = std::make_shared<Impl>(io, options.workers);
  impl->shared->handler = std::move(handler);
  impl->shared->options = std::move(options);
  impl->shared->pool = &impl->pool;
  impl->acceptor.open(endpoint.protocol(), ec);
  // Close-on-exec: a restarted daemon (exec) binds the port again itself.
  if (!ec && ::fcntl(impl->acceptor.native_handle(), F_SETFD, FD_CLOEXEC) != 0)
    return fail("cannot listen on " + where + ": cannot set close-on-exec");
  if (!ec) impl->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("cannot listen on " + where + ": " + ec.message());
  impl->port = impl->acceptor.local_endpoint(ec).port();
  impl->endpoint = (address.is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(impl->port);
  impl->accept();
  return std::unique_ptr<TcpServer>(new TcpServer(std::move(impl)));
}

void TcpServer::close() {
  if (impl_->shared->closed) return;
  impl_->shared->closed = true;
  error_code ignored;
  impl_->acceptor.close(ignored);
  impl_->retry.cancel();
  auto sessions = impl_->shared->sessions;
  for (auto& [raw, weak] : sessions) {
    if (auto session = weak.lock()) session->close_if_idle();
  }
}

const std::string& TcpServer::endpoint() const {
  return impl_->endpoint;
}

std::uint16_t TcpServer::port() const {
  return impl_->port;
}

TcpServer::~TcpServer() {
  close();
  impl_->pool.join();
}

}  // namespace maya::http
