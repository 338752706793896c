// The XML writer and the error document: escaping, bytes XML cannot carry, EC2's shapes.
#include <gtest/gtest.h>

#include <stdexcept>

#include "lib/ebs/api_error.h"
#include "lib/ebs/xml_writer.h"

namespace maya::ebs {
namespace {

constexpr std::string_view kDecl = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";

std::string body(std::string doc) {
  EXPECT_TRUE(doc.starts_with(kDecl));
  return doc.substr(kDecl.size());
}

TEST(EbsXml, EscapesMarkupCharacters) {
  XmlWriter w;
  w.text("v", "a&b<c>d\"e'f &amp;");
  EXPECT_EQ(body(w.finish()), "<v>a&amp;b&lt;c&gt;d&quot;e&apos;f &amp;amp;</v>");
}

TEST(EbsXml, KeepsUtf8AndWhitespaceReplacesWhatXmlCannotCarry) {
  XmlWriter w;
  w.text("ok", "\xC3\xA9\xF0\x9F\x98\x80 tab\tlf\n");
  w.text("cr", "a\rb");
  EXPECT_EQ(w.replaced(), 0u);
  w.text("bad", std::string("x\x01y\0z\x1B", 6));
  EXPECT_EQ(w.replaced(), 3u);
  w.text("utf8", "\xFF\xC0\xAF\xED\xA0\x80\xEF\xBF\xBE");
  std::string doc = body(w.finish());
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(doc, "<ok>\xC3\xA9\xF0\x9F\x98\x80 tab\tlf\n</ok><cr>a&#13;b</cr><bad>x" + r + "y" + r +
                     "z" + r + "</bad><utf8>" + r + r + r + r + r + r + r + "</utf8>");
}

TEST(EbsXml, AttributesAndActionResponse) {
  auto w = XmlWriter::action_response("CreateVolume", "req-1");
  w.text("volumeId", "vol-0123456789abcdef0");
  {
    auto set = w.scope("tagSet");
    auto item = w.scope("item");
    w.text("key", "Name");
  }
  w.number("size", 8);
  w.boolean("encrypted", false);
  w.timestamp("createTime",
              std::chrono::system_clock::time_point(std::chrono::milliseconds(1796540400123)));
  EXPECT_EQ(body(w.finish()),
            "<CreateVolumeResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
            "<requestId>req-1</requestId><volumeId>vol-0123456789abcdef0</volumeId>"
            "<tagSet><item><key>Name</key></item></tagSet><size>8</size>"
            "<encrypted>false</encrypted><createTime>2026-12-06T07:00:00.123Z</createTime>"
            "</CreateVolumeResponse>");

  XmlWriter a;
  a.open("r", {{"k", "a\"b<\t\n"}});
  EXPECT_EQ(body(a.finish()), "<r k=\"a&quot;b&lt;&#9;&#10;\"></r>");
}

TEST(EbsXml, StringLists) {
  XmlWriter w;
  w.string_list("set", {"a", "b&"});
  w.string_list("groups", {"g"}, "groupId");
  w.string_list("empty", {});
  EXPECT_EQ(body(w.finish()),
            "<set><item>a</item><item>b&amp;</item></set>"
            "<groups><item><groupId>g</groupId></item></groups><empty></empty>");
}

TEST(EbsXml, BadNamesAndUnbalancedClosesAreBugs) {
  XmlWriter w;
  EXPECT_THROW(w.open(""), std::logic_error);
  EXPECT_THROW(w.open("a b"), std::logic_error);
  EXPECT_THROW(w.open("1a"), std::logic_error);
  EXPECT_THROW(w.text("a<b", "x"), std::logic_error);
  EXPECT_THROW(w.open("a", {{"x=\"", "y"}}), std::logic_error);
  EXPECT_THROW(w.close(), std::logic_error);
  w.open("a.b-c_d1");
  w.close();
  EXPECT_EQ(body(w.finish()), "<a.b-c_d1></a.b-c_d1>");
}

TEST(EbsXml, Iso8601Millis) {
  using namespace std::chrono;
  EXPECT_EQ(iso8601_millis(system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(iso8601_millis(system_clock::time_point(milliseconds(1796540400000))),
            "2026-12-06T07:00:00.000Z");
  EXPECT_EQ(iso8601_millis(system_clock::time_point(microseconds(1796540400999999))),
            "2026-12-06T07:00:00.999Z");
  EXPECT_EQ(iso8601_millis(system_clock::time_point(milliseconds(-1))), "1969-12-31T23:59:59.999Z");
}

TEST(EbsXml, ErrorDocument) {
  auto e = errors::volume_not_found("vol-<x>");
  EXPECT_EQ(e.http_status, 400);
  EXPECT_EQ(error_document(e, "r-1"),
            std::string(kDecl) +
                "<Response><Errors><Error><Code>InvalidVolume.NotFound</Code><Message>The volume "
                "&apos;vol-&lt;x&gt;&apos; does not exist.</Message></Error></Errors><RequestID>r-1"
                "</RequestID></Response>");
}

TEST(EbsXml, ErrorCodesAndStatuses) {
  struct Case {
    ApiError e;
    int status;
    std::string_view code;
  };
  const Case cases[] = {
      {errors::missing_parameter("Size"), 400, "MissingParameter"},
      {errors::invalid_parameter_value("Size", "x", "y"), 400, "InvalidParameterValue"},
      {errors::invalid_parameter("x"), 400, "InvalidParameterValue"},
      {errors::invalid_parameter_combination("x"), 400, "InvalidParameterCombination"},
      {errors::unknown_parameter("x"), 400, "UnknownParameter"},
      {errors::invalid_action("Foo"), 400, "InvalidAction"},
      {errors::malformed_query_string("x"), 400, "MalformedQueryString"},
      {errors::request_too_large(2, 1), 413, "RequestEntityTooLarge"},
      {errors::volume_not_found("v"), 400, "InvalidVolume.NotFound"},
      {errors::snapshot_not_found("s"), 400, "InvalidSnapshot.NotFound"},
      {errors::snapshot_in_use("s", "x"), 400, "InvalidSnapshot.InUse"},
      {errors::volume_in_use("v", "x"), 400, "VolumeInUse"},
      {errors::incorrect_state("x"), 400, "IncorrectState"},
      {errors::attachment_not_found("v", "i"), 400, "InvalidAttachment.NotFound"},
      {errors::instance_not_found("i"), 400, "InvalidInstanceID.NotFound"},
      {errors::idempotent_parameter_mismatch("t"), 400, "IdempotentParameterMismatch"},
      {errors::auth_failure("x"), 401, "AuthFailure"},
      {errors::signature_does_not_match("x"), 403, "SignatureDoesNotMatch"},
      {errors::incomplete_signature("x"), 400, "IncompleteSignature"},
      {errors::request_expired("x"), 400, "RequestExpired"},
      {errors::internal_error("x"), 500, "InternalError"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(c.e.http_status, c.status) << c.code;
    EXPECT_EQ(c.e.code, c.code);
    EXPECT_FALSE(c.e.message.empty()) << c.code;
  }
  EXPECT_EQ(errors::invalid_action("Foo").message,
            "The action Foo is not valid for this web service.");
}

}  // namespace
}  // namespace maya::ebs
