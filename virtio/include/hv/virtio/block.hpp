#pragma once
// virtio-blk (virtio 1.2 §5.2, device ID 2) on a host file: read, write, flush, get-id, discard and
// write-zeroes, with every sector range checked against the capacity, read-only images, and requests
// framed any way the spec allows (header, data and status split across descriptors arbitrarily).
//
// Requests run on the device's own I/O threads, never in the thread that notifies (a vCPU thread or
// the VMM's doorbell thread): notify() only wakes them. Each request queue has a small pool of
// BlockOptions::queue_depth worker threads, so up to that many requests of one queue are in flight at
// once (never more than the queue size: a driver cannot make more available), each worker taking one
// request, carrying it out without any lock held, and returning it as used as soon as it is done: out
// of order, as virtio allows. The ring itself (pop, add_used, the interrupt decision) is touched only
// under the queue's lock, so it has one writer at a time; the interrupt itself is raised after the
// lock is dropped. A worker that takes a request wakes another when the ring holds more, and keeps
// taking requests while there are some: a driver never has to notify again for what it already made
// available. With more than one queue (BlockOptions::num_queues, VIRTIO_BLK_F_MQ) the queues run
// concurrently and independently, and the file is only read and written at explicit offsets (no
// shared file position). A FLUSH covers the writes completed (used) before it was taken (§5.2.6.3):
// those reached the file before their used element was written; writes still in flight beside it are
// not waited for. A reset (or the device's destruction) stops the running requests at their next
// batch and waits for every worker to let go of its request; stop() waits for them to complete.

// IN and OUT data move straight between guest memory and the file: preadv/pwritev over the chain's
// buffers as host views (ChainIo::writable_views / readable_views, every buffer inside one region as
// before), in batches of at most 256 pieces and 1 MiB, short transfers continued
// (hv/virtio/file_scatter.hpp). No bounce buffer: a buffer that is not inside one region was refused
// by the copying path too.
//
// With BlockOptions::direct the image is opened O_DIRECT (no host page cache). Direct I/O needs the
// file offsets and lengths aligned to the file's direct-I/O offset alignment and the buffers to its
// memory alignment (statx STATX_DIOALIGN; a file system that does not report them, tmpfs among them,
// is taken to need 4096 for both). A batch whose guest buffers are all aligned goes straight to the
// file as above; any other batch goes through the worker's own aligned bounce buffer (at most 1 MiB,
// allocated on first use), so a guest's unaligned buffers still read and write correctly. An offset
// alignment above 512 is offered to the driver as blk_size (VIRTIO_BLK_F_BLK_SIZE), and an IN or OUT
// request not aligned to it is an I/O error: the device never reads, modifies and writes a block,
// which would lose a concurrent write of a neighbouring sector.
//
// The image is opened without following it into a FIFO or device (it must be a regular file) and
// locked with an open-file-description lock on the whole file (write lock read-write, read lock
// read-only), so two devices, in this process or another, never write one image. Threat model:
// docs/threat-model/virtio-blk.md.

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/uio.h>

#include "hv/unique_fd.hpp"
#include "hv/virtio/chain_io.hpp"
#include "hv/virtio/device.hpp"

namespace hv::virtio {

struct BlockOptions {
  bool read_only = false;
  // What GET_ID returns: at most 20 printable ASCII characters (0x20-0x7e), NUL-padded. Empty (the
  // default): 20 NUL bytes, an empty ID string. Never derived from the host path.
  std::string serial;
  // Request queues, 1..BlockDevice::kMaxQueues. More than one offers VIRTIO_BLK_F_MQ with num_queues in
  // the configuration space; one (the default) offers neither, as before multiqueue existed.
  std::uint16_t num_queues = 1;
  // Requests of one queue in flight at once: the worker threads per queue, 1..BlockDevice::kMaxQueueDepth.
  std::uint16_t queue_depth = 4;
  // O_DIRECT: reads and writes bypass the host page cache. FLUSH still calls fdatasync (the disk's own
  // write cache). open() fails with InvalidArgument when the file system refuses O_DIRECT.
  bool direct = false;
};

class AlignedBuffer;  // virtio/src/aligned_buffer.hpp

class BlockDevice final : public VirtioDevice {
 public:
  static constexpr std::uint32_t kSectorSize = 512;
  static constexpr std::uint32_t kSegmentMax = 128;                // advertised seg_max
  static constexpr std::uint32_t kSizeMax = 1U << 20;              // advertised size_max (bytes per segment)
  static constexpr std::uint64_t kMaxRequestBytes = 128ULL << 20;  // IN/OUT data, WRITE_ZEROES zeroes: more is IOERR
  static constexpr std::uint32_t kMaxDiscardSegments = 16;         // DISCARD and WRITE_ZEROES segments per request
  static constexpr std::uint32_t kMaxDiscardSectors = 1U << 22;    // 2 GiB per DISCARD segment
  // 8 MiB per WRITE_ZEROES segment: 16 segments, which must not overlap, zero at most kMaxRequestBytes.
  static constexpr std::uint32_t kMaxWriteZeroesSectors = 1U << 14;
  static constexpr std::size_t kSerialBytes = 20;
  // Each queue is an I/O thread of its own (and, in a vhost-user daemon, a kick thread): the bound
  // keeps what a command line or VMM configuration can make the device start small. 8 covers the
  // queue counts qemu-storage-daemon is usually given; more threads than host cores buy nothing.
  static constexpr std::uint16_t kMaxQueues = 8;
  // Worker threads (requests in flight) per queue: each holds at most one request of at most
  // kMaxRequestBytes, stopped by a reset within one 1 MiB batch. More than a few threads per host core
  // buy nothing for a file in the page cache; a slow disk is better served by more.
  static constexpr std::uint16_t kMaxQueueDepth = 32;
  // The largest direct-I/O alignment (memory or offset) open() accepts with BlockOptions::direct, and
  // the one assumed where the file system does not report it.
  static constexpr std::uint32_t kMaxDirectAlignment = 4096;

  // Opens `path`, which must be a regular file (a FIFO or device is refused without being opened),
  // and locks it; Busy when another open file description holds a conflicting lock. The capacity is
  // the file size in whole sectors. InvalidArgument for a serial that is not printable ASCII, a
  // queue count outside 1..kMaxQueues or a queue depth outside 1..kMaxQueueDepth; with
  // BlockOptions::direct, also for a file system without O_DIRECT or with an alignment above
  // kMaxDirectAlignment.
  static Result<std::shared_ptr<BlockDevice>> open(const std::string& path, const BlockOptions& options);
  static Result<std::shared_ptr<BlockDevice>> open(const std::string& path, bool read_only) {
    BlockOptions options;
    options.read_only = read_only;
    return open(path, options);
  }
  // Stops the worker threads (the running requests end at their next batch) and releases the lock.
  ~BlockDevice() override;
  BlockDevice(const BlockDevice&) = delete;
  BlockDevice& operator=(const BlockDevice&) = delete;

  [[nodiscard]] std::uint32_t device_id() const noexcept override { return 2; }
  [[nodiscard]] std::uint64_t features() const noexcept override;
  [[nodiscard]] std::uint16_t queue_count() const noexcept override {
    return static_cast<std::uint16_t>(lanes_.size());
  }
  [[nodiscard]] std::uint16_t queue_max_size() const noexcept override { return 256; }
  void read_config(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write_config(std::uint64_t, std::span<const std::uint8_t>) override {}  // writeback toggling not offered
  // Starts the worker threads of each queue in `queues` on its first activation (ResourceExhausted if
  // one cannot be started); any non-empty set of distinct queues below queue_count() may be activated
  // (a driver without VIRTIO_BLK_F_MQ uses queue 0 alone). The workers use `memory` (which the
  // device shares) until reset().
  Result<void> activate(std::shared_ptr<const GuestMemory> memory, std::uint64_t features,
                        std::vector<std::pair<std::uint16_t, Queue>> queues, DeviceSignals signals) override;
  // Wakes a worker of queue `index`; constant time whatever the driver made available.
  void notify(std::uint16_t index) override;
  // Returns once no worker holds a request: a request in progress stops at its next batch (at most
  // 1 MiB) and is not returned to the driver (the queue it belonged to is gone); one whose last batch
  // was already under way completes and is used before reset() returns. Nothing is used afterwards.
  void reset() override;
  // Takes no new request, waits until every request in flight (at most queue_depth per queue) has
  // completed and is used, then returns the active request queues with their positions; the workers
  // stay, idle, for the next activation.
  Result<std::vector<std::pair<std::uint16_t, Queue>>> stop() override;

  [[nodiscard]] std::uint64_t capacity_sectors() const noexcept { return capacity_; }
  [[nodiscard]] bool broken() const noexcept { return broken_.load(); }
  // With BlockOptions::direct: the alignments direct I/O on the image needs (0 without it).
  [[nodiscard]] std::uint32_t direct_memory_alignment() const noexcept { return dio_memory_align_; }
  [[nodiscard]] std::uint32_t direct_offset_alignment() const noexcept { return dio_offset_align_; }

  // What the workers have done since the device was opened, all queues together (for tests and the
  // VMM's logs).
  struct Stats {
    std::uint64_t notifications = 0;  // notify() calls for a request queue
    std::uint64_t requests = 0;       // requests returned to the driver as used
    std::uint64_t abandoned = 0;      // requests stopped by a reset or the device's destruction
    std::uint32_t max_in_flight = 0;  // the most requests of one queue taken and not yet used at once
    std::uint64_t bounced = 0;        // direct I/O batches copied through a bounce buffer (unaligned buffers)
  };
  [[nodiscard]] Stats stats() const;

  // Handles one request synchronously and returns the bytes written into the chain (data + status).
  // Public for the request fuzz target and tests; the workers are the normal path. `memory` is
  // used only during the call.
  std::uint32_t handle(const GuestMemory& memory, const DescriptorChain& chain);

 private:
  struct Outcome {
    std::uint32_t written = 0;  // bytes written into the chain, the status included
    bool abandoned = false;     // a reset stopped it: not to be returned as used
  };
  // One request queue and its worker threads.
  struct Lane {
    // Everything below; held only to take a request, to return one as used (and decide on the
    // interrupt), and by activate(), reset() and stop() — never during I/O. Lock order: a lane's
    // mutex (lanes in index order), then the transport's (the broken signal); stats_mutex_ last.
    std::mutex mutex;
    std::condition_variable wake;     // workers: kicked, or exiting
    std::condition_variable drained;  // activate/reset/stop: in_flight reached 0
    bool kicked = false;              // the ring may hold requests: a notification, or a worker that found more
    bool draining = false;            // activate/reset/stop waits for in_flight to reach 0: take nothing new
    bool exiting = false;             // the destructor runs
    std::uint32_t in_flight = 0;      // requests taken from the ring and not yet returned (or abandoned)
    std::optional<Queue> queue;
    std::vector<std::thread> workers;  // started by the queue's first activation
  };
  struct DirectAlignment {
    std::uint32_t memory = 0;  // 0: not opened O_DIRECT
    std::uint32_t offset = 0;
  };
  BlockDevice(UniqueFd file, const BlockOptions& options, std::uint64_t capacity, DirectAlignment alignment);
  Outcome execute(const GuestMemory& memory, const DescriptorChain& chain, AlignedBuffer& bounce);
  std::uint8_t read_sectors(ChainIo& io, std::uint64_t sector, std::uint64_t bytes, std::uint32_t& written,
                            AlignedBuffer& bounce);
  std::uint8_t write_sectors(ChainIo& io, std::uint64_t sector, std::uint64_t bytes, AlignedBuffer& bounce);
  // Whether direct I/O can take these host pieces as they are (always, without O_DIRECT).
  [[nodiscard]] bool direct_ready(std::span<const iovec> pieces, std::uint64_t total) const noexcept;
  void count_bounce();
  std::uint8_t discard_or_zero(ChainIo& io, bool zero);
  std::uint8_t zero_range(std::uint64_t offset, std::uint64_t length, bool unmap);
  [[nodiscard]] bool in_range(std::uint64_t sector, std::uint64_t sectors) const noexcept {
    return sector <= capacity_ && sectors <= capacity_ - sector;
  }
  // An IN or OUT request direct I/O can carry out without reading, modifying and writing a block.
  [[nodiscard]] bool direct_aligned(std::uint64_t sector, std::uint64_t bytes) const noexcept {
    return dio_offset_align_ == 0 ||
           ((sector * kSectorSize) % dio_offset_align_ == 0 && bytes % dio_offset_align_ == 0);
  }
  // Every lane drained (no request in flight, none taken meanwhile) and its mutex held, in index order.
  std::vector<std::unique_lock<std::mutex>> drain_all_lanes();
  void work(Lane& lane, std::uint16_t index);  // a worker thread of a lane
  void record(bool used, std::uint32_t in_flight);

  UniqueFd file_;
  const bool read_only_;
  const std::uint64_t capacity_;
  std::array<std::uint8_t, kSerialBytes> id_{};
  const std::uint16_t queue_depth_;
  const std::uint32_t dio_memory_align_;  // 0 without O_DIRECT
  const std::uint32_t dio_offset_align_;
  std::vector<std::unique_ptr<Lane>> lanes_;  // one per queue, fixed at open()

  // What every lane's requests need: written only with every lane drained and its mutex held; read by
  // a worker that holds a request (taken under its lane's mutex, so after the write).
  std::shared_ptr<const GuestMemory> memory_;  // shared: the creator may drop it while a request runs
  DeviceSignals signals_;
  bool write_cache_visible_ = false;  // FLUSH negotiated: the driver flushes; otherwise writes are synced
  std::atomic<bool> broken_{false};   // a queue broke the protocol: every queue stops until a reset
  std::atomic<bool> abandon_{false};  // reset or destruction: the running requests stop at their next batch

  mutable std::mutex stats_mutex_;
  Stats stats_;
};

}  // namespace hv::virtio
