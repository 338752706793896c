#include "tests/iscsi/mini_initiator.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace maya::iscsi::testing {
namespace {

void put32(std::uint8_t* p, std::uint32_t v) {
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}
std::uint32_t get32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
}
void put24(std::uint8_t* p, std::uint32_t v) {
  p[0] = v >> 16;
  p[1] = v >> 8;
  p[2] = v;
}

Bytes join_keys(const std::vector<std::pair<std::string, std::string>>& keys) {
  Bytes b;
  for (const auto& [k, v] : keys) {
    b.insert(b.end(), k.begin(), k.end());
    b.push_back('=');
    b.insert(b.end(), v.begin(), v.end());
    b.push_back(0);
  }
  return b;
}

}  // namespace

std::uint32_t RxPdu::u32(std::size_t at) const {
  return get32(bhs.data() + at);
}

std::optional<MiniInitiator> MiniInitiator::connect(std::uint16_t port, const char* host,
                                                    const char* source) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return std::nullopt;
  if (source != nullptr) {
    sockaddr_in s{};
    s.sin_family = AF_INET;
    inet_pton(AF_INET, source, &s.sin_addr);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&s), sizeof s) != 0) return std::nullopt;
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, host, &a.sin_addr);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return std::nullopt;
  int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return MiniInitiator(std::move(fd));
}

bool MiniInitiator::send_raw(std::span<const std::uint8_t> bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::send(fd_.get(), bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

bool MiniInitiator::send(const Header& bhs, std::span<const std::uint8_t> data) {
  Bytes b(bhs.begin(), bhs.end());
  b.insert(b.end(), data.begin(), data.end());
  while (b.size() % 4 != 0) b.push_back(0);
  return send_raw(b);
}

static bool read_exact(int fd, std::uint8_t* p, std::size_t n, int timeout_ms) {
  std::size_t done = 0;
  while (done < n) {
    pollfd pfd{fd, POLLIN, 0};
    int r = ::poll(&pfd, 1, timeout_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    ssize_t got = ::recv(fd, p + done, n - done, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    done += static_cast<std::size_t>(got);
  }
  return true;
}

std::optional<RxPdu> MiniInitiator::receive(int timeout_ms) {
  RxPdu pdu;
  if (!read_exact(fd_.get(), pdu.bhs.data(), 48, timeout_ms)) return std::nullopt;
  const std::uint32_t ahs = pdu.bhs[4] * 4u;
  const std::uint32_t len = (pdu.bhs[5] << 16) | (pdu.bhs[6] << 8) | pdu.bhs[7];
  Bytes rest(ahs + ((len + 3) & ~3u));
  if (!rest.empty() && !read_exact(fd_.get(), rest.data(), rest.size(), timeout_ms)) {
    return std::nullopt;
  }
  pdu.data.assign(rest.begin() + ahs, rest.begin() + ahs + len);
  track(pdu);
  return pdu;
}

bool MiniInitiator::closed_by_peer(int timeout_ms) {
  std::uint8_t buf[4096];
  for (;;) {
    pollfd pfd{fd_.get(), POLLIN, 0};
    int r = ::poll(&pfd, 1, timeout_ms);
    if (r <= 0) return false;
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (n <= 0) return true;  // EOF or reset
  }
}

void MiniInitiator::track(const RxPdu& pdu) {
  const std::uint8_t op = pdu.opcode();
  // Data-In without status carries no StatSN; R2T/async carry the next one without advancing.
  const bool has_status = op != 0x25 || (pdu.bhs[1] & 0x01);
  const bool counts =
      has_status && op != 0x31 && op != 0x32 && !(op == 0x20 && pdu.u32(16) == 0xffffffffu);
  if (counts) exp_statsn_ = pdu.u32(24) + 1;
  if (op != 0x25 || (pdu.bhs[1] & 0x01) || op == 0x31) max_cmdsn_ = pdu.u32(32);
}

std::optional<RxPdu> MiniInitiator::login_step(
    std::uint8_t csg, std::uint8_t nsg, bool transit,
    const std::vector<std::pair<std::string, std::string>>& keys) {
  Bytes data = join_keys(keys);
  Header h{};
  h[0] = 0x43;
  h[1] = static_cast<std::uint8_t>((transit ? 0x80 : 0) | (csg << 2) | nsg);
  put24(h.data() + 5, static_cast<std::uint32_t>(data.size()));
  std::copy(isid.begin(), isid.end(), h.begin() + 8);
  h[14] = tsih_ >> 8;
  h[15] = tsih_ & 0xff;
  put32(h.data() + 16, itt_);
  put32(h.data() + 24, cmdsn_);
  put32(h.data() + 28, exp_statsn_);
  if (!send(h, data)) return std::nullopt;
  auto r = receive();
  if (r && r->opcode() == 0x23 && (r->bhs[1] & 0x80) && (r->bhs[1] & 0x03) == 3) {
    tsih_ = static_cast<std::uint16_t>((r->bhs[14] << 8) | r->bhs[15]);
    ++itt_;
  }
  return r;
}

std::optional<std::uint16_t> MiniInitiator::login(const std::string& target,
                                                  const std::string& initiator, bool discovery) {
  std::vector<std::pair<std::string, std::string>> keys = {
      {"InitiatorName", initiator},
      {"SessionType", discovery ? "Discovery" : "Normal"},
      {"HeaderDigest", "None"},
      {"DataDigest", "None"},
      {"MaxRecvDataSegmentLength", "65536"},
  };
  if (!discovery) {
    keys.emplace_back("TargetName", target);
    keys.emplace_back("InitialR2T", "No");
    keys.emplace_back("ImmediateData", "Yes");
    keys.emplace_back("FirstBurstLength", "65536");
    keys.emplace_back("MaxBurstLength", "262144");
  }
  auto r = login_step(1, 3, true, keys);
  if (!r || r->opcode() != 0x23) return std::nullopt;
  return static_cast<std::uint16_t>((r->bhs[36] << 8) | r->bhs[37]);
}

Header MiniInitiator::scsi_command_bhs(std::span<const std::uint8_t> cdb, std::uint32_t edtl,
                                       bool read, bool write, bool final, std::uint32_t itt,
                                       std::uint32_t data_length, std::uint64_t lun) {
  Header h{};
  h[0] = 0x01;
  h[1] =
      static_cast<std::uint8_t>((final ? 0x80 : 0) | (read ? 0x40 : 0) | (write ? 0x20 : 0) | 0x01);
  put24(h.data() + 5, data_length);
  put32(h.data() + 8, static_cast<std::uint32_t>(lun >> 32));
  put32(h.data() + 12, static_cast<std::uint32_t>(lun));
  put32(h.data() + 16, itt);
  put32(h.data() + 20, edtl);
  put32(h.data() + 24, cmdsn_++);
  put32(h.data() + 28, exp_statsn_);
  std::copy_n(cdb.begin(), std::min<std::size_t>(cdb.size(), 16), h.begin() + 32);
  return h;
}

Header MiniInitiator::data_out_bhs(std::uint32_t itt, std::uint32_t ttt, std::uint32_t datasn,
                                   std::uint32_t offset, std::uint32_t length, bool final) {
  Header h{};
  h[0] = 0x05;
  h[1] = final ? 0x80 : 0;
  put24(h.data() + 5, length);
  put32(h.data() + 16, itt);
  put32(h.data() + 20, ttt);
  put32(h.data() + 36, datasn);
  put32(h.data() + 40, offset);
  return h;
}

std::optional<ScsiReply> MiniInitiator::command(std::span<const std::uint8_t> cdb,
                                                std::uint32_t edtl, bool read, bool write,
                                                std::span<const std::uint8_t> data_out,
                                                std::uint32_t immediate, std::uint64_t lun) {
  const std::uint32_t itt = itt_++;
  immediate = std::min<std::uint32_t>(immediate, static_cast<std::uint32_t>(data_out.size()));
  auto h = scsi_command_bhs(cdb, edtl, read, write, true, itt, immediate, lun);
  if (!send(h, data_out.subspan(0, immediate))) return std::nullopt;
  ScsiReply reply;
  reply.data.assign(read ? edtl : 0, 0);
  for (;;) {
    auto pdu = receive();
    if (!pdu) return std::nullopt;
    if (pdu->opcode() == 0x31) {  // R2T
      ++reply.r2ts;
      const std::uint32_t ttt = pdu->u32(20), offset = pdu->u32(40), length = pdu->u32(44);
      std::uint32_t sent = 0, datasn = 0;
      while (sent < length) {
        const std::uint32_t n = std::min<std::uint32_t>(8192, length - sent);
        auto d = data_out_bhs(itt, ttt, datasn++, offset + sent, n, sent + n == length);
        if (!send(d, data_out.subspan(offset + sent, n))) return std::nullopt;
        sent += n;
      }
      continue;
    }
    if (pdu->opcode() == 0x25) {  // Data-In
      ++reply.data_in_pdus;
      const std::uint32_t offset = pdu->u32(40);
      if (offset + pdu->data.size() > reply.data.size()) return std::nullopt;
      std::copy(pdu->data.begin(), pdu->data.end(), reply.data.begin() + offset);
      if (pdu->bhs[1] & 0x01) {
        reply.status = pdu->bhs[3];
        reply.overflow = pdu->bhs[1] & 0x04;
        reply.underflow = pdu->bhs[1] & 0x02;
        reply.residual = pdu->u32(44);
        return reply;
      }
      continue;
    }
    if (pdu->opcode() == 0x21) {  // SCSI Response
      reply.status = pdu->bhs[3];
      reply.overflow = pdu->bhs[1] & 0x04;
      reply.underflow = pdu->bhs[1] & 0x02;
      reply.residual = pdu->u32(44);
      if (pdu->data.size() >= 2) reply.sense.assign(pdu->data.begin() + 2, pdu->data.end());
      return reply;
    }
    return std::nullopt;  // anything else is unexpected here
  }
}

std::optional<RxPdu> MiniInitiator::nop(std::span<const std::uint8_t> ping) {
  Header h{};
  h[0] = 0x40;
  h[1] = 0x80;
  put24(h.data() + 5, static_cast<std::uint32_t>(ping.size()));
  put32(h.data() + 16, itt_++);
  put32(h.data() + 20, 0xffffffffu);
  put32(h.data() + 24, cmdsn_);
  put32(h.data() + 28, exp_statsn_);
  if (!send(h, ping)) return std::nullopt;
  return receive();
}

std::optional<RxPdu> MiniInitiator::logout(std::uint8_t reason) {
  Header h{};
  h[0] = 0x46;
  h[1] = 0x80 | reason;
  put32(h.data() + 16, itt_++);
  put32(h.data() + 24, cmdsn_);
  put32(h.data() + 28, exp_statsn_);
  if (!send(h)) return std::nullopt;
  return receive();
}

std::optional<RxPdu> MiniInitiator::text(const std::string& kvs) {
  Bytes data(kvs.begin(), kvs.end());
  data.push_back(0);
  Header h{};
  h[0] = 0x04;
  h[1] = 0x80;
  put24(h.data() + 5, static_cast<std::uint32_t>(data.size()));
  put32(h.data() + 16, itt_++);
  put32(h.data() + 20, 0xffffffffu);
  put32(h.data() + 24, cmdsn_++);
  put32(h.data() + 28, exp_statsn_);
  if (!send(h, data)) return std::nullopt;
  return receive();
}

}  // namespace maya::iscsi::testing
