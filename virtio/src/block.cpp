#include "hv/virtio/block.hpp"
#include "hv/virtio/file_scatter.hpp"
#include "aligned_buffer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <climits>
#include <cstring>
#include <span>
#include <string>
#include <system_error>

namespace hv::virtio {

namespace {

// Request types and status values (§5.2.6).
constexpr std::uint32_t kIn = 0, kOut = 1, kFlush = 4, kGetId = 8, kDiscard = 11, kWriteZeroes = 13;
constexpr std::uint8_t kOk = 0, kIoError = 1, kUnsupported = 2;
constexpr std::uint8_t kAbandoned = 0xff;  // internal: a reset stopped the request
// Feature bits (§5.2.3).
constexpr std::uint64_t kSizeMaxFeature = 1ULL << 1, kSegMaxFeature = 1ULL << 2, kReadOnlyFeature = 1ULL << 5,
                        kBlkSizeFeature = 1ULL << 6, kFlushFeature = 1ULL << 9, kMultiqueueFeature = 1ULL << 12,
                        kDiscardFeature = 1ULL << 13, kWriteZeroesFeature = 1ULL << 14;
constexpr std::uint32_t kUnmap = 1;                     // write-zeroes segment flag (§5.2.6)
constexpr std::size_t kChunk = std::size_t{64} * 1024;  // written zeroes, where fallocate cannot
// IN and OUT data go straight between guest memory and the file, one preadv/pwritev per batch of at
// most kBatchSegments buffer pieces and kBatchBytes bytes: the iovec array stays on the stack, and a
// reset is seen between batches (a 128 MiB request stops within 1 MiB).
constexpr std::size_t kBatchSegments = 256;
static_assert(kBatchSegments <= IOV_MAX);
constexpr std::uint64_t kBatchBytes = std::uint64_t{1} << 20;

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
static_assert(std::uint64_t{BlockDevice::kMaxDiscardSegments} * BlockDevice::kMaxWriteZeroesSectors *
                  BlockDevice::kSectorSize ==
              BlockDevice::kMaxRequestBytes);

// Reads a trivially copyable struct from the chain's readable stream.
template <class T>
bool read_struct(ChainIo& io, std::uint64_t offset, T& out) {
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

ssize_t preadv_at(int fd, const iovec* iov, int count, off_t offset) { return ::preadv(fd, iov, count, offset); }
ssize_t pwritev_at(int fd, const iovec* iov, int count, off_t offset) { return ::pwritev(fd, iov, count, offset); }

bool fallocate_ok(int fd, int mode, std::uint64_t offset, std::uint64_t length) {
  return ::fallocate(fd, mode, static_cast<off_t>(offset), static_cast<off_t>(length)) == 0;
}

// NOLINTBEGIN(cppcoreguidelines-pro-type-vararg): open(2) and fcntl(2) are variadic in C.
int open_file(const std::string& path, int flags) { return ::open(path.c_str(), flags); }
int set_flags(int fd, int flags) { return ::fcntl(fd, F_SETFL, flags); }
int get_flags(int fd) { return ::fcntl(fd, F_GETFL); }
int ofd_lock(int fd, struct flock& lock) { return ::fcntl(fd, F_OFD_SETLK, &lock); }
// NOLINTEND(cppcoreguidelines-pro-type-vararg)

// The memory and offset alignments direct I/O on `fd` needs (statx STATX_DIOALIGN), or `fallback` for
// both where the file system does not report them (tmpfs, before it learns to).
std::pair<std::uint32_t, std::uint32_t> direct_alignment(int fd, std::uint32_t fallback) {
  struct statx sx {};
  if (::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) != 0 || (sx.stx_mask & STATX_DIOALIGN) == 0 ||
      sx.stx_dio_mem_align == 0 || sx.stx_dio_offset_align == 0) {
    return {fallback, fallback};
  }
  return {sx.stx_dio_mem_align, sx.stx_dio_offset_align};
}

bool power_of_two_at_most(std::uint32_t value, std::uint32_t max) {
  return value != 0 && (value & (value - 1)) == 0 && value <= max;
}

}  // namespace

BlockDevice::BlockDevice(UniqueFd file, const BlockOptions& options, std::uint64_t capacity, DirectAlignment alignment)
    : file_(std::move(file)),
      read_only_(options.read_only),
      capacity_(capacity),
      queue_depth_(options.queue_depth),
      dio_memory_align_(alignment.memory),
      dio_offset_align_(alignment.offset) {
  std::copy(options.serial.begin(), options.serial.end(), id_.begin());
  for (std::uint16_t i = 0; i < options.num_queues; ++i) lanes_.push_back(std::make_unique<Lane>());
}

Result<std::shared_ptr<BlockDevice>> BlockDevice::open(const std::string& path, const BlockOptions& options) {
  constexpr const char* op = "virtio-blk";
  if (options.serial.size() > kSerialBytes ||
      !std::all_of(options.serial.begin(), options.serial.end(), [](char c) { return c >= 0x20 && c <= 0x7e; })) {
    return fail(ErrorKind::InvalidArgument, op, "the serial must be at most 20 printable ASCII characters");
  }
  if (options.num_queues == 0 || options.num_queues > kMaxQueues) {
    return fail(ErrorKind::InvalidArgument, op, "the queue count must be 1 to " + std::to_string(kMaxQueues));
  }
  if (options.queue_depth == 0 || options.queue_depth > kMaxQueueDepth) {
    return fail(ErrorKind::InvalidArgument, op, "the queue depth must be 1 to " + std::to_string(kMaxQueueDepth));
  }
  // The file type first, from a path descriptor: opening a FIFO would wait for a writer, and opening a
  // device runs its driver (a watchdog, a tape). Only a regular file is ever opened for I/O.
  const UniqueFd where(open_file(path, O_PATH | O_CLOEXEC));
  if (!where) return fail_errno("open " + path, errno);
  struct stat before {};
  if (::fstat(where.get(), &before) != 0) return fail_errno("fstat " + path, errno);
  if (!S_ISREG(before.st_mode)) return fail(ErrorKind::InvalidArgument, op, path + " is not a regular file");
  // O_NONBLOCK and the identity check: if the path was swapped for a FIFO meanwhile, the open does not
  // wait and the file is refused.
  UniqueFd file(open_file(path, (options.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
                                    (options.direct ? O_DIRECT : 0)));
  if (!file && options.direct && errno == EINVAL) {
    return fail(ErrorKind::InvalidArgument, op, "the file system of " + path + " does not support O_DIRECT (direct)");
  }
  if (!file) return fail_errno("open " + path, errno);
  struct stat st {};
  if (::fstat(file.get(), &st) != 0) return fail_errno("fstat " + path, errno);
  if (!S_ISREG(st.st_mode) || st.st_dev != before.st_dev || st.st_ino != before.st_ino) {
    return fail(ErrorKind::InvalidArgument, op, path + " changed while it was opened");
  }
  const int flags = get_flags(file.get());
  if (flags < 0 || set_flags(file.get(), flags & ~O_NONBLOCK) != 0) return fail_errno("fcntl " + path, errno);
  // One writer per image, or any number of readers: an open-file-description lock, so two devices in
  // this process conflict as two processes do. It goes with the descriptor.
  DirectAlignment alignment;
  if (options.direct) {
    const auto [memory, offset] = direct_alignment(file.get(), kMaxDirectAlignment);
    if (!power_of_two_at_most(memory, kMaxDirectAlignment) || !power_of_two_at_most(offset, kMaxDirectAlignment)) {
      return fail(ErrorKind::InvalidArgument, op,
                  path + ": direct I/O needs an alignment (memory " + std::to_string(memory) + ", offset " +
                      std::to_string(offset) + ") above " + std::to_string(kMaxDirectAlignment));
    }
    // Sectors are the unit of every request: a smaller offset alignment is met by all of them.
    alignment = {memory, std::max(offset, kSectorSize)};
  }
  struct flock lock {};
  lock.l_type = options.read_only ? F_RDLCK : F_WRLCK;
  lock.l_whence = SEEK_SET;
  lock.l_start = 0;
  lock.l_len = 0;  // the whole file, however it grows
  if (ofd_lock(file.get(), lock) != 0) {
    if (errno == EAGAIN || errno == EACCES) {
      return fail(ErrorKind::Busy, op,
                  path + " is in use: another disk, in this process or another, holds a conflicting lock on it");
    }
    return fail_errno("lock " + path, errno);
  }
  return std::shared_ptr<BlockDevice>(
      new BlockDevice(std::move(file), options, static_cast<std::uint64_t>(st.st_size) / kSectorSize, alignment));
}

BlockDevice::~BlockDevice() {
  abandon_ = true;
  for (auto& lane : lanes_) {
    {
      std::lock_guard lock(lane->mutex);
      lane->exiting = true;
    }
    lane->wake.notify_all();
  }
  for (auto& lane : lanes_) {
    for (auto& worker : lane->workers) {
      if (worker.joinable()) worker.join();
    }
  }
}

std::vector<std::unique_lock<std::mutex>> BlockDevice::drain_all_lanes() {
  std::vector<std::unique_lock<std::mutex>> locks;
  locks.reserve(lanes_.size());
  for (auto& lane : lanes_) {
    std::unique_lock lock(lane->mutex);
    lane->draining = true;  // released by the caller: the lane takes nothing new until then
    lane->drained.wait(lock, [&lane] { return lane->in_flight == 0; });
    locks.push_back(std::move(lock));
  }
  return locks;
}

std::uint64_t BlockDevice::features() const noexcept {
  return kSizeMaxFeature | kSegMaxFeature | kFlushFeature | kDiscardFeature | kWriteZeroesFeature |
         (read_only_ ? kReadOnlyFeature : 0) | (lanes_.size() > 1 ? kMultiqueueFeature : 0) |
         (dio_offset_align_ > kSectorSize ? kBlkSizeFeature : 0);
}

void BlockDevice::read_config(std::uint64_t offset, std::span<std::uint8_t> data) {
  // struct virtio_blk_config (§5.2.4), the fields this device offers; the rest reads as zero.
  std::array<std::uint8_t, 60> config{};
  const auto put32 = [&](std::size_t at, std::uint32_t v) { std::memcpy(config.data() + at, &v, 4); };
  std::memcpy(config.data(), &capacity_, 8);
  put32(8, kSizeMax);
  put32(12, kSegmentMax);
  // blk_size: with direct I/O that needs more than a sector, the unit the driver must keep to.
  put32(20, std::max(dio_offset_align_, kSectorSize));
  const auto queues = static_cast<std::uint16_t>(lanes_.size());
  std::memcpy(config.data() + 34, &queues, 2);  // num_queues (read by a driver with VIRTIO_BLK_F_MQ)
  put32(36, kMaxDiscardSectors);                // max_discard_sectors
  put32(40, kMaxDiscardSegments);               // max_discard_seg
  put32(44, 1);                                 // discard_sector_alignment
  put32(48, kMaxWriteZeroesSectors);            // max_write_zeroes_sectors
  put32(52, kMaxDiscardSegments);               // max_write_zeroes_seg
  config[56] = 1;                               // write_zeroes_may_unmap: with "unmap", write-zeroes punches a hole
  std::fill(data.begin(), data.end(), std::uint8_t{0});
  if (offset >= config.size()) return;
  const std::size_t n = std::min<std::size_t>(data.size(), config.size() - offset);
  std::memcpy(data.data(), config.data() + offset, n);
}

Result<void> BlockDevice::activate(std::shared_ptr<const GuestMemory> memory, std::uint64_t features,
                                   std::vector<std::pair<std::uint16_t, Queue>> queues, DeviceSignals signals) {
  constexpr const char* op = "virtio-blk activate";
  auto locks = drain_all_lanes();
  const auto release = [&] {
    for (auto& lane : lanes_) {
      lane->draining = false;
      lane->wake.notify_all();  // a notification that came while the lane drained
    }
  };
  if (!memory) {
    release();
    return fail(ErrorKind::InvalidArgument, op, "no guest memory");
  }
  if (queues.empty()) {
    release();
    return fail(ErrorKind::ProtocolViolation, op, "no request queue is ready");
  }
  std::vector<bool> seen(lanes_.size(), false);
  for (const auto& entry : queues) {
    if (entry.first >= lanes_.size() || seen[entry.first]) {
      release();
      return fail(ErrorKind::ProtocolViolation, op,
                  "queue " + std::to_string(entry.first) + " is not a request queue of this device, or given twice");
    }
    seen[entry.first] = true;
  }
  for (const auto& entry : queues) {
    Lane& lane = *lanes_[entry.first];
    // Started here, on the thread that activates (a vhost-user daemon's control thread, already
    // confined: the workers inherit its seccomp filter), and only once per queue.
    while (lane.workers.size() < queue_depth_) {
      try {
        lane.workers.emplace_back([this, &lane, index = entry.first] { work(lane, index); });
      } catch (const std::system_error& e) {
        release();
        return fail(ErrorKind::ResourceExhausted, op, std::string("cannot start a worker thread: ") + e.what());
      }
    }
  }
  write_cache_visible_ = (features & kFlushFeature) != 0;
  memory_ = std::move(memory);
  for (auto& lane : lanes_) lane->queue.reset();
  for (auto& entry : queues) lanes_[entry.first]->queue.emplace(entry.second);
  signals_ = std::move(signals);
  broken_ = false;
  release();
  return {};
}

void BlockDevice::notify(std::uint16_t index) {
  if (index >= lanes_.size()) return;
  {
    std::lock_guard lock(stats_mutex_);
    ++stats_.notifications;
  }
  Lane& lane = *lanes_[index];
  {
    std::lock_guard lock(lane.mutex);
    lane.kicked = true;
  }
  lane.wake.notify_one();
}

void BlockDevice::reset() {
  abandon_ = true;  // the requests in progress stop at their next batch, so the drain below ends soon
  {
    const auto locks = drain_all_lanes();
    for (auto& lane : lanes_) {
      lane->queue.reset();
      lane->kicked = false;  // what was notified belonged to the queue that is gone
      lane->draining = false;
    }
    memory_ = nullptr;
    signals_ = {};
    broken_ = false;
    abandon_ = false;  // no request is in flight and none can be taken (no queue)
  }
}

Result<std::vector<std::pair<std::uint16_t, Queue>>> BlockDevice::stop() {
  std::vector<std::pair<std::uint16_t, Queue>> queues;
  // Once every lane is drained, nothing taken is outstanding: every request in flight completed and
  // was used (unlike reset(), abandon_ stays clear).
  const auto locks = drain_all_lanes();
  for (std::size_t i = 0; i < lanes_.size(); ++i) {
    Lane& lane = *lanes_[i];
    if (lane.queue) queues.emplace_back(static_cast<std::uint16_t>(i), *lane.queue);
    lane.queue.reset();
    lane.kicked = false;  // what was notified stays available in the returned queue, for whoever reactivates it
    lane.draining = false;
  }
  memory_ = nullptr;
  signals_ = {};
  broken_ = false;
  return queues;
}

void BlockDevice::work(Lane& lane, std::uint16_t index) {
  DescriptorChain request;  // this worker's one request: popped into, so its storage is reused
  AlignedBuffer bounce(kBatchBytes, kMaxDirectAlignment);  // direct I/O of unaligned buffers, on first use
  std::unique_lock lock(lane.mutex);
  for (;;) {
    lane.wake.wait(lock, [&] { return lane.exiting || (lane.kicked && !lane.draining && lane.queue && !broken_); });
    if (lane.exiting) return;
    Queue& queue = *lane.queue;
    const GuestMemory& memory = *memory_;
    auto taken = queue.pop_into(memory, request);
    if (!taken) {
      // The driver broke the queue protocol: the device stops until it is reset.
      broken_ = true;
      lane.kicked = false;
      signals_.broken();
      continue;
    }
    if (!*taken) {
      lane.kicked = false;  // the ring is empty (with EVENT_IDX, pop_into asked for the next notification)
      continue;
    }
    ++lane.in_flight;
    const std::uint32_t in_flight = lane.in_flight;
    // More in the ring: another worker takes it while this one works (an error shows at its pop).
    if (auto more = queue.more_available(memory); !more || *more) lane.wake.notify_one();
    lock.unlock();
    const Outcome outcome = execute(memory, request, bounce);
    bool wanted = false;
    lock.lock();
    if (!outcome.abandoned) {
      if (auto r = queue.add_used(memory, request, outcome.written); !r) {
        broken_ = true;
        lane.kicked = false;
        signals_.broken();
      } else {
        auto w = queue.should_notify(memory);
        wanted = w && *w;
      }
    }
    if (wanted) {
      // The interrupt outside the lock: the ring is published, and the request still counts as in
      // flight, so no reset or stop can take the signals away meanwhile.
      lock.unlock();
      if (signals_.used_buffers) signals_.used_buffers(index);
      lock.lock();
    }
    record(!outcome.abandoned, in_flight);
    if (--lane.in_flight == 0) lane.drained.notify_all();
  }
}

void BlockDevice::record(bool used, std::uint32_t in_flight) {
  std::lock_guard lock(stats_mutex_);
  if (used) {
    ++stats_.requests;
  } else {
    ++stats_.abandoned;
  }
  stats_.max_in_flight = std::max(stats_.max_in_flight, in_flight);
}

void BlockDevice::count_bounce() {
  std::lock_guard lock(stats_mutex_);
  ++stats_.bounced;
}

bool BlockDevice::direct_ready(std::span<const iovec> pieces, std::uint64_t total) const noexcept {
  if (dio_memory_align_ == 0) return true;
  // Each piece's address at the memory alignment and its length, like the batch's, a multiple of the
  // offset alignment: what the block layer checks of every segment of a direct I/O.
  const std::uint64_t length_unit = std::max(dio_memory_align_, dio_offset_align_);
  if (total % dio_offset_align_ != 0) return false;
  return std::all_of(pieces.begin(), pieces.end(), [&](const iovec& piece) {
    return std::bit_cast<std::uintptr_t>(piece.iov_base) % dio_memory_align_ == 0 && piece.iov_len % length_unit == 0;
  });
  return true;
}

BlockDevice::Stats BlockDevice::stats() const {
  std::lock_guard lock(stats_mutex_);
  return stats_;
}

std::uint8_t BlockDevice::read_sectors(ChainIo& io, std::uint64_t sector, std::uint64_t bytes, std::uint32_t& written,
                                       AlignedBuffer& bounce) {
  // Each element is set before it is used. NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init)
  std::array<GuestSegment, kBatchSegments> segments;
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init): likewise
  std::array<iovec, kBatchSegments> iov;
  const int fd = file_.get();
  for (std::uint64_t done = 0; done < bytes;) {
    if (abandon_.load(std::memory_order_relaxed)) return kAbandoned;
    // The checks of ChainIo::write: the range inside the chain, each piece inside one writable region.
    const std::uint64_t want = std::min(kBatchBytes, bytes - done);
    auto count = io.writable_views(done, want, segments);
    if (!count || *count == 0) return kIoError;  // memory changed under the request
    std::uint64_t batch = 0;
    for (std::size_t i = 0; i < *count; ++i) {
      iov.at(i) = iovec{segments.at(i).host.data(), segments.at(i).host.size()};
      batch += segments.at(i).host.size();
    }
    if (!direct_ready(std::span(iov).first(*count), batch)) {
      // Direct I/O cannot take these buffers: the whole batch (a multiple of the offset alignment)
      // into the aligned bounce buffer, then copied to the chain with ChainIo::write's checks.
      const std::span<std::uint8_t> buffer = bounce.get();
      if (buffer.size() < want) return kIoError;
      std::array<iovec, 1> one{iovec{buffer.data(), static_cast<std::size_t>(want)}};
      if (!transfer_all(std::span(one), sector * kSectorSize + done,
                        [fd](const iovec* v, int n, off_t at) { return preadv_at(fd, v, n, at); }) ||
          !io.write(done, buffer.first(static_cast<std::size_t>(want)))) {
        return kIoError;
      }
      count_bounce();
      done += want;
      written = static_cast<std::uint32_t>(done);
      continue;
    }
    // A short read (the file shrank under us) is an I/O error, not stale data.
    if (!transfer_all(std::span(iov).first(*count), sector * kSectorSize + done,
                      [fd](const iovec* v, int n, off_t at) { return preadv_at(fd, v, n, at); })) {
      return kIoError;
    }
    io.mark_written(std::span(segments).first(*count));
    done += batch;
    written = static_cast<std::uint32_t>(done);
  }
  return kOk;
}

std::uint8_t BlockDevice::write_sectors(ChainIo& io, std::uint64_t sector, std::uint64_t bytes, AlignedBuffer& bounce) {
  // Each element is set before it is used. NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init)
  std::array<std::span<const std::uint8_t>, kBatchSegments> views;
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init): likewise
  std::array<iovec, kBatchSegments> iov;
  const int fd = file_.get();
  for (std::uint64_t done = 0; done < bytes;) {
    if (abandon_.load(std::memory_order_relaxed)) return kAbandoned;
    const std::uint64_t want = std::min(kBatchBytes, bytes - done);
    auto count = io.readable_views(sizeof(RequestHeader) + done, want, views);
    if (!count || *count == 0) return kIoError;
    std::uint64_t batch = 0;
    for (std::size_t i = 0; i < *count; ++i) {
      // pwritev only reads through iov_base, which is not const in the C ABI.
      // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast)
      iov.at(i) = iovec{const_cast<std::uint8_t*>(views.at(i).data()), views.at(i).size()};
      batch += views.at(i).size();
    }
    if (!direct_ready(std::span(iov).first(*count), batch)) {
      // The batch copied into the aligned bounce buffer (ChainIo::read's checks), then written.
      const std::span<std::uint8_t> buffer = bounce.get();
      if (buffer.size() < want) return kIoError;
      std::array<iovec, 1> one{iovec{buffer.data(), static_cast<std::size_t>(want)}};
      if (!io.read(sizeof(RequestHeader) + done, buffer.first(static_cast<std::size_t>(want))) ||
          !transfer_all(std::span(one), sector * kSectorSize + done,
                        [fd](const iovec* v, int n, off_t at) { return pwritev_at(fd, v, n, at); })) {
        return kIoError;
      }
      count_bounce();
      done += want;
      continue;
    }
    if (!transfer_all(std::span(iov).first(*count), sector * kSectorSize + done,
                      [fd](const iovec* v, int n, off_t at) { return pwritev_at(fd, v, n, at); })) {
      return kIoError;
    }
    done += batch;
  }
  return kOk;
}

// Zeroes [offset, offset + length) of the image so that reads return zeroes (§5.2.6.2). With
// "unmap" the range is deallocated (a hole: a sparse image stays sparse); without it, it stays
// allocated. Written zeroes only where the file system can do neither.
std::uint8_t BlockDevice::zero_range(std::uint64_t offset, std::uint64_t length, bool unmap) {
  const int fd = file_.get();
  if (unmap && fallocate_ok(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length)) return kOk;
  if (fallocate_ok(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset, length)) return kOk;
  // tmpfs, among others, has no ZERO_RANGE: a hole, then (without unmap) the blocks allocated again.
  // Should the allocation fail, the hole still reads as zeroes.
  if (!unmap && fallocate_ok(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length)) {
    (void)fallocate_ok(fd, FALLOC_FL_KEEP_SIZE, offset, length);
    return kOk;
  }
  alignas(kMaxDirectAlignment) static const std::array<std::uint8_t, kChunk> zeros{};  // O_DIRECT-ready
  for (std::uint64_t done = 0; done < length;) {
    if (abandon_.load(std::memory_order_relaxed)) return kAbandoned;
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, length - done));
    if (!full_pwrite(fd, std::span(zeros).first(n), offset + done)) return kIoError;
    done += n;
  }
  return kOk;
}

std::uint8_t BlockDevice::discard_or_zero(ChainIo& io, bool zero) {
  if (read_only_) return kIoError;
  const std::uint64_t payload = io.readable() - sizeof(RequestHeader);
  if (payload == 0 || payload % sizeof(DiscardSegment) != 0 || payload / sizeof(DiscardSegment) > kMaxDiscardSegments)
    return kUnsupported;
  const auto count = static_cast<std::size_t>(payload / sizeof(DiscardSegment));
  std::array<DiscardSegment, kMaxDiscardSegments> segments{};
  // Every segment is checked before any is carried out.
  for (std::size_t i = 0; i < count; ++i) {
    if (!read_struct(io, sizeof(RequestHeader) + i * sizeof(DiscardSegment), segments.at(i))) return kIoError;
    const DiscardSegment& s = segments.at(i);
    // Unknown flags, and "unmap" on a discard, are UNSUPP (§5.2.6.2).
    if ((s.flags & ~kUnmap) != 0 || (!zero && (s.flags & kUnmap) != 0)) return kUnsupported;
    if (s.sectors > (zero ? kMaxWriteZeroesSectors : kMaxDiscardSectors) || !in_range(s.sector, s.sectors))
      return kIoError;
  }
  // Overlapping segments are the driver's error (a request zeroing one range sixteen times): IOERR.
  std::array<DiscardSegment, kMaxDiscardSegments> sorted = segments;
  const auto used = std::span(sorted).first(count);
  std::sort(used.begin(), used.end(),
            [](const DiscardSegment& a, const DiscardSegment& b) { return a.sector < b.sector; });
  std::uint64_t end = 0;  // the end of the non-empty segments so far, in sectors
  std::uint64_t total = 0;
  for (const auto& s : used) {
    if (s.sectors == 0) continue;
    if (s.sector < end) return kIoError;
    end = s.sector + s.sectors;
    total += std::uint64_t{s.sectors} * kSectorSize;
  }
  if (zero && total > kMaxRequestBytes) return kIoError;  // implied by the limits above; kept explicit
  for (const auto& s : std::span(segments).first(count)) {
    if (s.sectors == 0) continue;
    const std::uint64_t offset = s.sector * kSectorSize;
    const std::uint64_t length = std::uint64_t{s.sectors} * kSectorSize;
    if (zero) {
      if (const std::uint8_t status = zero_range(offset, length, (s.flags & kUnmap) != 0); status != kOk) return status;
    } else {
      // Discard is a hint (§5.2.6): a filesystem without hole punching still completes it.
      (void)fallocate_ok(file_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
    }
  }
  return kOk;
}

BlockDevice::Outcome BlockDevice::execute(const GuestMemory& memory, const DescriptorChain& chain,
                                          AlignedBuffer& bounce) {
  ChainIo io(memory, chain);
  Outcome outcome;
  // The status is the last writable byte; without one the request cannot even be answered.
  if (io.writable() == 0) return outcome;
  const std::uint64_t status_at = io.writable() - 1;
  std::uint8_t status = kIoError;
  RequestHeader header{};
  if (io.readable() >= sizeof header && read_struct(io, 0, header)) {
    const std::uint64_t in_bytes = status_at;                       // writable bytes before the status
    const std::uint64_t out_bytes = io.readable() - sizeof header;  // readable bytes after the header
    switch (header.type) {
      case kIn:
        if (in_bytes % kSectorSize != 0 || in_bytes > kMaxRequestBytes ||
            !in_range(header.sector, in_bytes / kSectorSize) || !direct_aligned(header.sector, in_bytes))
          break;
        status = read_sectors(io, header.sector, in_bytes, outcome.written, bounce);
        break;
      case kOut:
        if (read_only_ || out_bytes % kSectorSize != 0 || out_bytes > kMaxRequestBytes ||
            !in_range(header.sector, out_bytes / kSectorSize) || !direct_aligned(header.sector, out_bytes)) {
          break;
        }
        status = write_sectors(io, header.sector, out_bytes, bounce);
        break;
      case kFlush: status = read_only_ || ::fdatasync(file_.get()) == 0 ? kOk : kIoError; break;
      case kGetId: {
        // The serial from the VMM, or 20 NUL bytes: an empty NUL-padded ID string (§5.2.6). Never
        // anything about the host file.
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kSerialBytes, in_bytes));
        if (io.write(0, std::span(id_).first(n))) {
          outcome.written = static_cast<std::uint32_t>(n);
          status = kOk;
        }
        break;
      }
      case kDiscard: status = discard_or_zero(io, false); break;
      case kWriteZeroes: status = discard_or_zero(io, true); break;
      default: status = kUnsupported; break;
    }
    if (status == kAbandoned) {
      outcome.abandoned = true;
      return outcome;
    }
    // A driver that did not accept FLUSH may treat every completed write as stable (§5.2.6.2).
    const bool wrote = header.type == kOut || header.type == kDiscard || header.type == kWriteZeroes;
    if (wrote && status == kOk && !write_cache_visible_ && ::fdatasync(file_.get()) != 0) status = kIoError;
  }
  if (io.write(status_at, std::span(&status, 1))) ++outcome.written;
  return outcome;
}

std::uint32_t BlockDevice::handle(const GuestMemory& memory, const DescriptorChain& chain) {
  AlignedBuffer bounce(kBatchBytes, kMaxDirectAlignment);
  return execute(memory, chain, bounce).written;
}

}  // namespace hv::virtio
