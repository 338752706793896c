// A replica child: the blocks of one replica of a volume and its journal, opened from the URI
// the volume's manifest keeps for it (jiva.json). The scheme picks the kind of child, through
// this one factory:
//   file:///DIR  a directory on this host: DIR/data.img (a FileBackend) and the journal files
//                beside it (replica.json, dirty.bitmap, degraded.bitmap; FileJournal)
//   iscsi://[USER[%SECRET]@]HOST[:PORT]/IQN/LUN  (USER:SECRET@ too)
//                a replica on another host, exported as one LUN (lib/replica/remote_layout.h):
//                an IscsiBackend and an IscsiJournal over libiscsi (lib/replica/iscsi_child.h)
// The replicator, the target and the rest only see a BlockBackend and a ReplicaJournal.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "lib/block/backend.h"
#include "lib/common/result.h"
#include "lib/replica/replica_journal.h"

namespace maya::replica {

// The data file of a file:// child, in its directory (lib/jiva/manifest.h's replica_data(),
// which creates it, names the same file).
inline constexpr std::string_view kFileChildData = "data.img";

struct ChildOptions {
  std::uint64_t size_bytes = 0;  // the volume's size, exported by the child
  std::uint32_t block_size = 512;
  // A thin volume's child leaves unwritten ranges unallocated; a thick one's data is allocated
  // when it is created or grown (file://: fallocate).
  bool thin = true;
  // How long one command to a remote child (iscsi://) may take, its connect and login included,
  // before it fails: a dead host must fail the replica, never hang the volume's I/O.
  std::chrono::milliseconds io_timeout{5000};
  // Fencing of a remote child (SCSI persistent reservations on its LUN, kept by the host that
  // shares it): the volume owner's key (0: no fencing). Every session registers it; only the
  // owner whose key holds the reservation writes. `claim`: preempt another owner's reservation
  // (the volume is opened here now); without it a child another owner holds is refused.
  std::uint64_t owner_key = 0;
  bool claim = false;
};

struct Child {
  std::unique_ptr<block::BlockBackend> data;
  std::unique_ptr<ReplicaJournal> journal;
};

// Opens the child at `uri`; `id` names the replica in errors. A URI of an unknown scheme, or a
// malformed one, is an error that says so.
Result<Child> open_child(std::string_view id, std::string_view uri, const ChildOptions& options);
// The volume no longer uses the child at `uri`: a remote one is given up (its fence released
// for another volume, lib/replica/iscsi_lun.h); a local one needs nothing.
Result<void> release_child(std::string_view id, std::string_view uri, const ChildOptions& options);

}  // namespace maya::replica
