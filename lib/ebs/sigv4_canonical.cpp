// SigV4's building blocks: dates, the canonical request, the string to sign, the key chain.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "lib/ebs/encoding.h"
#include "lib/ebs/sigv4.h"

namespace maya::ebs::sigv4 {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::ranges::transform(out, out.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return out;
}

bool digits(std::string_view s) {
  return std::ranges::all_of(s, [](char c) { return c >= '0' && c <= '9'; });
}

int number(std::string_view s) {
  int n = 0;
  for (char c : s) n = n * 10 + (c - '0');
  return n;
}

std::optional<std::chrono::system_clock::time_point> from_fields(int year, int month, int day,
                                                                 int hour, int minute, int second) {
  // system_clock counts nanoseconds in 64 bits: it ends in 2262.
  if (year < 1970 || year > 2199 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 ||
      minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  std::time_t t = timegm(&tm);
  std::tm check{};
  gmtime_r(&t, &check);
  if (check.tm_mday != day || check.tm_mon != month - 1) return std::nullopt;  // "Feb 31"
  return std::chrono::system_clock::from_time_t(t);
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_amz_date(std::string_view s) {
  // YYYYMMDDTHHMMSSZ
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z' || !digits(s.substr(0, 8)) ||
      !digits(s.substr(9, 6))) {
    return std::nullopt;
  }
  return from_fields(number(s.substr(0, 4)), number(s.substr(4, 2)), number(s.substr(6, 2)),
                     number(s.substr(9, 2)), number(s.substr(11, 2)), number(s.substr(13, 2)));
}

std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view s) {
  // "Sun, 06 Dec 2026 07:00:00 GMT" (RFC 1123) or "... -0000" / "+0000" (Python's formatdate).
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() < 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
      s[19] != ':' || s[22] != ':' || s[25] != ' ') {
    return std::nullopt;
  }
  std::string_view zone = s.substr(26);
  if (zone != "GMT" && zone != "UTC" && zone != "-0000" && zone != "+0000") return std::nullopt;
  std::string_view day = s.substr(5, 2), year = s.substr(12, 4), hh = s.substr(17, 2),
                   mm = s.substr(20, 2), ss = s.substr(23, 2);
  if (!digits(day) || !digits(year) || !digits(hh) || !digits(mm) || !digits(ss)) {
    return std::nullopt;
  }
  auto month = std::ranges::find(kMonths, s.substr(8, 3));
  if (month == std::end(kMonths)) return std::nullopt;
  return from_fields(number(year), static_cast<int>(month - std::begin(kMonths)) + 1, number(day),
                     number(hh), number(mm), number(ss));
}

std::string amz_date(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string canonical_uri(std::string_view path) {
  // RFC 3986 5.2.4 dot segments; AWS also drops empty segments (botocore's remove_dot_segments).
  if (path.empty()) return "/";
  std::vector<std::string_view> out;
  std::string_view rest = path;
  while (true) {
    std::size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    if (!seg.empty() && seg != ".") {
      if (seg == "..") {
        if (!out.empty()) out.pop_back();
      } else {
        out.push_back(seg);
      }
    }
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  std::string normalized = path.front() == '/' ? "/" : "";
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (i > 0) normalized += '/';
    normalized += out[i];
  }
  if (path.back() == '/' && !out.empty()) normalized += '/';
  // The path as sent is already encoded once; non-S3 services encode it again.
  return uri_encode(normalized, true);
}

std::string canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto& [key, value] : split_query(query)) {
    auto encode = [](std::string_view raw) {
      auto decoded = percent_decode(raw, false);
      return decoded ? uri_encode(*decoded) : std::string(raw);
    };
    pairs.emplace_back(encode(key), encode(value));
  }
  std::ranges::sort(pairs);
  std::string out;
  for (const auto& [k, v] : pairs) {
    if (!out.empty()) out += '&';
    out += k;
    out += '=';
    out += v;
  }
  return out;
}

std::string trim_header_value(std::string_view value) {
  // Python's ' '.join(value.split()), as botocore does: runs of ASCII whitespace become one
  // space, none at either end.
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  };
  std::string out;
  bool pending = false;
  for (char c : value) {
    if (space(c)) {
      pending = !out.empty();
    } else {
      if (pending) out += ' ';
      pending = false;
      out += c;
    }
  }
  return out;
}

ApiResult<std::string> canonical_request(
    std::string_view method, std::string_view target,
    const std::vector<std::pair<std::string, std::string>>& headers,
    const std::vector<std::string>& signed_headers, std::string_view payload_hash) {
  std::string_view path = target, query;
  if (std::size_t q = target.find('?'); q != std::string_view::npos) {
    path = target.substr(0, q);
    query = target.substr(q + 1);
  }
  std::string out(method);
  out += '\n';
  out += canonical_uri(path);
  out += '\n';
  out += canonical_query(query);
  out += '\n';
  for (const auto& name : signed_headers) {
    std::string joined;
    bool found = false;
    for (const auto& [n, v] : headers) {
      if (lower(n) != name) continue;
      if (found) joined += ',';
      joined += trim_header_value(v);
      found = true;
    }
    if (!found) {
      return api_fail(errors::signature_does_not_match("The signed header '" + name +
                                                       "' is not in the request."));
    }
    out += name;
    out += ':';
    out += joined;
    out += '\n';
  }
  out += '\n';
  for (std::size_t i = 0; i < signed_headers.size(); ++i) {
    if (i > 0) out += ';';
    out += signed_headers[i];
  }
  out += '\n';
  out += payload_hash;
  return out;
}

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return hex_lower({md, len});
}

namespace {
std::string hmac(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  return std::string(reinterpret_cast<const char*>(md), len);
}
}  // namespace

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  std::string mac = hmac(key, data);
  return hex_lower({reinterpret_cast<const unsigned char*>(mac.data()), mac.size()});
}

std::string string_to_sign(std::string_view amz_date, std::string_view scope,
                           std::string_view canonical_request) {
  std::string out = "AWS4-HMAC-SHA256\n";
  out += amz_date;
  out += '\n';
  out += scope;
  out += '\n';
  out += sha256_hex(canonical_request);
  return out;
}

std::string signing_key(std::string_view secret, std::string_view date, std::string_view region,
                        std::string_view service) {
  std::string k = hmac("AWS4" + std::string(secret), date);
  k = hmac(k, region);
  k = hmac(k, service);
  return hmac(k, "aws4_request");
}

}  // namespace maya::ebs::sigv4
