#pragma once
// virtio-blk (virtio 1.2 §5.2, device ID 2) on a host file: read, write, flush, get-id, discard and
// write-zeroes, with every sector range checked against the capacity, read-only images, and requests
// framed any way the spec allows (header, data and status split across descriptors arbitrarily).
//
// Requests run on the device's own I/O threads, one per request queue, never in the thread that
// notifies (a vCPU thread or the VMM's doorbell thread): notify() only wakes the queue's thread. With
// more than one queue (BlockOptions::num_queues, VIRTIO_BLK_F_MQ) the queues run concurrently and
// independently: each has its own thread, lock and request, and the file is only read and written at
// explicit offsets (no shared file position). Each thread serves its queue in passes of at
// most kPassRequests requests or kPassBytes bytes (a pass stops before the next request once either
// is reached, so one request over the byte budget still completes), signals the used buffers after
// each pass, and goes on with another pass by itself while the queue holds requests: a driver never
// has to notify again for what it already made available. A reset (or the device's destruction)
// stops the running request at its next batch and drops the rest with the queue.
//
// IN and OUT data move straight between guest memory and the file: preadv/pwritev over the chain's
// buffers as host views (ChainIo::writable_views / readable_views, every buffer inside one region as
// before), in batches of at most 256 pieces and 1 MiB, short transfers continued
// (hv/virtio/file_scatter.hpp). No bounce buffer: a buffer that is not inside one region was refused
// by the copying path too.
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
};

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
  // One pass of the I/O thread (see above).
  static constexpr std::uint32_t kPassRequests = 64;
  static constexpr std::uint64_t kPassBytes = 32ULL << 20;

  // Opens `path`, which must be a regular file (a FIFO or device is refused without being opened),
  // and locks it; Busy when another open file description holds a conflicting lock. The capacity is
  // the file size in whole sectors. InvalidArgument for a serial that is not printable ASCII or a
  // queue count outside 1..kMaxQueues.
  static Result<std::shared_ptr<BlockDevice>> open(const std::string& path, const BlockOptions& options);
  static Result<std::shared_ptr<BlockDevice>> open(const std::string& path, bool read_only) {
    return open(path, BlockOptions{.read_only = read_only, .serial = {}, .num_queues = 1});
  }
  // Stops the I/O thread (the running request ends at its next chunk) and releases the lock.
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
  // Starts the I/O thread of each queue in `queues` on its first activation (ResourceExhausted if one
  // cannot be started); any non-empty set of distinct queues below queue_count() may be activated
  // (a driver without VIRTIO_BLK_F_MQ uses queue 0 alone). The I/O threads use `memory` (which the
  // device shares) until reset().
  Result<void> activate(std::shared_ptr<const GuestMemory> memory, std::uint64_t features,
                        std::vector<std::pair<std::uint16_t, Queue>> queues, DeviceSignals signals) override;
  // Wakes queue `index`'s I/O thread; constant time whatever the driver made available.
  void notify(std::uint16_t index) override;
  // Returns once no I/O thread holds anything: a request in progress stops at its next batch (at most 1 MiB)
  // and is not returned to the driver (the queue it belonged to is gone).
  void reset() override;
  // Lets each I/O thread finish the pass in progress (every request it took completes and is used; at
  // most kPassRequests requests or kPassBytes bytes), then returns the active request queues with
  // their positions; the threads stay, idle, for the next activation.
  Result<std::vector<std::pair<std::uint16_t, Queue>>> stop() override;

  [[nodiscard]] std::uint64_t capacity_sectors() const noexcept { return capacity_; }
  [[nodiscard]] bool broken() const noexcept { return broken_.load(); }

  // What the I/O threads have done since the device was opened, all queues together (for tests and
  // the VMM's logs).
  struct Stats {
    std::uint64_t notifications = 0;      // notify() calls for a request queue
    std::uint64_t passes = 0;             // passes that served at least one request
    std::uint64_t requests = 0;           // requests returned to the driver as used
    std::uint64_t abandoned = 0;          // requests stopped by a reset or the device's destruction
    std::uint32_t max_pass_requests = 0;  // the most requests one pass served
    std::uint64_t max_pass_bytes = 0;     // the most data or zeroed bytes one pass moved
  };
  [[nodiscard]] Stats stats() const;

  // Handles one request synchronously and returns the bytes written into the chain (data + status).
  // Public for the request fuzz target and tests; the I/O thread is the normal path. `memory` is
  // used only during the call.
  std::uint32_t handle(const GuestMemory& memory, const DescriptorChain& chain);

 private:
  struct Outcome {
    std::uint32_t written = 0;  // bytes written into the chain, the status included
    std::uint64_t bytes = 0;    // data moved or zeroed, for the pass budget
    bool abandoned = false;     // a reset stopped it: not to be returned as used
  };
  // One request queue and its I/O thread.
  struct Lane {
    // The thread's wake-up state; never held during I/O.
    std::mutex wake_mutex;
    std::condition_variable wake;
    bool kicked = false;   // a notification, or the thread's own re-arm, not yet served
    bool exiting = false;  // the destructor runs
    std::thread worker;    // started by the queue's first activation
    // Held by the lane's thread for one pass, and (every lane's, in index order) by activate(),
    // reset() and stop(). Lock order: the lanes' io_mutex, then the transport's register lock
    // (signals); wake_mutex is never held with io_mutex.
    std::mutex io_mutex;
    std::optional<Queue> queue;
    DescriptorChain request;  // the request being served: popped into (Queue::pop_into), so its storage is reused
  };
  BlockDevice(UniqueFd file, const BlockOptions& options, std::uint64_t capacity);
  Outcome execute(const GuestMemory& memory, const DescriptorChain& chain);
  std::uint8_t read_sectors(ChainIo& io, std::uint64_t sector, std::uint64_t bytes, std::uint32_t& written);
  std::uint8_t write_sectors(ChainIo& io, std::uint64_t sector, std::uint64_t bytes);
  std::uint8_t discard_or_zero(ChainIo& io, bool zero, std::uint64_t& bytes);
  std::uint8_t zero_range(std::uint64_t offset, std::uint64_t length, bool unmap);
  [[nodiscard]] bool in_range(std::uint64_t sector, std::uint64_t sectors) const noexcept {
    return sector <= capacity_ && sectors <= capacity_ - sector;
  }
  // Every lane's io_mutex, in index order: no pass runs while they are held.
  std::vector<std::unique_lock<std::mutex>> lock_all_lanes();
  void run(Lane& lane, std::uint16_t index);         // a lane's I/O thread
  bool serve_pass(Lane& lane, std::uint16_t index);  // one pass; true when it stopped at its budget
  void record_pass(std::uint32_t requests, std::uint64_t bytes);

  UniqueFd file_;
  const bool read_only_;
  const std::uint64_t capacity_;
  std::array<std::uint8_t, kSerialBytes> id_{};
  std::vector<std::unique_ptr<Lane>> lanes_;  // one per queue, fixed at open()

  // What every lane's requests need: written only with every lane's io_mutex held, read by a pass
  // under its own lane's.
  std::shared_ptr<const GuestMemory> memory_;  // shared: the creator may drop it while a pass runs
  DeviceSignals signals_;
  bool write_cache_visible_ = false;  // FLUSH negotiated: the driver flushes; otherwise writes are synced
  std::atomic<bool> broken_{false};   // a queue broke the protocol: every queue stops until a reset
  std::atomic<bool> abandon_{false};  // reset or destruction: the running requests stop at their next chunk

  mutable std::mutex stats_mutex_;
  Stats stats_;
};

}  // namespace hv::virtio
