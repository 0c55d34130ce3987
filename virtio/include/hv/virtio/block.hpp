#pragma once
// virtio-blk (virtio 1.2 §5.2, device ID 2) on a host file: read, write, flush, get-id, discard and
// write-zeroes, with every sector range checked against the capacity, read-only images, and requests
// framed any way the spec allows (header, data and status split across descriptors arbitrarily).
// Requests are handled synchronously in the notifying thread. Threat model:
// docs/threat-model/virtio-blk.md.

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "hv/unique_fd.hpp"
#include "hv/virtio/chain_io.hpp"
#include "hv/virtio/device.hpp"

namespace hv::virtio {

class BlockDevice final : public VirtioDevice {
 public:
  static constexpr std::uint32_t kSectorSize = 512;
  static constexpr std::uint32_t kSegmentMax = 128;                // advertised seg_max
  static constexpr std::uint32_t kSizeMax = 1U << 20;              // advertised size_max (bytes per segment)
  static constexpr std::uint64_t kMaxRequestBytes = 128ULL << 20;  // larger data: IOERR
  static constexpr std::uint32_t kMaxDiscardSegments = 16;
  static constexpr std::uint32_t kMaxDiscardSectors = 1U << 22;  // 2 GiB per segment

  // Opens `path` (read-write unless `read_only`). The capacity is the file size in whole sectors.
  static Result<std::shared_ptr<BlockDevice>> open(const std::string& path, bool read_only);

  [[nodiscard]] std::uint32_t device_id() const noexcept override { return 2; }
  [[nodiscard]] std::uint64_t features() const noexcept override;
  [[nodiscard]] std::uint16_t queue_count() const noexcept override { return 1; }
  [[nodiscard]] std::uint16_t queue_max_size() const noexcept override { return 256; }
  void read_config(std::uint64_t offset, std::span<std::uint8_t> data) override;
  void write_config(std::uint64_t, std::span<const std::uint8_t>) override {}  // writeback toggling not offered
  Result<void> activate(const GuestMemory& memory, std::uint64_t features,
                        std::vector<std::pair<std::uint16_t, Queue>> queues, DeviceSignals signals) override;
  void notify(std::uint16_t index) override;
  void reset() override;

  [[nodiscard]] std::uint64_t capacity_sectors() const noexcept { return capacity_; }
  [[nodiscard]] bool broken() const;

  // Handles one request and returns the bytes written into the chain (data + status). Public for the
  // request fuzz target and tests; notify() is the normal entry.
  std::uint32_t handle(const GuestMemory& memory, const DescriptorChain& chain);

 private:
  BlockDevice(UniqueFd file, bool read_only, std::uint64_t capacity, std::string id)
      : file_(std::move(file)), read_only_(read_only), capacity_(capacity), id_(std::move(id)) {}
  std::uint8_t read_sectors(const ChainIo& io, std::uint64_t sector, std::uint64_t bytes, std::uint32_t& written);
  std::uint8_t write_sectors(const ChainIo& io, std::uint64_t sector, std::uint64_t bytes);
  std::uint8_t discard_or_zero(const ChainIo& io, bool zero);
  [[nodiscard]] bool in_range(std::uint64_t sector, std::uint64_t sectors) const noexcept {
    return sector <= capacity_ && sectors <= capacity_ - sector;
  }

  UniqueFd file_;
  bool read_only_;
  std::uint64_t capacity_;
  std::string id_;
  mutable std::mutex mutex_;
  const GuestMemory* memory_ = nullptr;
  std::optional<Queue> queue_;
  DeviceSignals signals_;
  bool broken_ = false;
  bool write_cache_visible_ = false;  // FLUSH negotiated: the driver flushes; otherwise writes are synced
};

}  // namespace hv::virtio
