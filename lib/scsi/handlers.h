// Command handlers, one per table entry (or family), each defined in the file named for its
// command family. They run after dispatch has checked the CDB length, unit attentions and
// reservations, and return the complete result (Data-In is trimmed afterwards by dispatch).
#pragma once

#include "lib/scsi/disk.h"

namespace maya::scsi {

// inquiry.cpp
TaskResult handle_inquiry(Disk& disk, const Request& req);

// device_commands.cpp
TaskResult handle_test_unit_ready(Disk& disk, const Request& req);
TaskResult handle_request_sense(Disk& disk, const Request& req);
TaskResult handle_start_stop_unit(Disk& disk, const Request& req);
TaskResult handle_report_luns(Disk& disk, const Request& req);
TaskResult handle_read_capacity10(Disk& disk, const Request& req);
TaskResult handle_read_capacity16(Disk& disk, const Request& req);
TaskResult handle_synchronize_cache(Disk& disk, const Request& req);
TaskResult handle_pre_fetch(Disk& disk, const Request& req);

// read_write.cpp
TaskResult handle_read(Disk& disk, const Request& req);
TaskResult handle_write(Disk& disk, const Request& req);
TaskResult handle_verify(Disk& disk, const Request& req);
TaskResult handle_write_and_verify(Disk& disk, const Request& req);
TaskResult handle_compare_and_write(Disk& disk, const Request& req);

// provisioning.cpp
TaskResult handle_unmap(Disk& disk, const Request& req);
TaskResult handle_write_same(Disk& disk, const Request& req);
TaskResult handle_get_lba_status(Disk& disk, const Request& req);

// mode_pages.cpp
TaskResult handle_mode_sense(Disk& disk, const Request& req);
TaskResult handle_mode_select(Disk& disk, const Request& req);

// reservation_commands.cpp
TaskResult handle_reserve(Disk& disk, const Request& req);
TaskResult handle_release(Disk& disk, const Request& req);
TaskResult handle_persistent_reserve_in(Disk& disk, const Request& req);
TaskResult handle_persistent_reserve_out(Disk& disk, const Request& req);

// supported_opcodes.cpp
TaskResult handle_report_supported_opcodes(Disk& disk, const Request& req);

}  // namespace maya::scsi
