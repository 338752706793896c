// RealmStore over etcd v3's JSON gateway (see etcd_json.h for the encoding). Each call is one
// HTTP request on a connection of its own, so calls from several threads run side by side; the
// only shared state, the auth token and the endpoint that answered last, sits under a mutex.
#include <algorithm>
#include <charconv>
#include <mutex>

#include "lib/common/base64.h"
#include "lib/http/client.h"
#include "lib/http/json.h"
#include "lib/realm/etcd_json.h"
#include "lib/realm/realm_store.h"

namespace maya::realm {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using etcd::printable;
using maya::base64_encode;

struct Endpoint {
  std::string url;  // as configured, for messages
  std::string host;
  std::uint16_t port = 0;
};

Result<Endpoint> parse_endpoint(const std::string& url) {
  auto bad = [&](const std::string& why) {
    return fail("bad etcd endpoint \"" + url + "\": " + why + " (expected http://HOST:PORT)");
  };
  std::string_view rest = url;
  if (rest.starts_with("https://")) return bad("TLS is not supported yet");
  if (!rest.starts_with("http://")) return bad("not an http:// URL");
  rest.remove_prefix(7);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  Endpoint out{url, {}, 0};
  std::string_view port_text;
  if (rest.starts_with("[")) {  // [v6]:port
    auto close = rest.find(']');
    if (close == std::string_view::npos || rest.substr(close + 1, 1) != ":")
      return bad("no port after the address");
    out.host = std::string(rest.substr(1, close - 1));
    port_text = rest.substr(close + 2);
  } else {
    auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) return bad("no port");
    out.host = std::string(rest.substr(0, colon));
    port_text = rest.substr(colon + 1);
  }
  if (out.host.empty() || out.host.find_first_of("/?# ") != std::string::npos)
    return bad("no host");
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535)
    return bad("the port is not a number in 1-65535");
  out.port = static_cast<std::uint16_t>(port);
  return out;
}

// gRPC's status UNAVAILABLE: "etcdserver: no leader", "etcdserver: request timed out".
constexpr int kUnavailable = 14;
// The most a watch message may hold before its newline (etcd's default limit on a request is
// 1.5 MiB; an event carries at most two of its values).
constexpr std::size_t kMaxMessage = 64 << 20;

// etcd's answer to one call, and where it came from.
struct Answer {
  json body;
  std::string endpoint;
};

class EtcdStore final : public RealmStore {
 public:
  EtcdStore(EtcdOptions options, std::vector<Endpoint> endpoints)
      : options_(std::move(options)), endpoints_(std::move(endpoints)) {}

  Result<std::optional<KeyValue>> get(std::string_view key) override {
    std::string what = "get " + printable(key);
    MAYA_TRY(answer, call(what, "/v3/kv/range", {{"key", base64_encode(key)}}));
    MAYA_TRY(kvs, items(what, answer->body, "kvs"));
    if (kvs->empty()) return std::optional<KeyValue>();
    auto kv = etcd::key_value(kvs->front());
    if (!kv) return malformed(what, *answer, kv.error());
    return std::optional<KeyValue>(std::move(*kv));
  }

  Result<Listing> list(std::string_view prefix) override {
    // Pages of kPage keys, all read at the first page's revision: one consistent listing
    // without one huge answer.
    constexpr int kPage = 1000;
    std::string what = "list " + printable(prefix);
    std::string end = etcd::prefix_end(prefix);
    std::string from = prefix.empty() ? std::string(1, '\0') : std::string(prefix);
    Listing listing;
    for (;;) {
      json body = {{"key", base64_encode(from)},
                   {"range_end", base64_encode(end)},
                   {"limit", std::to_string(kPage)},
                   {"sort_order", "ASCEND"},
                   {"sort_target", "KEY"}};
      if (listing.revision != 0) body["revision"] = std::to_string(listing.revision);
      MAYA_TRY(answer, call(what, "/v3/kv/range", body));
      MAYA_TRY(kvs, items(what, answer->body, "kvs"));
      if (listing.revision == 0) {
        auto revision = etcd::header_revision(answer->body);
        if (!revision) return malformed(what, *answer, revision.error());
        listing.revision = *revision;
      }
      for (const auto& item : *kvs) {
        auto kv = etcd::key_value(item);
        if (!kv) return malformed(what, *answer, kv.error());
        listing.items.push_back(std::move(*kv));
      }
      auto more = etcd::bool_field(answer->body, "more");
      if (!more) return malformed(what, *answer, more.error());
      if (!*more || kvs->empty()) break;
      from = listing.items.back().key + '\0';  // the next key after the last one
    }
    return listing;
  }

  Result<void> put(std::string_view key, std::string_view value, LeaseId lease) override {
    json body = {{"key", base64_encode(key)}, {"value", base64_encode(value)}};
    if (lease != 0) body["lease"] = std::to_string(lease);
    MAYA_TRY(answer, call("put " + printable(key), "/v3/kv/put", body));
    return {};
  }

  Result<bool> create(std::string_view key, std::string_view value, LeaseId lease) override {
    json compare = {{"key", base64_encode(key)},
                    {"target", "CREATE"},
                    {"result", "EQUAL"},
                    {"create_revision", "0"}};
    return txn("create " + printable(key), compare, put_op(key, value, lease));
  }

  Result<bool> replace(std::string_view key, std::string_view value, std::int64_t mod_revision,
                       LeaseId lease) override {
    // A missing key's mod revision is 0 to etcd: replace(k, v, 0) would create it.
    if (mod_revision <= 0) return fail("replace " + printable(key) + ": needs the key's revision");
    return txn("replace " + printable(key), mod_compare(key, mod_revision),
               put_op(key, value, lease));
  }

  Result<bool> remove(std::string_view key, std::int64_t mod_revision) override {
    std::string what = "remove " + printable(key);
    json request = {{"key", base64_encode(key)}};
    if (mod_revision != 0) {
      return txn(what, mod_compare(key, mod_revision), {{"request_delete_range", request}});
    }
    MAYA_TRY(answer, call(what, "/v3/kv/deleterange", request));
    auto deleted = etcd::int_field(answer->body, "deleted");
    if (!deleted) return malformed(what, *answer, deleted.error());
    return *deleted > 0;
  }

  Result<LeaseId> grant(std::chrono::seconds ttl) override {
    if (ttl.count() <= 0) return fail("grant a lease: its TTL must be at least 1 s");
    std::string what = "grant a lease of " + std::to_string(ttl.count()) + " s";
    MAYA_TRY(answer, call(what, "/v3/lease/grant", {{"TTL", std::to_string(ttl.count())}}));
    auto id = etcd::int_field(answer->body, "ID");
    if (!id) return malformed(what, *answer, id.error());
    if (*id == 0) return malformed(what, *answer, Error{"no lease ID"});
    return *id;
  }

  Result<std::chrono::seconds> keep_alive(LeaseId lease) override {
    std::string what = "keep lease " + std::to_string(lease) + " alive";
    MAYA_TRY(answer, call(what, "/v3/lease/keepalive", {{"ID", std::to_string(lease)}}));
    // A stream's message: {"result": {...}}. An expired or unknown lease gets no TTL (0).
    if (!answer->body.contains("result")) return malformed(what, *answer, Error{"no \"result\""});
    auto result = etcd::object_field(answer->body, "result");
    if (!result) return malformed(what, *answer, result.error());
    auto ttl = etcd::int_field(*result, "TTL");
    if (!ttl) return malformed(what, *answer, ttl.error());
    if (*ttl <= 0)
      return fail("realm store: lease " + std::to_string(lease) + " has expired",
                  errno_code(ENOENT));
    return std::chrono::seconds(*ttl);
  }

  Result<void> revoke(LeaseId lease) override {
    auto answer = call("revoke lease " + std::to_string(lease), "/v3/lease/revoke",
                       {{"ID", std::to_string(lease)}});
    // Already gone (expired, or revoked before): what was asked holds.
    if (!answer && answer.error().code == errno_code(ENOENT)) return {};
    if (!answer) return std::unexpected(answer.error());
    return {};
  }

  Result<std::int64_t> wait_changes(std::string_view prefix, std::int64_t after,
                                    std::chrono::milliseconds timeout) override;

 private:
  EtcdOptions options_;
  const std::vector<Endpoint> endpoints_;
  std::mutex mutex_;         // guards current_ and token_
  std::size_t current_ = 0;  // the endpoint that answered last: tried first
  std::string token_;
  std::mutex auth_mutex_;  // one authentication at a time

  static json put_op(std::string_view key, std::string_view value, LeaseId lease) {
    json put = {{"key", base64_encode(key)}, {"value", base64_encode(value)}};
    if (lease != 0) put["lease"] = std::to_string(lease);
    return {{"request_put", put}};
  }

  static json mod_compare(std::string_view key, std::int64_t mod_revision) {
    return {{"key", base64_encode(key)},
            {"target", "MOD"},
            {"result", "EQUAL"},
            {"mod_revision", std::to_string(mod_revision)}};
  }

  Result<bool> txn(const std::string& what, const json& compare, const json& operation) {
    json body = {{"compare", json::array({compare})}, {"success", json::array({operation})}};
    MAYA_TRY(answer, call(what, "/v3/kv/txn", body));
    auto succeeded = etcd::bool_field(answer->body, "succeeded");
    if (!succeeded) return malformed(what, *answer, succeeded.error());
    return *succeeded;
  }

  std::unexpected<Error> malformed(const std::string& what, const Answer& answer,
                                   const Error& why) const {
    return fail("realm store: " + what + ": unexpected answer from " + answer.endpoint + ": " +
                why.message);
  }

  Result<std::vector<json>> items(const std::string& what, const json& body, const char* name) {
    if (!body.is_object()) return fail("realm store: " + what + ": the answer is not an object");
    auto it = body.find(name);
    if (it == body.end() || it->is_null()) return std::vector<json>();
    if (!it->is_array())
      return fail("realm store: " + what + ": \"" + name + "\" in etcd's answer is not a list");
    return std::vector<json>(it->begin(), it->end());
  }

  std::size_t first_endpoint() {
    std::lock_guard lock(mutex_);
    return current_;
  }
  void answered(std::size_t index) {
    std::lock_guard lock(mutex_);
    current_ = index;
  }
  std::string token() {
    std::lock_guard lock(mutex_);
    return token_;
  }

  std::string tried(std::size_t count) const {
    std::string out;
    for (std::size_t i = 0; i < count; ++i) out += (i ? ", " : "") + endpoints_[i].url;
    return out;
  }

  // Sends `body` to `path` on the first endpoint that answers, without auth logic.
  Result<Answer> post(const std::string& what, const std::string& path, const json& body,
                      const std::string& token) {
    http::Request request{"POST", path, http::dump_json(body), {}, {}};
    if (!token.empty()) request.headers.emplace_back("Authorization", token);
    std::size_t first = first_endpoint();
    std::optional<Error> last;
    bool all_timed_out = true;
    for (std::size_t i = 0; i < endpoints_.size(); ++i) {
      std::size_t index = (first + i) % endpoints_.size();
      const auto& endpoint = endpoints_[index];
      auto response = http::request(endpoint.host, endpoint.port, request, options_.timeout);
      if (!response) {
        // Not answering: try the next one. (A request that timed out after it was sent may have
        // been applied; a conditional write retried elsewhere then reports a conflict.)
        all_timed_out = all_timed_out && response.error().code == errno_code(ETIMEDOUT);
        last = response.error();
        continue;
      }
      json parsed = json::parse(response->body, nullptr, false);
      if (parsed.is_discarded() || !parsed.is_object()) {
        return fail("realm store: " + what + ": the answer from " + endpoint.url +
                    " is not a JSON object (HTTP " + std::to_string(response->status) + ")");
      }
      auto refused = etcd::refusal(parsed);
      if (refused && refused->code == kUnavailable) {
        // A member without a leader (cut off from its peers) or one that timed out: another
        // member may do. Counted as a timeout: the cluster may answer later.
        last = Error{"etcd at " + endpoint.url + " said: " + refused->message};
        continue;
      }
      answered(index);
      if (refused) {
        return fail(
            "realm store: " + what + ": etcd at " + endpoint.url + " said: " + refused->message,
            refused->code == 5 ? errno_code(ENOENT) : std::error_code());
      }
      if (response->status != 200) {
        return fail("realm store: " + what + ": etcd at " + endpoint.url + " answered HTTP " +
                    std::to_string(response->status));
      }
      return Answer{std::move(parsed), endpoint.url};
    }
    return unreachable(*last, all_timed_out);
  }

  std::unexpected<Error> unreachable(const Error& last, bool all_timed_out) const {
    return fail("realm store unreachable: " + tried(endpoints_.size()) + ": " + last.message,
                errno_code(all_timed_out ? ETIMEDOUT : ECONNREFUSED));
  }

  // Authenticates unless another thread already replaced `stale`; returns the token to use.
  Result<std::string> authenticate(const std::string& stale) {
    std::lock_guard auth(auth_mutex_);
    if (auto now = token(); !now.empty() && now != stale) return now;
    auto answer = post("authenticate as " + options_.user, "/v3/auth/authenticate",
                       {{"name", options_.user}, {"password", options_.password}}, "");
    if (!answer) return std::unexpected(answer.error());
    auto it = answer->body.find("token");
    if (it == answer->body.end() || !it->is_string() || it->get_ref<const std::string&>().empty())
      return fail("realm store: authenticate as " + options_.user + ": etcd at " +
                  answer->endpoint + " gave no token (is auth enabled there?)");
    std::lock_guard lock(mutex_);
    token_ = it->get<std::string>();
    return token_;
  }

  // The token to send: none without a user; fetched on first use.
  Result<std::string> current_token() {
    if (options_.user.empty()) return std::string();
    if (auto known = token(); !known.empty()) return known;
    return authenticate("");
  }

  // One call, with auth: a token is fetched first when needed, and fetched again once when etcd
  // says it is no longer good (simple tokens expire after 5 idle minutes).
  Result<Answer> call(const std::string& what, const std::string& path, const json& body) {
    MAYA_TRY(current, current_token());
    auto answer = post(what, path, body, *current);
    if (!answer && !options_.user.empty() && etcd::token_rejected(answer.error().message)) {
      MAYA_TRY(fresh, authenticate(*current));
      answer = post(what, path, body, *fresh);
    }
    return answer;
  }

  // What one endpoint did with a watch: a final result, or a failure to reach it (try the next).
  struct WatchOutcome {
    std::optional<Result<std::int64_t>> result;
    Error transport;
  };
  WatchOutcome watch_on(const Endpoint& endpoint, const http::Request& request,
                        const std::string& what, std::int64_t after, Clock::time_point deadline);
  Result<std::int64_t> watch(const std::string& what, const json& body, const std::string& token,
                             std::int64_t after, Clock::time_point deadline);
};

// One message of the watch stream. Nothing: keep reading.
std::optional<Result<std::int64_t>> watch_message(const std::string& what, const std::string& url,
                                                  std::string_view line, bool& created,
                                                  std::int64_t& seen) {
  auto bad = [&](const std::string& why) -> std::optional<Result<std::int64_t>> {
    return fail("realm store: " + what + ": unexpected answer from " + url + ": " + why);
  };
  json message = json::parse(line, nullptr, false);
  if (message.is_discarded() || !message.is_object()) return bad("not a JSON object");
  if (auto refused = etcd::refusal(message))
    return fail("realm store: " + what + ": etcd at " + url + " said: " + refused->message);
  auto result = etcd::object_field(message, "result");
  if (!result) return bad(result.error().message);
  auto revision = etcd::header_revision(*result);
  auto canceled = etcd::bool_field(*result, "canceled");
  auto compacted = etcd::int_field(*result, "compact_revision");
  auto ack = etcd::bool_field(*result, "created");
  if (!revision) return bad(revision.error().message);
  if (!canceled) return bad(canceled.error().message);
  if (!compacted) return bad(compacted.error().message);
  if (!ack) return bad(ack.error().message);
  seen = std::max(seen, *revision);
  // The start revision was compacted away: changes were missed, so say "changed" at the newest
  // revision known; the caller lists again.
  if (*compacted > 0) return std::max(*compacted, seen);
  if (*canceled) {
    auto reason = result->find("cancel_reason");
    return fail("realm store: " + what + ": etcd at " + url + " cancelled it: " +
                (reason != result->end() && reason->is_string() ? reason->get<std::string>()
                                                                : std::string("no reason given")));
  }
  created = created || *ack;
  auto events = result->find("events");
  if (events == result->end() || events->is_null()) return std::nullopt;
  if (!events->is_array()) return bad("\"events\" is not a list");
  if (events->empty()) return std::nullopt;
  auto kv = etcd::object_field(events->front(), "kv");
  if (!kv) return bad(kv.error().message);
  auto modified = etcd::int_field(*kv, "mod_revision");
  if (!modified) return bad(modified.error().message);
  return *modified > 0 ? *modified : seen;
}

EtcdStore::WatchOutcome EtcdStore::watch_on(const Endpoint& endpoint, const http::Request& request,
                                            const std::string& what, std::int64_t after,
                                            Clock::time_point deadline) {
  // Until etcd acknowledges the watch, the store's own timeout bounds the wait (an endpoint that
  // does not acknowledge is not answering); after it, the caller's deadline.
  auto ack_deadline = Clock::now() + options_.timeout;
  auto stream = http::ResponseStream::open(endpoint.host, endpoint.port, request, options_.timeout);
  if (!stream) return {std::nullopt, stream.error()};
  bool ok_status = (*stream)->status() == 200;
  bool created = false;
  std::int64_t seen = 0;
  std::string pending;
  for (;;) {
    auto piece = (*stream)->read(created ? deadline : ack_deadline);
    if (!piece) return {std::nullopt, piece.error()};
    if (piece->timed_out) {
      if (created) return {Result<std::int64_t>(after), {}};
      return {std::nullopt, Error{"no answer from " + endpoint.url + " within " +
                                      std::to_string(options_.timeout.count()) + " ms",
                                  errno_code(ETIMEDOUT)}};
    }
    pending += piece->data;
    if (pending.size() > kMaxMessage) {
      return {fail("realm store: " + what + ": unexpected answer from " + endpoint.url +
                   ": a message of more than 64 MiB"),
              {}};
    }
    if (!ok_status && !piece->ended) continue;  // an error answer: read all of it
    if (piece->ended) pending += '\n';
    std::size_t newline;
    while ((newline = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, newline);
      pending.erase(0, newline + 1);
      if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
      if (auto done = watch_message(what, endpoint.url, line, created, seen)) {
        answered(static_cast<std::size_t>(&endpoint - endpoints_.data()));
        return {std::move(*done), {}};
      }
    }
    if (piece->ended) {
      return {std::nullopt,
              Error{"the watch on " + endpoint.url + " ended early", errno_code(ECONNREFUSED)}};
    }
  }
}

Result<std::int64_t> EtcdStore::watch(const std::string& what, const json& body,
                                      const std::string& token, std::int64_t after,
                                      Clock::time_point deadline) {
  http::Request request{"POST", "/v3/watch", http::dump_json(body), {}, {}};
  if (!token.empty()) request.headers.emplace_back("Authorization", token);
  std::size_t first = first_endpoint();
  std::optional<Error> last;
  bool all_timed_out = true;
  for (std::size_t i = 0; i < endpoints_.size(); ++i) {
    auto outcome =
        watch_on(endpoints_[(first + i) % endpoints_.size()], request, what, after, deadline);
    if (outcome.result) return std::move(*outcome.result);
    all_timed_out = all_timed_out && outcome.transport.code == errno_code(ETIMEDOUT);
    last = std::move(outcome.transport);
  }
  return unreachable(*last, all_timed_out);
}

Result<std::int64_t> EtcdStore::wait_changes(std::string_view prefix, std::int64_t after,
                                             std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  if (after < 0) return fail("realm store: watch from a negative revision");
  std::string what = "watch " + printable(prefix);
  std::string from = prefix.empty() ? std::string(1, '\0') : std::string(prefix);
  json body = {{"create_request",
                {{"key", base64_encode(from)},
                 {"range_end", base64_encode(etcd::prefix_end(prefix))},
                 {"start_revision", std::to_string(after + 1)}}}};
  MAYA_TRY(current, current_token());
  auto changed = watch(what, body, *current, after, deadline);
  if (!changed && !options_.user.empty() && etcd::token_rejected(changed.error().message)) {
    MAYA_TRY(fresh, authenticate(*current));
    changed = watch(what, body, *fresh, after, deadline);
  }
  return changed;
}

}  // namespace

Result<std::unique_ptr<RealmStore>> open_etcd(const EtcdOptions& options) {
  if (options.endpoints.empty()) return fail("realm store: no etcd endpoint given");
  if (options.timeout.count() <= 0) return fail("realm store: the timeout must be positive");
  if (options.user.empty() && !options.password.empty())
    return fail("realm store: a password without a user");
  std::vector<Endpoint> endpoints;
  for (const auto& url : options.endpoints) {
    MAYA_TRY(endpoint, parse_endpoint(url));
    endpoints.push_back(std::move(*endpoint));
  }
  return std::unique_ptr<RealmStore>(new EtcdStore(options, std::move(endpoints)));
}

}  // namespace maya::realm
