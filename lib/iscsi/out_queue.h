// The PDUs a connection has ready to send, as gathered-write pieces: each PDU is its BHS (plus
// header digest), a data segment that points into a buffer the queue owns (a Data-In buffer
// handed over without copying, or small copied text), and padding plus data digest. The
// socket layer turns it into iovecs for writev and clears it once everything is written.
// clear() keeps a few spent data buffers as spares: a READ reuses one instead of allocating
// (and page-faulting and zero-filling) a fresh Data-In vector every time.
#pragma once

#include <sys/uio.h>

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "lib/iscsi/pdu.h"

namespace maya::iscsi {

class OutQueue {
 public:
  void set_digests(Digests d) { digests_ = d; }

  // Takes ownership of a data buffer; returns its handle for push().
  std::uint32_t keep(std::vector<std::uint8_t>&& buffer);
  // A PDU whose data is [offset, offset+length) of a kept buffer.
  void push(std::span<const std::uint8_t, kBhsLength> bhs, std::uint32_t buffer,
            std::uint32_t offset, std::uint32_t length);
  // A PDU whose (small) data is copied into the queue.
  void push_copy(std::span<const std::uint8_t, kBhsLength> bhs,
                 std::span<const std::uint8_t> data = {});

  bool empty() const { return pdus_.empty(); }
  std::size_t pdu_count() const { return pdus_.size(); }
  // Bytes of data segments queued (what makes the queue big).
  std::size_t data_bytes() const { return data_bytes_; }
  // Appends the iovecs of every queued PDU in order.
  void iovecs(std::vector<iovec>& out) const;
  // Everything in one byte string (tests).
  std::vector<std::uint8_t> flatten() const;
  // Drops every PDU; the data buffers become spares (up to kMaxSpareBytes in all).
  void clear();
  // A spent data buffer (its old size and contents kept), or an empty vector.
  std::vector<std::uint8_t> take_spare();
  // Gives back a spare that take_spare() handed out and nothing used.
  void return_spare(std::vector<std::uint8_t>&& spare) { add_spare(std::move(spare)); }
  // Hands every queued PDU to `other`, which must be empty, and takes its spares; each queue
  // keeps its digest settings. For a sender on another thread.
  void move_to(OutQueue& other);

 private:
  static constexpr std::size_t kMaxSpareBytes = 16u << 20;
  void add_spare(std::vector<std::uint8_t>&& buffer);
  static constexpr std::uint32_t kNoData = 0xffffffffu;
  static constexpr std::uint32_t kScratch = 0xfffffffeu;
  struct Pdu {
    std::array<std::uint8_t, kBhsLength + 4> header;
    std::uint8_t header_length;
    std::uint8_t trailer_length;
    std::array<std::uint8_t, 8> trailer;  // padding (≤3) + data digest (4)
    std::uint32_t buffer, offset, length;
  };
  void finish(Pdu& pdu, std::span<const std::uint8_t> data);
  std::span<const std::uint8_t> data_of(const Pdu& pdu) const;

  Digests digests_;
  std::vector<Pdu> pdus_;
  std::vector<std::vector<std::uint8_t>> buffers_;
  std::vector<std::uint8_t> scratch_;
  std::vector<std::vector<std::uint8_t>> spares_;
  std::size_t spare_bytes_ = 0;
  std::size_t data_bytes_ = 0;
};

}  // namespace maya::iscsi
