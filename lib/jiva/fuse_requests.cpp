#include "lib/jiva/fuse_requests.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <string>

#include "lib/common/errno_text.h"
#include "lib/common/log.h"
#include "lib/jiva/fuse_frontend.h"
#include "lib/jiva/fuse_uring_abi.h"

namespace maya::jiva::fuse {
namespace {

constexpr const char* kFileName = FuseFrontend::kFileName;
constexpr std::uint64_t kAttrValidSeconds = 60;
constexpr std::uint32_t kMinorWanted = 40;
// Kernels before 5.17 send the 16-byte fuse_init_in of protocol 7.35 and older; flags2 and the
// rest exist only with FUSE_INIT_EXT.
constexpr std::size_t kCompatInitIn = 16;
// FUSE_OVER_IO_URING (protocol 7.42, Linux 6.14) as a bit of flags2: see fuse_uring_abi.h.
constexpr std::uint32_t kOverIoUring2 = static_cast<std::uint32_t>(kFuseOverIoUring >> 32);

template <class T>
std::span<const std::uint8_t> bytes_of(const T& value) {
  return {reinterpret_cast<const std::uint8_t*>(&value), sizeof(T)};
}

// The errno a failed write answers with: ENOSPC when the store is full (a file system on the
// volume then reports a full disk and keeps going), EIO otherwise.
int errno_for(const Error& error) {
  return out_of_space(error) ? ENOSPC : EIO;
}

bool known_node(const Request& r) {
  return r.header.nodeid == kRootId || r.header.nodeid == kFileId;
}

fuse_attr attr_of(std::uint64_t node, std::uint64_t size) {
  fuse_attr a{};
  a.ino = node;
  const std::time_t now = std::time(nullptr);
  a.atime = a.mtime = a.ctime = static_cast<std::uint64_t>(now);
  a.blksize = 4096;
  if (node == kRootId) {
    a.mode = S_IFDIR | 0755;
    a.nlink = 2;
  } else {
    a.mode = S_IFREG | 0600;
    a.nlink = 1;
    a.size = size;
    a.blocks = (size + 511) / 512;
  }
  return a;
}

void reply_attr(const Request& r) {
  fuse_attr_out out{};
  out.attr_valid = kAttrValidSeconds;
  out.attr = attr_of(r.header.nodeid, r.backend.size_bytes());
  r.reply(0, bytes_of(out));
}

bool handle_init(const Request& r) {
  fuse_init_in init{};
  std::memcpy(&init, r.body.data(), std::min(r.body.size(), sizeof init));
  fuse_init_out out{};
  out.major = FUSE_KERNEL_VERSION;
  if (init.major != FUSE_KERNEL_VERSION) {
    // Tell the kernel our major version; it retries or gives up.
    out.minor = FUSE_KERNEL_MINOR_VERSION;
    r.reply(0, std::span(bytes_of(out)).first(8));
    return true;
  }
  out.minor = std::min(init.minor, kMinorWanted);
  out.max_readahead = init.max_readahead;
  const std::uint32_t wanted =
      FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_ASYNC_DIO | FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES;
  out.flags = init.flags & wanted;
  const bool extended = r.body.size() >= sizeof init && (init.flags & FUSE_INIT_EXT) != 0;
  const bool offered = extended && (init.flags2 & kOverIoUring2) != 0;
  if (r.session != nullptr) r.session->kernel_offered = offered;
  if (offered && r.session != nullptr && r.session->offer_uring) {
    out.flags |= FUSE_INIT_EXT;
    out.flags2 = kOverIoUring2;
    r.session->uring = true;
  }
  out.max_background = 64;
  out.congestion_threshold = 48;
  out.max_write = kMaxWrite;
  out.time_gran = 1;
  out.max_pages = static_cast<std::uint16_t>(kMaxWrite / 4096);
  r.reply(0, bytes_of(out));
  if (r.session != nullptr) r.session->initialized = true;
  return true;
}

bool handle_lookup(const Request& r) {
  const char* name = reinterpret_cast<const char*>(r.data.data());
  const std::size_t length = r.data.size();
  if (r.header.nodeid != kRootId || strnlen(name, length) != std::strlen(kFileName) ||
      std::strncmp(name, kFileName, length) != 0) {
    r.reply(ENOENT);
    return true;
  }
  fuse_entry_out out{};
  out.nodeid = kFileId;
  out.generation = 1;
  out.entry_valid = kAttrValidSeconds;
  out.attr_valid = kAttrValidSeconds;
  out.attr = attr_of(kFileId, r.backend.size_bytes());
  r.reply(0, bytes_of(out));
  return true;
}

bool handle_getattr(const Request& r) {
  if (!known_node(r)) {
    r.reply(ENOENT);
  } else {
    reply_attr(r);
  }
  return true;
}

bool handle_setattr(const Request& r) {
  const auto& set = r.args<fuse_setattr_in>();
  if (!known_node(r)) {
    r.reply(EINVAL);
  } else if ((set.valid & FATTR_SIZE) != 0 && set.size != r.backend.size_bytes()) {
    r.reply(EPERM);  // a volume's size is its spec's, not a file's
  } else {
    reply_attr(r);
  }
  return true;
}

bool handle_open(const Request& r) {
  fuse_open_out out{};
  out.fh = r.header.nodeid;
  out.open_flags = FOPEN_DIRECT_IO | FOPEN_PARALLEL_DIRECT_WRITES;
  r.reply(r.header.nodeid != kFileId ? EISDIR : 0, bytes_of(out));
  return true;
}

bool handle_opendir(const Request& r) {
  fuse_open_out out{};
  out.fh = r.header.nodeid;
  r.reply(0, bytes_of(out));
  return true;
}

bool handle_read(const Request& r) {
  const auto& rd = r.args<fuse_read_in>();
  if (r.header.nodeid != kFileId) {
    r.reply(EINVAL);
    return true;
  }
  const std::uint64_t size = r.backend.size_bytes();
  const std::uint64_t length =
      rd.offset >= size ? 0 : std::min<std::uint64_t>(rd.size, size - rd.offset);
  r.scratch.resize(length);
  if (length > 0 && !r.backend.read(rd.offset, std::as_writable_bytes(std::span(r.scratch)))) {
    r.reply(EIO);
  } else {
    r.reply(0, r.scratch);
  }
  return true;
}

bool handle_write(const Request& r) {
  const auto& wr = r.args<fuse_write_in>();
  if (r.header.nodeid != kFileId || r.data.size() < wr.size) {
    r.reply(EINVAL);
    return true;
  }
  const std::uint64_t size = r.backend.size_bytes();
  if (wr.offset >= size || wr.size > size - wr.offset) {
    r.reply(ENOSPC);
    return true;
  }
  auto data = std::as_bytes(r.data.first(wr.size));
  const bool fua = (wr.flags & (O_SYNC | O_DSYNC)) != 0;
  if (auto put = r.backend.write(wr.offset, data, fua); !put) {
    r.reply(errno_for(put.error()));
    return true;
  }
  fuse_write_out out{};
  out.size = wr.size;
  r.reply(0, bytes_of(out));
  return true;
}

// FSYNC and FSYNCDIR: the backend's flush.
bool handle_fsync(const Request& r) {
  if (auto flushed = r.backend.flush(); !flushed) {
    r.reply(errno_for(flushed.error()));
  } else {
    r.reply(0);
  }
  return true;
}

// FLUSH, RELEASE, RELEASEDIR, ACCESS: nothing to do, success.
bool handle_nothing(const Request& r) {
  r.reply(0);
  return true;
}

// Zeroes [offset, offset + length): whole blocks discarded (or written as zeros when a
// discard does not read back as zeros), a partial block at either end written as zeros.
// Returns 0 or the errno of the first failure.
int zero_range(block::BlockBackend& backend, std::uint64_t offset, std::uint64_t length) {
  const std::uint64_t bs = backend.block_size();
  const std::uint64_t first = (offset + bs - 1) / bs * bs;
  const std::uint64_t last = (offset + length) / bs * bs;
  bool ok = true;
  int err = EIO;
  auto note = [&](const Result<void>& r) {
    if (!r && ok) err = errno_for(r.error());
    ok = ok && r.has_value();
  };
  auto zero = [&](std::uint64_t at, std::uint64_t n) {
    if (n == 0 || !ok) return;
    std::vector<std::byte> zeros(n);
    note(backend.write(at, zeros, false));
  };
  if (first >= last) {
    zero(offset, length);
  } else {
    zero(offset, first - offset);
    if (backend.discard_zeroes()) {
      if (ok) note(backend.discard(first, last - first));
    } else {
      for (std::uint64_t at = first; at < last && ok; at += kMaxWrite)
        zero(at, std::min<std::uint64_t>(kMaxWrite, last - at));
    }
    zero(last, offset + length - last);
  }
  return ok ? 0 : err;
}

bool handle_fallocate(const Request& r) {
  const auto& fa = r.args<fuse_fallocate_in>();
  if (r.header.nodeid != kFileId) {
    r.reply(EINVAL);
    return true;
  }
  const std::uint64_t size = r.backend.size_bytes();
  if (fa.offset > size || fa.length > size - fa.offset) {
    r.reply((fa.mode & FALLOC_FL_KEEP_SIZE) != 0 ? EINVAL : EPERM);
  } else if ((fa.mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) != 0) {
    r.reply(zero_range(r.backend, fa.offset, fa.length));
  } else {
    r.reply(fa.mode == 0 || fa.mode == FALLOC_FL_KEEP_SIZE ? 0 : EOPNOTSUPP);
  }
  return true;
}

bool handle_lseek(const Request& r) {
  const auto& sk = r.args<fuse_lseek_in>();
  if (sk.whence != SEEK_DATA && sk.whence != SEEK_HOLE) {
    r.reply(EINVAL);
    return true;
  }
  const std::uint64_t size = r.backend.size_bytes();
  for (std::uint64_t at = sk.offset;;) {
    if (at >= size) {
      if (sk.whence == SEEK_DATA) {
        r.reply(ENXIO);
      } else {
        fuse_lseek_out out{size};
        r.reply(0, bytes_of(out));
      }
      return true;
    }
    auto extent = r.backend.extent_at(at);
    if (!extent) {
      r.reply(EIO);
      return true;
    }
    if (extent->mapped == (sk.whence == SEEK_DATA)) {
      fuse_lseek_out out{at};
      r.reply(0, bytes_of(out));
      return true;
    }
    at = extent->offset + extent->length;
  }
}

bool handle_statfs(const Request& r) {
  fuse_statfs_out out{};
  out.st.bsize = 4096;
  out.st.frsize = 4096;
  out.st.blocks = r.backend.size_bytes() / 4096;
  out.st.files = 1;
  out.st.namelen = 255;
  r.reply(0, bytes_of(out));
  return true;
}

// Appends one directory entry to `out` unless it would pass `limit` bytes.
void add_dirent(std::vector<std::uint8_t>& out, std::size_t limit, std::uint64_t ino,
                std::uint64_t off, const char* name, std::uint32_t type) {
  const std::size_t name_len = std::strlen(name);
  const std::size_t record = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + name_len);
  if (out.size() + record > limit) return;
  const std::size_t at = out.size();
  out.resize(at + record, 0);
  auto* d = reinterpret_cast<fuse_dirent*>(out.data() + at);
  d->ino = ino;
  d->off = off;
  d->namelen = static_cast<std::uint32_t>(name_len);
  d->type = type;
  std::memcpy(out.data() + at + FUSE_NAME_OFFSET, name, name_len);
}

bool handle_readdir(const Request& r) {
  const auto& rd = r.args<fuse_read_in>();
  if (r.header.nodeid != kRootId) {
    r.reply(ENOTDIR);
    return true;
  }
  r.scratch.clear();
  if (rd.offset < 1) add_dirent(r.scratch, rd.size, kRootId, 1, ".", S_IFDIR >> 12);
  if (rd.offset < 2) add_dirent(r.scratch, rd.size, kRootId, 2, "..", S_IFDIR >> 12);
  if (rd.offset < 3) add_dirent(r.scratch, rd.size, kFileId, 3, kFileName, S_IFREG >> 12);
  r.reply(0, r.scratch);
  return true;
}

// FORGET, BATCH_FORGET, INTERRUPT: no answer expected.
bool handle_silently(const Request&) {
  return true;
}

bool handle_destroy(const Request& r) {
  r.reply(0);
  return false;
}

// In opcode order (find_opcode searches it by halves).
constexpr OpcodeInfo kTable[] = {
    {FUSE_LOOKUP, handle_lookup, 0, EINVAL, "LOOKUP"},
    {FUSE_FORGET, handle_silently, 0, EINVAL, "FORGET"},
    {FUSE_GETATTR, handle_getattr, 0, EINVAL, "GETATTR"},
    {FUSE_SETATTR, handle_setattr, sizeof(fuse_setattr_in), EINVAL, "SETATTR"},
    {FUSE_OPEN, handle_open, 0, EINVAL, "OPEN"},
    {FUSE_READ, handle_read, sizeof(fuse_read_in), EINVAL, "READ"},
    {FUSE_WRITE, handle_write, sizeof(fuse_write_in), EINVAL, "WRITE"},
    {FUSE_STATFS, handle_statfs, 0, EINVAL, "STATFS"},
    {FUSE_RELEASE, handle_nothing, 0, EINVAL, "RELEASE"},
    {FUSE_FSYNC, handle_fsync, 0, EINVAL, "FSYNC"},
    {FUSE_FLUSH, handle_nothing, 0, EINVAL, "FLUSH"},
    {FUSE_INIT, handle_init, kCompatInitIn, EINVAL, "INIT"},
    {FUSE_OPENDIR, handle_opendir, 0, EINVAL, "OPENDIR"},
    {FUSE_READDIR, handle_readdir, sizeof(fuse_read_in), ENOTDIR, "READDIR"},
    {FUSE_RELEASEDIR, handle_nothing, 0, EINVAL, "RELEASEDIR"},
    {FUSE_FSYNCDIR, handle_fsync, 0, EINVAL, "FSYNCDIR"},
    {FUSE_ACCESS, handle_nothing, 0, EINVAL, "ACCESS"},
    {FUSE_INTERRUPT, handle_silently, 0, EINVAL, "INTERRUPT"},
    {FUSE_DESTROY, handle_destroy, 0, EINVAL, "DESTROY"},
    {FUSE_BATCH_FORGET, handle_silently, 0, EINVAL, "BATCH_FORGET"},
    {FUSE_FALLOCATE, handle_fallocate, sizeof(fuse_fallocate_in), EINVAL, "FALLOCATE"},
    {FUSE_LSEEK, handle_lseek, sizeof(fuse_lseek_in), EINVAL, "LSEEK"},
};

constexpr bool in_opcode_order() {
  for (std::size_t i = 1; i < std::size(kTable); ++i)
    if (kTable[i - 1].opcode >= kTable[i].opcode) return false;
  return true;
}
static_assert(in_opcode_order(), "kTable must be sorted by opcode, each opcode once");

}  // namespace

void Request::reply(int error, std::span<const std::uint8_t> payload) const {
  fuse_out_header out{};
  out.len = static_cast<std::uint32_t>(sizeof out + (error == 0 ? payload.size() : 0));
  out.error = -error;
  out.unique = header.unique;
  iovec iov[2] = {{&out, sizeof out}, {}};
  std::size_t count = 1;
  if (error == 0 && !payload.empty())
    iov[count++] = {const_cast<std::uint8_t*>(payload.data()), payload.size()};
  // ENOENT: the request was interrupted and is gone; nothing to do about it.
  if (const int failed = sink.send(std::span(iov, count)); failed != 0 && failed != ENOENT)
    log::warn(std::string("fuse: cannot answer a request: ") + errno_text(failed));
}

int write_message(int fd, std::span<const iovec> parts) {
  for (;;) {
    if (::writev(fd, parts.data(), static_cast<int>(parts.size())) >= 0) return 0;
    if (errno != EINTR) return errno;
  }
}

Result<void> notify_inval_inode(int fd, std::uint64_t node) {
  fuse_notify_inval_inode_out inval{};
  inval.ino = node;
  inval.off = 0;  // from the start; a length of 0 means to the end of the file
  inval.len = 0;
  fuse_out_header out{};
  out.len = static_cast<std::uint32_t>(sizeof out + sizeof inval);
  out.error = FUSE_NOTIFY_INVAL_INODE;  // a notification: its code in `error`, unique 0
  out.unique = 0;
  const iovec iov[2] = {{&out, sizeof out}, {&inval, sizeof inval}};
  const int failed = write_message(fd, iov);
  if (failed != 0 && failed != ENOENT)
    return fail_errno("fuse: telling the kernel that the volume's file changed", failed);
  return {};
}

std::span<const OpcodeInfo> opcode_table() {
  return kTable;
}

const OpcodeInfo* find_opcode(std::uint32_t opcode) {
  auto it =
      std::lower_bound(std::begin(kTable), std::end(kTable), opcode,
                       [](const OpcodeInfo& info, std::uint32_t op) { return info.opcode < op; });
  return it != std::end(kTable) && it->opcode == opcode ? it : nullptr;
}

bool dispatch(ReplySink& sink, std::span<std::uint8_t> request, block::BlockBackend& backend,
              std::vector<std::uint8_t>& scratch, Session* session) {
  if (request.size() < sizeof(fuse_in_header)) return true;
  const auto& header = *reinterpret_cast<const fuse_in_header*>(request.data());
  auto body = request.subspan(sizeof(fuse_in_header));
  const OpcodeInfo* info = find_opcode(header.opcode);
  // The argument struct first, what follows it (WRITE's bytes, LOOKUP's name) as `data`.
  const std::size_t split = info != nullptr ? std::min(info->min_body, body.size()) : 0;
  return dispatch_parts(sink, header, body, body.subspan(split), backend, scratch, session);
}

bool dispatch_parts(ReplySink& sink, const fuse_in_header& header, std::span<std::uint8_t> args,
                    std::span<std::uint8_t> data, block::BlockBackend& backend,
                    std::vector<std::uint8_t>& scratch, Session* session) {
  const Request r{sink, header, args, data, backend, scratch, session};
  const OpcodeInfo* info = find_opcode(header.opcode);
  if (info == nullptr) {
    r.reply(ENOSYS);
    return true;
  }
  if (r.body.size() < info->min_body) {
    r.reply(info->short_error);
    return true;
  }
  return info->handler(r);
}

}  // namespace maya::jiva::fuse
