// CreateVolume's Iops and Throughput against the volume type, as botocore's EC2 model documents
// them: defaults, ranges, the types that take none, io1/io2 without Iops.
#include "lib/ebs/volume_performance.h"

#include <gtest/gtest.h>

namespace maya::ebs {
namespace {

Query query(std::initializer_list<std::pair<const char*, const char*>> params) {
  Query q;
  q.action = "CreateVolume";
  q.version = "2016-11-15";
  for (const auto& [name, value] : params) q.params[name] = value;
  return q;
}

VolumePerformance ok(const Query& q, std::string_view type) {
  auto p = volume_performance(q, type);
  EXPECT_TRUE(p.has_value()) << type << ": "
                             << (p ? "" : p.error().code + ": " + p.error().message);
  return p.value_or(VolumePerformance{});
}

ApiError refused(const Query& q, std::string_view type) {
  auto p = volume_performance(q, type);
  EXPECT_FALSE(p.has_value()) << type << ": accepted";
  return p ? ApiError{} : p.error();
}

TEST(EbsVolumePerformance, Gp3HasDefaultsAndTakesBothWithinItsRange) {
  VolumePerformance d = ok(query({}), "gp3");
  EXPECT_EQ(d.iops, 3000);
  EXPECT_EQ(d.throughput, 125);
  VolumePerformance low = ok(query({{"Iops", "3000"}, {"Throughput", "125"}}), "gp3");
  EXPECT_EQ(low.iops, 3000);
  EXPECT_EQ(low.throughput, 125);
  VolumePerformance high = ok(query({{"Iops", "16000"}, {"Throughput", "1000"}}), "gp3");
  EXPECT_EQ(high.iops, 16000);
  EXPECT_EQ(high.throughput, 1000);
}

TEST(EbsVolumePerformance, OutOfRangeIsInvalidParameterValueNamingTheLimit) {
  ApiError e = refused(query({{"Iops", "16001"}}), "gp3");
  EXPECT_EQ(e.code, "InvalidParameterValue");
  EXPECT_NE(e.message.find("maximum is 16000"), std::string::npos) << e.message;
  e = refused(query({{"Iops", "2999"}}), "gp3");
  EXPECT_EQ(e.code, "InvalidParameterValue");
  EXPECT_NE(e.message.find("minimum is 3000"), std::string::npos) << e.message;
  e = refused(query({{"Throughput", "124"}}), "gp3");
  EXPECT_EQ(e.code, "InvalidParameterValue");
  EXPECT_NE(e.message.find("minimum is 125 MiB/s"), std::string::npos) << e.message;
  e = refused(query({{"Throughput", "1001"}}), "gp3");
  EXPECT_NE(e.message.find("maximum is 1000 MiB/s"), std::string::npos) << e.message;
  for (const char* type : {"io1", "io2"}) {
    EXPECT_EQ(refused(query({{"Iops", "99"}}), type).code, "InvalidParameterValue");
    EXPECT_EQ(refused(query({{"Iops", "64001"}}), type).code, "InvalidParameterValue");
  }
  EXPECT_EQ(refused(query({{"Iops", "many"}}), "gp3").code, "InvalidParameterValue");
  EXPECT_EQ(refused(query({{"Iops", "-1"}}), "io1").code, "InvalidParameterValue");
}

TEST(EbsVolumePerformance, Io1AndIo2NeedIopsAndTakeNoThroughput) {
  for (const char* type : {"io1", "io2"}) {
    SCOPED_TRACE(type);
    ApiError e = refused(query({}), type);
    EXPECT_EQ(e.code, "MissingParameter");
    EXPECT_NE(e.message.find("iops"), std::string::npos) << e.message;
    VolumePerformance p = ok(query({{"Iops", "100"}}), type);
    EXPECT_EQ(p.iops, 100);
    EXPECT_EQ(p.throughput, 0);
    EXPECT_EQ(ok(query({{"Iops", "64000"}}), type).iops, 64000);
    e = refused(query({{"Iops", "1000"}, {"Throughput", "200"}}), type);
    EXPECT_EQ(e.code, "InvalidParameterCombination");
    EXPECT_NE(e.message.find("throughput"), std::string::npos) << e.message;
  }
}

TEST(EbsVolumePerformance, OtherTypesTakeNeither) {
  for (const char* type : {"gp2", "st1", "sc1", "standard"}) {
    SCOPED_TRACE(type);
    VolumePerformance p = ok(query({}), type);
    EXPECT_EQ(p.iops, 0);
    EXPECT_EQ(p.throughput, 0);
    ApiError e = refused(query({{"Iops", "3000"}}), type);
    EXPECT_EQ(e.code, "InvalidParameterCombination");
    EXPECT_EQ(e.message,
              "The parameter iops is not supported for " + std::string(type) + " volumes.");
    EXPECT_EQ(refused(query({{"Throughput", "125"}}), type).code, "InvalidParameterCombination");
  }
}

}  // namespace
}  // namespace maya::ebs
