// SigV4: AWS's published example, computed step by step, and the verifier's checks on requests
// signed by sign() (tests/ebs/botocore_test.py checks it against botocore's own signer).
#include <gtest/gtest.h>

#include <cctype>

#include "lib/ebs/sigv4.h"

namespace maya::ebs {
namespace {

using namespace std::chrono;

// AWS's documented example (Signature Version 4, "Create a canonical request"): IAM ListUsers.
TEST(EbsSigV4, AwsPublishedExample) {
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
      {"X-Amz-Date", "20150830T123600Z"},
      {"Host", "iam.amazonaws.com"}};
  auto canonical =
      sigv4::canonical_request("GET", "/?Action=ListUsers&Version=2010-05-08", headers,
                               {"content-type", "host", "x-amz-date"}, sigv4::sha256_hex(""));
  ASSERT_TRUE(canonical);
  EXPECT_EQ(*canonical,
            "GET\n/\nAction=ListUsers&Version=2010-05-08\n"
            "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
            "host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
            "content-type;host;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sigv4::sha256_hex(*canonical),
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
  std::string key = sigv4::signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830",
                                       "us-east-1", "iam");
  EXPECT_EQ(sigv4::hmac_sha256_hex(key, "").size(), 64u);
  std::string key_hex;
  for (unsigned char c : key) {
    static constexpr char kHex[] = "0123456789abcdef";
    key_hex += kHex[c >> 4];
    key_hex += kHex[c & 15];
  }
  EXPECT_EQ(key_hex, "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
  std::string sts =
      sigv4::string_to_sign("20150830T123600Z", "20150830/us-east-1/iam/aws4_request", *canonical);
  EXPECT_EQ(sigv4::hmac_sha256_hex(key, sts),
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
}

TEST(EbsSigV4, CanonicalPieces) {
  EXPECT_EQ(sigv4::canonical_uri(""), "/");
  EXPECT_EQ(sigv4::canonical_uri("/"), "/");
  EXPECT_EQ(sigv4::canonical_uri("/a/./b/../c//d/"), "/a/c/d/");
  EXPECT_EQ(sigv4::canonical_uri("/a b/%41"), "/a%20b/%2541");
  EXPECT_EQ(sigv4::canonical_uri("/.."), "/");
  EXPECT_EQ(sigv4::canonical_query(""), "");
  EXPECT_EQ(sigv4::canonical_query("b=2&a=1&a=0&c&d=%7e%2F+"), "a=0&a=1&b=2&c=&d=~%2F%2B");
  EXPECT_EQ(sigv4::trim_header_value("  a   b \t c  "), "a b c");
  EXPECT_EQ(sigv4::amz_date(system_clock::time_point(seconds(1796540400))), "20261206T070000Z");
  EXPECT_EQ(sigv4::parse_amz_date("20261206T070000Z"),
            system_clock::time_point(seconds(1796540400)));
  for (auto bad :
       {"20261206T070000", "2026-12-06T07:00:00Z", "20261332T070000Z", "20260231T070000Z",
        "20261206T250000Z", "99991231T235959Z", "2026120xT070000Z", ""}) {
    EXPECT_FALSE(sigv4::parse_amz_date(bad)) << bad;
  }
  EXPECT_EQ(sigv4::parse_http_date("Sun, 06 Dec 2026 07:00:00 GMT"),
            system_clock::time_point(seconds(1796540400)));
  EXPECT_EQ(sigv4::parse_http_date("Sun, 06 Dec 2026 07:00:00 -0000"),
            system_clock::time_point(seconds(1796540400)));
  EXPECT_FALSE(sigv4::parse_http_date("Sun, 06 Dex 2026 07:00:00 GMT"));
  EXPECT_FALSE(sigv4::parse_http_date("Sun, 06 Dec 2026 07:00:00 +0100"));
}

TEST(EbsSigV4, ParseAuthorization) {
  auto a = sigv4::parse_authorization(
      "AWS4-HMAC-SHA256 Credential=AKID/20261206/maya-1/ec2/aws4_request, "
      "SignedHeaders=host;x-amz-date,Signature=abc");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->access_key_id, "AKID");
  EXPECT_EQ(a->date, "20261206");
  EXPECT_EQ(a->region, "maya-1");
  EXPECT_EQ(a->service, "ec2");
  EXPECT_EQ(a->terminal, "aws4_request");
  EXPECT_EQ(a->signed_headers, (std::vector<std::string>{"host", "x-amz-date"}));
  EXPECT_EQ(a->signature, "abc");
  for (auto bad :
       {"", "AWS4-HMAC-SHA256", "AWS AKID:sig", "AWS4-HMAC-SHA1 Credential=a/b/c/d/e",
        "AWS4-HMAC-SHA256 Credential=A/1/r/s/aws4_request, SignedHeaders=host",
        "AWS4-HMAC-SHA256 Credential=A/1/r/s, SignedHeaders=host, Signature=x",
        "AWS4-HMAC-SHA256 Credential=A/1/r/s/t/u, SignedHeaders=host, Signature=x",
        "AWS4-HMAC-SHA256 Credential=A//r/s/t, SignedHeaders=host, Signature=x",
        "AWS4-HMAC-SHA256 Credential=A/1/r/s/t, SignedHeaders=host;;a, Signature=x",
        "AWS4-HMAC-SHA256 Credential=A/1/r/s/t, SignedHeaders=host, Signature=",
        "AWS4-HMAC-SHA256 Credential=A/1/r/s/t, Signature=x, Signature=x, SignedHeaders=h",
        "AWS4-HMAC-SHA256 Credential=A/1/r/s/t, SignedHeaders=h, Signature=x, Foo=1",
        "AWS4-HMAC-SHA256 Credential=A/1/r/s/t, SignedHeaders=h, Signature"}) {
    auto r = sigv4::parse_authorization(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, "IncompleteSignature") << bad;
  }
}

const Credentials kCreds{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"};
const system_clock::time_point kNow = system_clock::time_point(seconds(1796540400));
constexpr std::string_view kBody = "Action=DescribeVolumes&Version=2016-11-15";

SignedRequest signed_request(system_clock::time_point when = kNow,
                             std::string_view region = "maya-1") {
  SignedRequest r{"POST",
                  "/",
                  {{"Host", "127.0.0.1:5656"},
                   {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}},
                  kBody};
  sign(r, kCreds, region, "ec2", when);
  return r;
}

std::string code(const std::optional<ApiError>& e) {
  return e ? e->code : "OK";
}

std::optional<ApiError> check(const SignedRequest& r) {
  return verify(r, kCreds, "maya-1", kNow, minutes(15));
}

std::string& header(SignedRequest& r, std::string_view name) {
  for (auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  r.headers.emplace_back(name, "");
  return r.headers.back().second;
}

TEST(EbsSigV4, AcceptsASignedRequest) {
  EXPECT_EQ(code(check(signed_request())), "OK");
  EXPECT_EQ(code(check(signed_request(kNow - minutes(14)))), "OK");
  EXPECT_EQ(code(check(signed_request(kNow + minutes(14)))), "OK");
  // Header names in any case, values with extra blanks, repeated headers joined.
  auto r = signed_request();
  for (auto& [n, v] : r.headers) {
    if (n == "Content-Type") {
      n = "content-TYPE";
      v = "  application/x-www-form-urlencoded;   charset=utf-8 ";
    }
  }
  EXPECT_EQ(code(check(r)), "OK");
}

TEST(EbsSigV4, RefusesTamperedRequests) {
  auto method = signed_request();
  method.method = "PUT";
  EXPECT_EQ(code(check(method)), "SignatureDoesNotMatch");
  auto path = signed_request();
  path.target = "/x";
  EXPECT_EQ(code(check(path)), "SignatureDoesNotMatch");
  auto query = signed_request();
  query.target = "/?a=b";
  EXPECT_EQ(code(check(query)), "SignatureDoesNotMatch");
  auto body = signed_request();
  body.body = "Action=DeleteVolume&Version=2016-11-15";
  EXPECT_EQ(code(check(body)), "SignatureDoesNotMatch");
  auto host = signed_request();
  header(host, "Host") = "127.0.0.1:5657";
  EXPECT_EQ(code(check(host)), "SignatureDoesNotMatch");
  auto signature = signed_request();
  std::string& auth = header(signature, "Authorization");
  auth.back() = auth.back() == '0' ? '1' : '0';
  EXPECT_EQ(code(check(signature)), "SignatureDoesNotMatch");
  auto upper = signed_request();
  std::string& auth2 = header(upper, "Authorization");
  for (std::size_t i = auth2.size() - 64; i < auth2.size(); ++i)
    auth2[i] = static_cast<char>(toupper(auth2[i]));
  EXPECT_EQ(code(check(upper)), "SignatureDoesNotMatch");
  auto dropped = signed_request();
  std::erase_if(dropped.headers, [](const auto& h) { return h.first == "Content-Type"; });
  EXPECT_EQ(code(check(dropped)), "SignatureDoesNotMatch");
  auto hash = signed_request();
  header(hash, "X-Amz-Content-Sha256") = std::string(64, 'a');
  EXPECT_EQ(code(check(hash)), "SignatureDoesNotMatch");
  auto unsigned_payload = signed_request();
  header(unsigned_payload, "X-Amz-Content-Sha256") = "UNSIGNED-PAYLOAD";
  EXPECT_EQ(code(check(unsigned_payload)), "IncompleteSignature");
}

TEST(EbsSigV4, RefusesWrongKeysScopesAndTimes) {
  auto r = signed_request();
  EXPECT_EQ(code(verify(r, {kCreds.access_key_id, "wrong"}, "maya-1", kNow, minutes(15))),
            "SignatureDoesNotMatch");
  EXPECT_EQ(code(verify(r, {"AKIAOTHER", kCreds.secret_access_key}, "maya-1", kNow, minutes(15))),
            "AuthFailure");
  auto region = verify(signed_request(kNow, "us-east-1"), kCreds, "maya-1", kNow, minutes(15));
  EXPECT_EQ(code(region), "SignatureDoesNotMatch");
  EXPECT_NE(region->message.find("'maya-1'"), std::string::npos);
  auto old = check(signed_request(kNow - minutes(20)));
  EXPECT_EQ(code(old), "RequestExpired");
  EXPECT_EQ(old->http_status, 400);
  EXPECT_EQ(code(check(signed_request(kNow + minutes(16)))), "RequestExpired");

  SignedRequest service{"POST", "/", {{"Host", "h"}}, kBody};
  sign(service, kCreds, "maya-1", "s3", kNow);
  EXPECT_EQ(code(check(service)), "SignatureDoesNotMatch");

  // The X-Amz-Date changed after signing: another day than the scope's, or the same day.
  auto day = signed_request();
  header(day, "X-Amz-Date") = "20261207T070000Z";
  EXPECT_EQ(code(verify(day, kCreds, "maya-1", kNow + hours(24), minutes(15))),
            "SignatureDoesNotMatch");
  auto minute = signed_request();
  header(minute, "X-Amz-Date") = "20261206T070100Z";
  EXPECT_EQ(code(check(minute)), "SignatureDoesNotMatch");
  auto garbled = signed_request();
  header(garbled, "X-Amz-Date") = "yesterday";
  EXPECT_EQ(code(check(garbled)), "IncompleteSignature");
}

TEST(EbsSigV4, RefusesUnsignedAndMalformed) {
  SignedRequest none{"POST", "/", {{"Host", "h"}}, kBody};
  EXPECT_EQ(code(check(none)), "AuthFailure");
  EXPECT_EQ(none.headers.size(), 1u);
  SignedRequest presigned{
      "GET", "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=x", {{"Host", "h"}}, ""};
  auto p = check(presigned);
  EXPECT_EQ(code(p), "AuthFailure");
  EXPECT_NE(p->message.find("Presigned"), std::string::npos);

  auto twice = signed_request();
  twice.headers.emplace_back("authorization", header(twice, "Authorization"));
  EXPECT_EQ(code(check(twice)), "IncompleteSignature");
  auto garbage = signed_request();
  header(garbage, "Authorization") = "Basic dXNlcjpwYXNz";
  EXPECT_EQ(code(check(garbage)), "IncompleteSignature");
  auto no_date = signed_request();
  std::erase_if(no_date.headers, [](const auto& h) { return h.first == "X-Amz-Date"; });
  EXPECT_EQ(code(check(no_date)), "IncompleteSignature");

  // host must be signed, and so must the date.
  SignedRequest hostless{"POST", "/", {{"Content-Type", "x"}}, kBody};
  sign(hostless, kCreds, "maya-1", "ec2", kNow);
  hostless.headers.emplace_back("Host", "h");
  auto h = check(hostless);
  EXPECT_EQ(code(h), "SignatureDoesNotMatch");
  EXPECT_NE(h->message.find("Host"), std::string::npos);
}

}  // namespace
}  // namespace maya::ebs
