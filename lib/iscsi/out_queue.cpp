#include "lib/iscsi/out_queue.h"

#include <algorithm>

#include "lib/common/endian.h"
#include "lib/iscsi/crc32c.h"

namespace maya::iscsi {

std::uint32_t OutQueue::keep(std::vector<std::uint8_t>&& buffer) {
  buffers_.push_back(std::move(buffer));
  return static_cast<std::uint32_t>(buffers_.size() - 1);
}

void OutQueue::finish(Pdu& pdu, std::span<const std::uint8_t> data) {
  pdu.header_length = kBhsLength;
  if (digests_.header) {
    store_le32(pdu.header.data() + kBhsLength,
               crc32c(std::span<const std::uint8_t>(pdu.header.data(), kBhsLength)));
    pdu.header_length += 4;
  }
  pdu.trailer_length = 0;
  data_bytes_ += data.size();
  if (data.empty()) return;
  const std::uint32_t pad =
      pad4(static_cast<std::uint32_t>(data.size())) - static_cast<std::uint32_t>(data.size());
  std::fill_n(pdu.trailer.begin(), pad, std::uint8_t{0});
  pdu.trailer_length = static_cast<std::uint8_t>(pad);
  if (digests_.data) {
    std::uint32_t crc = crc32c_update(crc32c_init(), data);
    crc = crc32c_update(crc, std::span<const std::uint8_t>(pdu.trailer.data(), pad));
    store_le32(pdu.trailer.data() + pad, crc32c_finish(crc));
    pdu.trailer_length += 4;
  }
}

void OutQueue::push(std::span<const std::uint8_t, kBhsLength> bhs, std::uint32_t buffer,
                    std::uint32_t offset, std::uint32_t length) {
  Pdu& pdu = pdus_.emplace_back();
  std::copy(bhs.begin(), bhs.end(), pdu.header.begin());
  pdu.buffer = length == 0 ? kNoData : buffer;
  pdu.offset = offset;
  pdu.length = length;
  finish(pdu, data_of(pdu));
}

void OutQueue::push_copy(std::span<const std::uint8_t, kBhsLength> bhs,
                         std::span<const std::uint8_t> data) {
  Pdu& pdu = pdus_.emplace_back();
  std::copy(bhs.begin(), bhs.end(), pdu.header.begin());
  pdu.buffer = data.empty() ? kNoData : kScratch;
  pdu.offset = static_cast<std::uint32_t>(scratch_.size());
  pdu.length = static_cast<std::uint32_t>(data.size());
  scratch_.insert(scratch_.end(), data.begin(), data.end());
  finish(pdu, data);
}

std::span<const std::uint8_t> OutQueue::data_of(const Pdu& pdu) const {
  if (pdu.buffer == kNoData) return {};
  const std::vector<std::uint8_t>& b = pdu.buffer == kScratch ? scratch_ : buffers_[pdu.buffer];
  return std::span<const std::uint8_t>(b).subspan(pdu.offset, pdu.length);
}

void OutQueue::iovecs(std::vector<iovec>& out) const {
  for (const Pdu& pdu : pdus_) {
    out.push_back(iovec{const_cast<std::uint8_t*>(pdu.header.data()), pdu.header_length});
    auto data = data_of(pdu);
    if (!data.empty()) {
      out.push_back(iovec{const_cast<std::uint8_t*>(data.data()), data.size()});
    }
    if (pdu.trailer_length > 0) {
      out.push_back(iovec{const_cast<std::uint8_t*>(pdu.trailer.data()), pdu.trailer_length});
    }
  }
}

std::vector<std::uint8_t> OutQueue::flatten() const {
  std::vector<iovec> v;
  iovecs(v);
  std::vector<std::uint8_t> out;
  for (const iovec& io : v) {
    auto* p = static_cast<const std::uint8_t*>(io.iov_base);
    out.insert(out.end(), p, p + io.iov_len);
  }
  return out;
}

void OutQueue::clear() {
  pdus_.clear();
  for (auto& b : buffers_) add_spare(std::move(b));
  buffers_.clear();
  scratch_.clear();
  data_bytes_ = 0;
}

void OutQueue::add_spare(std::vector<std::uint8_t>&& buffer) {
  if (spare_bytes_ + buffer.capacity() > kMaxSpareBytes) return;
  spare_bytes_ += buffer.capacity();
  spares_.push_back(std::move(buffer));
}

std::vector<std::uint8_t> OutQueue::take_spare() {
  if (spares_.empty()) return {};
  std::vector<std::uint8_t> b = std::move(spares_.back());
  spares_.pop_back();
  spare_bytes_ -= b.capacity();
  return b;
}

void OutQueue::move_to(OutQueue& other) {
  std::swap(pdus_, other.pdus_);
  std::swap(buffers_, other.buffers_);
  std::swap(scratch_, other.scratch_);
  std::swap(data_bytes_, other.data_bytes_);
  for (auto& b : other.spares_) add_spare(std::move(b));
  other.spares_.clear();
  other.spare_bytes_ = 0;
}

}  // namespace maya::iscsi
