// SCSI operation codes and service actions that maya's disk knows by name (SPC-4, SBC-3).
// Which of them the disk executes, and how, is the command table (command_table.cpp).
#pragma once

#include <cstdint>

namespace maya::scsi::op {

inline constexpr std::uint8_t kTestUnitReady = 0x00;
inline constexpr std::uint8_t kRequestSense = 0x03;
inline constexpr std::uint8_t kRead6 = 0x08;
inline constexpr std::uint8_t kWrite6 = 0x0a;
inline constexpr std::uint8_t kInquiry = 0x12;
inline constexpr std::uint8_t kModeSelect6 = 0x15;
inline constexpr std::uint8_t kReserve6 = 0x16;
inline constexpr std::uint8_t kRelease6 = 0x17;
inline constexpr std::uint8_t kModeSense6 = 0x1a;
inline constexpr std::uint8_t kStartStopUnit = 0x1b;
inline constexpr std::uint8_t kReadCapacity10 = 0x25;
inline constexpr std::uint8_t kRead10 = 0x28;
inline constexpr std::uint8_t kWrite10 = 0x2a;
inline constexpr std::uint8_t kWriteAndVerify10 = 0x2e;
inline constexpr std::uint8_t kVerify10 = 0x2f;
inline constexpr std::uint8_t kPreFetch10 = 0x34;
inline constexpr std::uint8_t kSynchronizeCache10 = 0x35;
inline constexpr std::uint8_t kWriteSame10 = 0x41;
inline constexpr std::uint8_t kUnmap = 0x42;
inline constexpr std::uint8_t kModeSelect10 = 0x55;
inline constexpr std::uint8_t kReserve10 = 0x56;
inline constexpr std::uint8_t kRelease10 = 0x57;
inline constexpr std::uint8_t kModeSense10 = 0x5a;
inline constexpr std::uint8_t kPersistentReserveIn = 0x5e;
inline constexpr std::uint8_t kPersistentReserveOut = 0x5f;
inline constexpr std::uint8_t kRead16 = 0x88;
inline constexpr std::uint8_t kCompareAndWrite = 0x89;
inline constexpr std::uint8_t kWrite16 = 0x8a;
inline constexpr std::uint8_t kWriteAndVerify16 = 0x8e;
inline constexpr std::uint8_t kVerify16 = 0x8f;
inline constexpr std::uint8_t kPreFetch16 = 0x90;
inline constexpr std::uint8_t kSynchronizeCache16 = 0x91;
inline constexpr std::uint8_t kWriteSame16 = 0x93;
inline constexpr std::uint8_t kServiceActionIn16 = 0x9e;
inline constexpr std::uint8_t kReportLuns = 0xa0;
inline constexpr std::uint8_t kMaintenanceIn = 0xa3;
inline constexpr std::uint8_t kRead12 = 0xa8;
inline constexpr std::uint8_t kWrite12 = 0xaa;
inline constexpr std::uint8_t kWriteAndVerify12 = 0xae;
inline constexpr std::uint8_t kVerify12 = 0xaf;

// SERVICE ACTION IN(16) service actions.
inline constexpr std::uint8_t kReadCapacity16 = 0x10;
inline constexpr std::uint8_t kGetLbaStatus = 0x12;
// MAINTENANCE IN service actions.
inline constexpr std::uint8_t kReportSupportedOpcodes = 0x0c;

// PERSISTENT RESERVE IN service actions.
inline constexpr std::uint8_t kPrinReadKeys = 0x00;
inline constexpr std::uint8_t kPrinReadReservation = 0x01;
inline constexpr std::uint8_t kPrinReportCapabilities = 0x02;
inline constexpr std::uint8_t kPrinReadFullStatus = 0x03;
// PERSISTENT RESERVE OUT service actions.
inline constexpr std::uint8_t kProutRegister = 0x00;
inline constexpr std::uint8_t kProutReserve = 0x01;
inline constexpr std::uint8_t kProutRelease = 0x02;
inline constexpr std::uint8_t kProutClear = 0x03;
inline constexpr std::uint8_t kProutPreempt = 0x04;
inline constexpr std::uint8_t kProutPreemptAndAbort = 0x05;
inline constexpr std::uint8_t kProutRegisterAndIgnore = 0x06;

}  // namespace maya::scsi::op
