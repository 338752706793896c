// Task Management Function codes and responses (RFC 7143 §11.5-6). The handling itself is
// Connection::on_task_management in task_management.cpp.
#pragma once

#include <cstdint>

namespace maya::iscsi {

namespace tmf {
inline constexpr std::uint8_t kAbortTask = 1;
inline constexpr std::uint8_t kAbortTaskSet = 2;
inline constexpr std::uint8_t kClearAca = 3;
inline constexpr std::uint8_t kClearTaskSet = 4;
inline constexpr std::uint8_t kLogicalUnitReset = 5;
inline constexpr std::uint8_t kTargetWarmReset = 6;
inline constexpr std::uint8_t kTargetColdReset = 7;
inline constexpr std::uint8_t kTaskReassign = 8;
}  // namespace tmf

namespace tmf_response {
inline constexpr std::uint8_t kFunctionComplete = 0;
inline constexpr std::uint8_t kTaskDoesNotExist = 1;
inline constexpr std::uint8_t kLunDoesNotExist = 2;
inline constexpr std::uint8_t kTaskStillAllegiant = 3;
inline constexpr std::uint8_t kReassignmentNotSupported = 4;
inline constexpr std::uint8_t kNotSupported = 5;
inline constexpr std::uint8_t kAuthorizationFailed = 6;
inline constexpr std::uint8_t kRejected = 255;
}  // namespace tmf_response

}  // namespace maya::iscsi
