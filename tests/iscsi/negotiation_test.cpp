// The negotiation table's outcomes: min/max, AND/OR, lists, declarations, bad values.
#include <gtest/gtest.h>

#include "lib/iscsi/negotiation.h"

namespace maya::iscsi {
namespace {

std::string ask(Negotiator& n, const char* key, const char* value,
                Stage stage = Stage::kOperational) {
  auto a = n.answer(key, value, stage);
  return a ? *a : "<none>";
}

TEST(Negotiation, NumericAndBooleanRules) {
  Negotiator n;
  EXPECT_EQ(ask(n, "MaxBurstLength", "262144"), "262144");
  EXPECT_EQ(ask(n, "MaxBurstLength", "16777215"), "16776192");
  EXPECT_EQ(ask(n, "FirstBurstLength", "1048576"), "262144");
  EXPECT_EQ(ask(n, "FirstBurstLength", "65536"), "65536");
  EXPECT_EQ(ask(n, "MaxConnections", "8"), "1");
  EXPECT_EQ(ask(n, "ErrorRecoveryLevel", "2"), "0");
  EXPECT_EQ(ask(n, "DefaultTime2Wait", "0"), "2");
  EXPECT_EQ(ask(n, "DefaultTime2Retain", "0"), "0");
  EXPECT_EQ(ask(n, "MaxOutstandingR2T", "8"), "1");
  EXPECT_EQ(ask(n, "InitialR2T", "No"), "No");
  EXPECT_EQ(ask(n, "InitialR2T", "Yes"), "Yes");
  EXPECT_EQ(ask(n, "ImmediateData", "Yes"), "Yes");
  EXPECT_EQ(ask(n, "ImmediateData", "No"), "No");
  EXPECT_EQ(ask(n, "DataPDUInOrder", "No"), "Yes");
  EXPECT_EQ(ask(n, "IFMarker", "Yes"), "No");
  EXPECT_EQ(ask(n, "OFMarkInt", "1~65535"), "Irrelevant");
  EXPECT_FALSE(n.params().immediate_data);
  EXPECT_TRUE(n.params().initial_r2t);
  EXPECT_EQ(n.params().first_burst_length, 65536u);
}

TEST(Negotiation, ListsAndDeclarations) {
  Negotiator n;
  EXPECT_EQ(ask(n, "HeaderDigest", "CRC32C,None"), "CRC32C");
  EXPECT_EQ(ask(n, "DataDigest", "None,CRC32C"), "None");
  EXPECT_EQ(ask(n, "DataDigest", "MD5"), "Reject");
  EXPECT_TRUE(n.params().header_digest);
  EXPECT_FALSE(n.params().data_digest);
  EXPECT_EQ(ask(n, "MaxRecvDataSegmentLength", "131072"), "<none>");
  EXPECT_EQ(n.params().max_send_data_segment_length, 131072u);
  EXPECT_EQ(ask(n, "InitiatorName", "iqn.x"), "<none>");
  EXPECT_EQ(n.params().initiator_name, "iqn.x");
  KeyValues decl;
  n.append_declarations(decl);
  ASSERT_EQ(decl.size(), 1u);
  EXPECT_EQ(decl[0].first, "MaxRecvDataSegmentLength");
  EXPECT_EQ(decl[0].second, "262144");
  decl.clear();
  n.append_declarations(decl);  // only once
  EXPECT_TRUE(decl.empty());
}

TEST(Negotiation, BadValuesUnknownKeysAndPhases) {
  Negotiator n;
  EXPECT_EQ(ask(n, "MaxBurstLength", "100"), "Reject");  // below 512
  EXPECT_EQ(ask(n, "MaxBurstLength", "abc"), "Reject");
  EXPECT_EQ(ask(n, "MaxBurstLength", "0x40000"), "262144");  // hex
  EXPECT_EQ(ask(n, "InitialR2T", "Maybe"), "Reject");
  EXPECT_EQ(ask(n, "X-com.example.Foo", "1"), "NotUnderstood");
  EXPECT_EQ(ask(n, "Frobnicate", "1"), "NotUnderstood");
  EXPECT_EQ(ask(n, "TargetAddress", "1.2.3.4"), "Irrelevant");
  EXPECT_EQ(ask(n, "MaxBurstLength", "65536", Stage::kFullFeature), "Reject");
  EXPECT_EQ(ask(n, "SessionType", "Weird"), "Reject");
}

TEST(Negotiation, DiscoveryMakesDataKeysIrrelevant) {
  Negotiator n;
  EXPECT_EQ(ask(n, "SessionType", "Discovery"), "<none>");
  EXPECT_TRUE(n.params().discovery);
  EXPECT_EQ(ask(n, "MaxBurstLength", "65536"), "Irrelevant");
  EXPECT_EQ(ask(n, "InitialR2T", "No"), "Irrelevant");
  EXPECT_EQ(ask(n, "HeaderDigest", "None"), "None");
}

TEST(Negotiation, FinishKeepsFirstBurstWithinMaxBurst) {
  Negotiator n;
  ask(n, "MaxBurstLength", "65536");
  ask(n, "FirstBurstLength", "262144");
  n.finish();
  EXPECT_LE(n.params().first_burst_length, n.params().max_burst_length);
}

TEST(Negotiation, TableIsComplete) {
  for (const char* key : {"HeaderDigest",        "DataDigest",           "MaxConnections",
                          "InitialR2T",          "ImmediateData",        "MaxRecvDataSegmentLength",
                          "MaxBurstLength",      "FirstBurstLength",     "DefaultTime2Wait",
                          "DefaultTime2Retain",  "MaxOutstandingR2T",    "DataPDUInOrder",
                          "DataSequenceInOrder", "ErrorRecoveryLevel",   "SessionType",
                          "TargetName",          "InitiatorName",        "TargetAlias",
                          "TargetAddress",       "TargetPortalGroupTag", "AuthMethod"}) {
    EXPECT_NE(find_key_def(key), nullptr) << key;
  }
}

}  // namespace
}  // namespace maya::iscsi
