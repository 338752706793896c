// The LUN that a shared replica exports (`maya replica share`) and that a volume's target opens
// as an iscsi:// child. One LUN carries both halves of a replica, so that one connection, one
// CHAP secret and one fence guard them together:
//
//   [0, kRemoteJournalBytes)                      the replica's journal (journal.img beside
//                                                 the replica's data on its host): identity,
//                                                 generation, members, dirty and degraded
//                                                 bitmaps, laid out by lib/replica/iscsi_child
//   [kRemoteJournalBytes, + the replica's size)   its data (data.img)
//
// The journal comes first so that growing a volume only extends the end of the LUN. The host
// that shares the replica treats the journal area as opaque bytes; only the volume's target
// reads and writes it.
#pragma once

#include <cstdint>

namespace maya::replica {

inline constexpr std::uint64_t kRemoteJournalBytes = 8ull << 20;

// The file that holds the journal area on the replica's host, beside data.img.
inline constexpr const char* kRemoteJournalFile = "journal.img";

}  // namespace maya::replica
