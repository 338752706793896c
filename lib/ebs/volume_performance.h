// The performance a volume is created with: CreateVolume's Iops and Throughput, checked against
// its VolumeType as the EC2 API documents them (botocore's model, CreateVolumeRequest):
//   Iops        gp3 3,000-16,000 (default 3,000); io1 and io2 100-64,000, and required;
//               not supported for gp2, st1, sc1 or standard.
//   Throughput  gp3 only, 125-1,000 MiB/s (default 125).
// maya keeps them in the catalog and DescribeVolumes echoes them (iops, throughput); it does
// not throttle I/O to them.
#pragma once

#include <cstdint>
#include <string_view>

#include "lib/ebs/api_error.h"
#include "lib/ebs/query.h"

namespace maya::ebs {

struct VolumePerformance {
  std::int64_t iops = 0;        // 0: the type has none
  std::int64_t throughput = 0;  // MiB/s; 0: the type has none
};

// InvalidParameterCombination for a parameter the type does not take, InvalidParameterValue for
// a value out of the type's range, MissingParameter for io1/io2 without Iops.
ApiResult<VolumePerformance> volume_performance(const Query& q, std::string_view volume_type);

}  // namespace maya::ebs
