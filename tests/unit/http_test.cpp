#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <fstream>
#include <future>
#include <thread>

#include "lib/http/client.h"
#include "lib/http/json.h"
#include "lib/http/router.h"
#include "lib/http/server.h"
#include "plugin/docker/docker_plugin.h"

namespace maya::http {
namespace {

namespace fs = std::filesystem;

// Sends raw bytes on the connected socket `fd` (the server may hang up before reading them
// all), returns everything it answers before closing (10 s without a byte ends it), closes fd.
std::string exchange(int fd, const std::string& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  std::string out;
  char buf[4096];
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

Response text(int status, const std::string& message) {
  return Response{status, message, "text/plain"};
}

// A server on a temp socket, its event loop on a thread of its own.
class ServerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/maya-http-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    socket_ = dir_ / "s.sock";
  }
  void TearDown() override {
    if (server_) {
      boost::asio::post(io_, [this] { server_->close(); });
      loop_.join();
      server_.reset();
    }
    fs::remove_all(dir_);
  }
  void start(Handler handler, ServerOptions options = {}) {
    options.make_error = [](int status, const std::string& m) { return text(status, "E:" + m); };
    auto server = UnixServer::listen(io_, socket_, options, std::move(handler));
    ASSERT_TRUE(server.has_value()) << server.error().message;
    server_ = std::move(*server);
    loop_ = std::thread([this] { io_.run(); });
  }
  // Sends raw bytes and returns everything the server answers before closing.
  std::string raw(const std::string& bytes) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_.c_str(), sizeof addr.sun_path - 1);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    return exchange(fd, bytes);
  }

  fs::path dir_, socket_;
  boost::asio::io_context io_;
  std::unique_ptr<UnixServer> server_;
  std::thread loop_;
};

TEST_F(ServerFixture, AnswersThroughTheRouter) {
  Router router(text);
  router.add("GET", "/v1/status",
             [](const Request&, const std::string&) { return text(200, "up"); });
  router.add("POST", "/v1/things/{name}", [](const Request& r, const std::string& name) {
    return text(201, name + ":" + r.body);
  });
  start(router);
  auto ok = request(socket_, {"GET", "/v1/status", ""});
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, "up");
  auto named = request(socket_, {"POST", "/v1/things/db1", "{}"});
  ASSERT_TRUE(named.has_value());
  EXPECT_EQ(named->status, 201);
  EXPECT_EQ(named->body, "db1:{}");
  EXPECT_EQ(request(socket_, {"GET", "/nope", ""})->status, 404);
  EXPECT_EQ(request(socket_, {"DELETE", "/v1/status", ""})->status, 405);
  EXPECT_EQ(request(socket_, {"POST", "/v1/things/a/b", ""})->status, 404);
}

TEST_F(ServerFixture, SocketHasTheRequestedMode) {
  ServerOptions options;
  options.socket_mode = 0600;
  start([](const Request&) { return text(200, ""); }, options);
  struct stat st {};
  ASSERT_EQ(::stat(socket_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(ServerFixture, OversizedBodyIsRefusedAndTheServerKeepsServing) {
  start([](const Request& r) { return text(200, std::to_string(r.body.size())); });
  std::string big(2 << 20, 'x');
  std::string answer =
      raw("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: " + std::to_string(big.size()) +
          "\r\n\r\n" + big);
  EXPECT_NE(answer.find("413"), std::string::npos) << answer.substr(0, 200);
  EXPECT_NE(answer.find("E:the request body is larger than"), std::string::npos);
  auto after = request(socket_, {"POST", "/x", std::string(1 << 20, 'y')});
  ASSERT_TRUE(after.has_value()) << after.error().message;
  EXPECT_EQ(after->body, std::to_string(1 << 20));
}

TEST_F(ServerFixture, MalformedRequestsGet400AndDoNotStopTheServer) {
  start([](const Request&) { return text(200, "fine"); });
  for (const char* junk :
       {"GARBAGE\r\n\r\n", "GET / HTTP/9.9\r\n\r\n", "\x16\x03\x01\x02\x00\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n"}) {
    std::string answer = raw(junk);
    EXPECT_NE(answer.find(" 400 "), std::string::npos) << junk << " -> " << answer;
  }
  EXPECT_EQ(request(socket_, {"GET", "/", ""})->body, "fine");
}

TEST_F(ServerFixture, HeadGetsTheHeadersOfGetAndNoBody) {
  start([](const Request&) { return text(200, "hello"); });
  const std::string answer = raw("HEAD /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  EXPECT_NE(answer.find(" 200 "), std::string::npos) << answer;
  EXPECT_NE(answer.find("Content-Length: 5\r\n"), std::string::npos) << answer;
  ASSERT_GE(answer.size(), 4u);
  EXPECT_EQ(answer.substr(answer.size() - 4), "\r\n\r\n") << answer;  // the headers' end, no body
}

TEST_F(ServerFixture, HandlersRunInParallel) {
  // Each handler waits until both requests are inside a handler at once; a server that
  // serialised them would time out here.
  std::mutex m;
  std::condition_variable cv;
  int inside = 0;
  start([&](const Request&) {
    std::unique_lock lock(m);
    ++inside;
    cv.notify_all();
    bool both = cv.wait_for(lock, std::chrono::seconds(10), [&] { return inside >= 2; });
    return text(200, both ? "together" : "alone");
  });
  auto a = std::async(std::launch::async, [&] { return request(socket_, {"GET", "/a", ""}); });
  auto b = std::async(std::launch::async, [&] { return request(socket_, {"GET", "/b", ""}); });
  EXPECT_EQ(a.get()->body, "together");
  EXPECT_EQ(b.get()->body, "together");
}

// A handler can tell that its caller hung up while it ran (Docker's plugin client does so
// when it times out), and not before: the client below waits for the handler to look once.
TEST_F(ServerFixture, HandlersSeeWhenTheCallerHasGone) {
  std::promise<bool> before_close, after_close;
  std::promise<void> looked;
  start([&](const Request& request) {
    before_close.set_value(request.caller_gone && request.caller_gone());
    looked.set_value();
    bool gone = false;
    for (int i = 0; i < 1000 && !gone; ++i) {  // at most 10 s
      gone = request.caller_gone();
      if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    after_close.set_value(gone);
    return text(200, "nobody reads this");
  });
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(fd, get.data(), get.size(), MSG_NOSIGNAL), static_cast<ssize_t>(get.size()));
  ASSERT_EQ(looked.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  ::close(fd);
  EXPECT_FALSE(before_close.get_future().get()) << "the caller was still there";
  EXPECT_TRUE(after_close.get_future().get()) << "the handler never saw the caller go";
}

TEST_F(ServerFixture, HandlerExceptionsBecome500) {
  start([](const Request&) -> Response { throw std::runtime_error("boom"); });
  auto r = request(socket_, {"GET", "/", ""});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 500);
  EXPECT_NE(r->body.find("boom"), std::string::npos);
}

TEST_F(ServerFixture, CloseRemovesTheSocketFile) {
  start([](const Request&) { return text(200, ""); });
  ASSERT_TRUE(fs::exists(socket_));
  boost::asio::post(io_, [this] { server_->close(); });
  loop_.join();
  server_.reset();
  EXPECT_FALSE(fs::exists(socket_));
}

TEST_F(ServerFixture, RefusesToReplaceARegularFile) {
  std::ofstream(socket_) << "precious";
  auto server = UnixServer::listen(io_, socket_, {}, [](const Request&) { return text(200, ""); });
  ASSERT_FALSE(server.has_value());
  EXPECT_NE(server.error().message.find("is not a socket"), std::string::npos);
  std::ifstream in(socket_);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
}

TEST_F(ServerFixture, RefusesASocketInUse) {
  start([](const Request&) { return text(200, ""); });
  boost::asio::io_context other;
  auto second =
      UnixServer::listen(other, socket_, {}, [](const Request&) { return text(200, ""); });
  ASSERT_FALSE(second.has_value());
  EXPECT_NE(second.error().message.find("in use"), std::string::npos);
  EXPECT_EQ(request(socket_, {"GET", "/", ""})->status, 200);
}

TEST(HttpClient, ExplainsMissingAndOverlongSockets) {
  auto missing = request("/tmp/does-not-exist/maya.sock", {"GET", "/", ""});
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message.find("no socket at /tmp/does-not-exist/maya.sock"),
            std::string::npos)
      << missing.error().message;
  auto too_long = request("/tmp/" + std::string(200, 'x'), {"GET", "/", ""});
  ASSERT_FALSE(too_long.has_value());
  EXPECT_NE(too_long.error().message.find("at most 107"), std::string::npos);
}

// Sends raw bytes to 127.0.0.1:PORT and returns everything the server answers before closing.
std::string tcp_raw(std::uint16_t port, const std::string& bytes) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  return exchange(fd, bytes);
}

TEST(TcpServer, ServesHeadersRefusesLargeBodiesAndGarbageAndKeepsServing) {
  boost::asio::io_context io;
  ServerOptions options;
  options.body_limit = 64 * 1024;
  options.make_error = [](int status, const std::string& m) { return text(status, "E:" + m); };
  auto server = TcpServer::listen(io, "127.0.0.1", 0, options, [](const Request& r) {
    return text(200, r.method + " " + r.target +
                         " x-amz-date=" + r.header("X-Amz-Date").value_or("-") +
                         " host=" + r.header("host").value_or("-") + " body=" + r.body);
  });
  ASSERT_TRUE(server.has_value()) << server.error().message;
  std::uint16_t port = (*server)->port();
  EXPECT_NE(port, 0);
  EXPECT_EQ((*server)->endpoint(), "127.0.0.1:" + std::to_string(port));
  std::thread loop([&] { io.run(); });

  std::string ok = tcp_raw(port,
                           "POST /?a=1 HTTP/1.1\r\nHost: h:1\r\nx-amz-date: 20260101T000000Z\r\n"
                           "Content-Length: 3\r\nConnection: close\r\n\r\nabc");
  EXPECT_NE(ok.find("200 OK"), std::string::npos) << ok;
  EXPECT_NE(ok.find("POST /?a=1 x-amz-date=20260101T000000Z host=h:1 body=abc"), std::string::npos)
      << ok;
  std::string big(10 << 20, 'x');
  std::string refused =
      tcp_raw(port, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: " + std::to_string(big.size()) +
                        "\r\n\r\n" + big);
  EXPECT_NE(refused.find(" 413 "), std::string::npos) << refused.substr(0, 200);
  EXPECT_NE(refused.find("E:the request body is larger than 65536 bytes"), std::string::npos);
  EXPECT_NE(tcp_raw(port, "GARBAGE\r\n\r\n").find(" 400 "), std::string::npos);
  std::string again = tcp_raw(port, "GET /after HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  EXPECT_NE(again.find("GET /after"), std::string::npos) << again;

  // A port in use is refused with the reason.
  boost::asio::io_context other;
  auto taken =
      TcpServer::listen(other, "127.0.0.1", port, {}, [](const Request&) { return text(200, ""); });
  ASSERT_FALSE(taken.has_value());
  EXPECT_NE(taken.error().message.find("cannot listen on 127.0.0.1:" + std::to_string(port)),
            std::string::npos)
      << taken.error().message;
  EXPECT_FALSE(TcpServer::listen(other, "localhost", 0, {}, [](const Request&) {
                 return text(200, "");
               }).has_value());

  boost::asio::post(io, [&] { (*server)->close(); });
  loop.join();
}

TEST(HttpRequest, HeaderLookupIgnoresCase) {
  Request r;
  r.headers = {{"Content-Type", "a"}, {"X-Amz-Date", "b"}};
  EXPECT_EQ(r.header("content-type"), "a");
  EXPECT_EQ(r.header("X-AMZ-DATE"), "b");
  EXPECT_FALSE(r.header("x-amz-dat").has_value());
}

// Found by tests/fuzz (api_handlers, http_request): a request path with a byte that is not UTF-8
// came back in the "no route" error, and dumping that JSON threw: a 404 became a 500 with a
// parser message. Bad bytes are now replaced with U+FFFD.
TEST(JsonReplies, BytesThatAreNotUtf8AreReplacedNotThrown) {
  Response r = json_error(404, "no route for GET /v1/volumes/\xff");
  EXPECT_EQ(r.status, 404);
  auto body = nlohmann::json::parse(r.body, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << r.body;
  EXPECT_EQ(body["error"], "no route for GET /v1/volumes/\xEF\xBF\xBD");

  Response d = plugin::docker::docker_error(400, "invalid volume name \"\xc3\x28\"");
  auto err = nlohmann::json::parse(d.body, nullptr, false);
  ASSERT_FALSE(err.is_discarded()) << d.body;
  EXPECT_EQ(err["Err"], "invalid volume name \"\xEF\xBF\xBD(\"");
}

}  // namespace
}  // namespace maya::http
