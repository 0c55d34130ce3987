#include "hv/virtio/block.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <span>

namespace hv::virtio {

namespace {

// Request types and status values (§5.2.6).
constexpr std::uint32_t kIn = 0, kOut = 1, kFlush = 4, kGetId = 8, kDiscard = 11, kWriteZeroes = 13;
constexpr std::uint8_t kOk = 0, kIoError = 1, kUnsupported = 2;
constexpr std::uint32_t kIdBytes = 20;
// Feature bits (§5.2.3).
constexpr std::uint64_t kSizeMaxFeature = 1ULL << 1, kSegMaxFeature = 1ULL << 2, kReadOnlyFeature = 1ULL << 5,
                        kFlushFeature = 1ULL << 9, kDiscardFeature = 1ULL << 13, kWriteZeroesFeature = 1ULL << 14;
constexpr std::size_t kChunk = std::size_t{64} * 1024;

struct RequestHeader {
  std::uint32_t type;
  std::uint32_t reserved;
  std::uint64_t sector;
};
struct DiscardSegment {
  std::uint64_t sector;
  std::uint32_t sectors;
  std::uint32_t flags;  // bit 0: unmap (write-zeroes)
};
static_assert(sizeof(RequestHeader) == 16 && sizeof(DiscardSegment) == 16);

// Reads a trivially copyable struct from the chain's readable stream.
template <class T>
bool read_struct(const ChainIo& io, std::uint64_t offset, T& out) {
  std::array<std::uint8_t, sizeof(T)> bytes{};
  if (!io.read(offset, bytes)) return false;
  std::memcpy(&out, bytes.data(), sizeof(T));
  return true;
}

bool full_pwrite(int fd, std::span<const std::uint8_t> data, std::uint64_t offset) {
  while (!data.empty()) {
    const ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data = data.subspan(static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
  }
  return true;
}

bool full_pread(int fd, std::span<std::uint8_t> data, std::uint64_t offset) {
  while (!data.empty()) {
    const ssize_t n = ::pread(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;  // the file shrank under us: an I/O error, not stale data
    data = data.subspan(static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
  }
  return true;
}

}  // namespace

Result<std::shared_ptr<BlockDevice>> BlockDevice::open(const std::string& path, bool read_only) {
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): open(2) is variadic in C; no mode without O_CREAT.
  const int fd = ::open(path.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  if (fd < 0) return fail_errno("open " + path, errno);
  UniqueFd file(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail_errno("fstat " + path, errno);
  if (!S_ISREG(st.st_mode)) return fail(ErrorKind::InvalidArgument, "virtio-blk", path + " is not a regular file");
  // The serial number the guest reads with GET_ID: the file name, at most 20 bytes.
  std::string id = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
  if (id.size() > kIdBytes) id.resize(kIdBytes);
  return std::shared_ptr<BlockDevice>(
      new BlockDevice(std::move(file), read_only, static_cast<std::uint64_t>(st.st_size) / kSectorSize, std::move(id)));
}

std::uint64_t BlockDevice::features() const noexcept {
  return kSizeMaxFeature | kSegMaxFeature | kFlushFeature | kDiscardFeature | kWriteZeroesFeature |
         (read_only_ ? kReadOnlyFeature : 0);
}

void BlockDevice::read_config(std::uint64_t offset, std::span<std::uint8_t> data) {
  // struct virtio_blk_config (§5.2.4), the fields this device offers; the rest reads as zero.
  std::array<std::uint8_t, 60> config{};
  const auto put32 = [&](std::size_t at, std::uint32_t v) { std::memcpy(config.data() + at, &v, 4); };
  std::memcpy(config.data(), &capacity_, 8);
  put32(8, kSizeMax);
  put32(12, kSegmentMax);
  put32(20, kSectorSize);          // blk_size
  put32(36, kMaxDiscardSectors);   // max_discard_sectors
  put32(40, kMaxDiscardSegments);  // max_discard_seg
  put32(44, 1);                    // discard_sector_alignment
  put32(48, kMaxDiscardSectors);   // max_write_zeroes_sectors
  put32(52, kMaxDiscardSegments);  // max_write_zeroes_seg
  std::fill(data.begin(), data.end(), std::uint8_t{0});
  if (offset >= config.size()) return;
  const std::size_t n = std::min<std::size_t>(data.size(), config.size() - offset);
  std::memcpy(data.data(), config.data() + offset, n);
}

Result<void> BlockDevice::activate(const GuestMemory& memory, std::uint64_t features,
                                   std::vector<std::pair<std::uint16_t, Queue>> queues, DeviceSignals signals) {
  std::lock_guard lock(mutex_);
  write_cache_visible_ = (features & kFlushFeature) != 0;
  if (queues.size() != 1 || queues.front().first != 0) {
    return fail(ErrorKind::InvalidArgument, "virtio-blk activate", "the request queue (0) must be ready");
  }
  memory_ = &memory;
  queue_.emplace(queues.front().second);
  signals_ = std::move(signals);
  broken_ = false;
  return {};
}

std::uint8_t BlockDevice::read_sectors(const ChainIo& io, std::uint64_t sector, std::uint64_t bytes,
                                       std::uint32_t& written) {
  // Not zeroed: every byte used is first filled by pread or from guest memory; zeroing 64 KiB per
  // request would be pure cost. NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init)
  std::array<std::uint8_t, kChunk> buffer;
  for (std::uint64_t done = 0; done < bytes;) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, bytes - done));
    if (!full_pread(file_.get(), std::span(buffer).first(n), sector * kSectorSize + done)) return kIoError;
    if (!io.write(done, std::span(buffer).first(n))) return kIoError;  // memory changed under the request
    done += n;
    written = static_cast<std::uint32_t>(done);
  }
  return kOk;
}

std::uint8_t BlockDevice::write_sectors(const ChainIo& io, std::uint64_t sector, std::uint64_t bytes) {
  // Not zeroed: every byte used is first filled by pread or from guest memory; zeroing 64 KiB per
  // request would be pure cost. NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init)
  std::array<std::uint8_t, kChunk> buffer;
  for (std::uint64_t done = 0; done < bytes;) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, bytes - done));
    if (!io.read(sizeof(RequestHeader) + done, std::span(buffer).first(n))) return kIoError;
    if (!full_pwrite(file_.get(), std::span(buffer).first(n), sector * kSectorSize + done)) return kIoError;
    done += n;
  }
  return kOk;
}

std::uint8_t BlockDevice::discard_or_zero(const ChainIo& io, bool zero) {
  if (read_only_) return kIoError;
  const std::uint64_t payload = io.readable() - sizeof(RequestHeader);
  if (payload == 0 || payload % sizeof(DiscardSegment) != 0 || payload / sizeof(DiscardSegment) > kMaxDiscardSegments)
    return kUnsupported;
  for (std::uint64_t i = 0; i < payload / sizeof(DiscardSegment); ++i) {
    DiscardSegment s{};
    if (!read_struct(io, sizeof(RequestHeader) + i * sizeof s, s)) return kIoError;
    // Unknown flags, and "unmap" on a discard, are UNSUPP (§5.2.6.2).
    if ((s.flags & ~1U) != 0 || (!zero && (s.flags & 1U) != 0)) return kUnsupported;
    if (s.sectors > kMaxDiscardSectors || !in_range(s.sector, s.sectors)) return kIoError;
    const auto offset = static_cast<off_t>(s.sector * kSectorSize);
    const auto length = static_cast<off_t>(std::uint64_t{s.sectors} * kSectorSize);
    if (zero) {
      // Zeroes must read back as zeroes: ZERO_RANGE, or written zeroes where the filesystem lacks it.
      if (::fallocate(file_.get(), FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset, length) != 0) {
        static const std::array<std::uint8_t, kChunk> zeros{};
        for (off_t done = 0; done < length;) {
          const auto n = static_cast<std::size_t>(std::min<off_t>(static_cast<off_t>(kChunk), length - done));
          if (!full_pwrite(file_.get(), std::span(zeros).first(n), static_cast<std::uint64_t>(offset + done)))
            return kIoError;
          done += static_cast<off_t>(n);
        }
      }
    } else {
      // Discard is a hint (§5.2.6): a filesystem without hole punching still completes it.
      (void)::fallocate(file_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
    }
  }
  return kOk;
}

std::uint32_t BlockDevice::handle(const GuestMemory& memory, const DescriptorChain& chain) {
  const ChainIo io(memory, chain);
  // The status byte is the last writable byte; without one the request cannot even be answered.
  if (io.writable() == 0) return 0;
  const std::uint64_t status_at = io.writable() - 1;
  std::uint32_t written = 0;
  std::uint8_t status = kIoError;
  RequestHeader header{};
  if (io.readable() >= sizeof header && read_struct(io, 0, header)) {
    const std::uint64_t in_bytes = status_at;                       // writable bytes before the status
    const std::uint64_t out_bytes = io.readable() - sizeof header;  // readable bytes after the header
    switch (header.type) {
      case kIn:
        if (in_bytes % kSectorSize != 0 || in_bytes > kMaxRequestBytes ||
            !in_range(header.sector, in_bytes / kSectorSize))
          break;
        status = read_sectors(io, header.sector, in_bytes, written);
        break;
      case kOut:
        if (read_only_ || out_bytes % kSectorSize != 0 || out_bytes > kMaxRequestBytes ||
            !in_range(header.sector, out_bytes / kSectorSize)) {
          break;
        }
        status = write_sectors(io, header.sector, out_bytes);
        break;
      case kFlush: status = read_only_ || ::fdatasync(file_.get()) == 0 ? kOk : kIoError; break;
      case kGetId: {
        std::array<std::uint8_t, kIdBytes> id{};
        std::memcpy(id.data(), id_.data(), id_.size());
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kIdBytes, in_bytes));
        if (io.write(0, std::span(id).first(n))) {
          written = static_cast<std::uint32_t>(n);
          status = kOk;
        }
        break;
      }
      case kDiscard: status = discard_or_zero(io, false); break;
      case kWriteZeroes: status = discard_or_zero(io, true); break;
      default: status = kUnsupported; break;
    }
    // A driver that did not accept FLUSH may treat every completed write as stable (§5.2.6.2).
    const bool wrote = header.type == kOut || header.type == kDiscard || header.type == kWriteZeroes;
    if (wrote && status == kOk && !write_cache_visible_ && ::fdatasync(file_.get()) != 0) status = kIoError;
  }
  if (!io.write(status_at, std::span(&status, 1))) return written;
  return written + 1;
}

void BlockDevice::notify(std::uint16_t index) {
  std::lock_guard lock(mutex_);
  if (index != 0 || !queue_ || broken_) return;
  // A queue's worth per notification; the driver notifies again for more. A broken queue stops the
  // device until reset.
  if (!serve_and_signal(*queue_, queue_max_size(), signals_,
                        [this](const DescriptorChain& chain) { return handle(*memory_, chain); })) {
    broken_ = true;
  }
}

void BlockDevice::reset() {
  std::lock_guard lock(mutex_);
  queue_.reset();
  memory_ = nullptr;
  signals_ = {};
  broken_ = false;
}

bool BlockDevice::broken() const {
  std::lock_guard lock(mutex_);
  return broken_;
}

}  // namespace hv::virtio
