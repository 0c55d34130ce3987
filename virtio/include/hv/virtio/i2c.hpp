#pragma once
// virtio-i2c (virtio 1.2 §5.19, device ID 34): an I2C adapter. One request queue; each request is
//   out header {le16 addr (7-bit address << 1), le16 padding, le32 flags}   device-readable, 8 bytes
//   a write buffer (device-readable) or a read buffer (device-writable), absent for zero length
//   in header {u8 status}: VIRTIO_I2C_MSG_OK (0) or VIRTIO_I2C_MSG_ERR (1)    device-writable
// taken as byte streams, whatever the split across descriptors (§2.6.4). VIRTIO_I2C_F_ZERO_LENGTH_REQUEST
// is offered and required: a driver that does not accept it is refused at activation.
//
// Groups: a request with VIRTIO_I2C_FLAGS_FAIL_NEXT belongs to one group with the requests after it, up
// to and including the first without the flag. The device executes a group as one I2C transaction on
// its bus (hv/dev/i2c_bus.hpp), and once a request of a group fails every later request of that group
// fails without being executed. A group the driver has not finished making available is held (its
// chains taken, not yet used) until the rest arrives; one that fills the whole ring is executed as it
// stands and its continuation is a new transaction that still fails if anything before it failed.
//
// Validation: a malformed request (the header short, the status missing, a buffer in the direction
// M_RD does not say, more than kI2cMaxMessageBytes, an address bit 0 set or above kI2cMaxAddress,
// unknown flag bits) gets ERR and never reaches the bus; a chain with no writable byte for the status
// is used with length 0. A driver that breaks the queue protocol leaves the device stopped, with
// DEVICE_NEEDS_RESET, until it is reset.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "hv/dev/i2c_bus.hpp"
#include "hv/virtio/device.hpp"

namespace hv::virtio {

inline constexpr std::uint64_t kI2cFeatureZeroLengthRequest = 1ULL << 0;  // VIRTIO_I2C_F_ZERO_LENGTH_REQUEST
inline constexpr std::uint32_t kI2cFlagFailNext = 1U << 0;                // VIRTIO_I2C_FLAGS_FAIL_NEXT
inline constexpr std::uint32_t kI2cFlagRead = 1U << 1;                    // VIRTIO_I2C_FLAGS_M_RD
inline constexpr std::uint8_t kI2cStatusOk = 0;                           // VIRTIO_I2C_MSG_OK
inline constexpr std::uint8_t kI2cStatusError = 1;                        // VIRTIO_I2C_MSG_ERR

class I2cDevice final : public VirtioDevice {
 public:
  static constexpr std::uint16_t kQueueMaxSize = 256;
  // The bus the guest's requests go to (not null: Expects). Its state is the bus's: a reset of the
  // device leaves what is on the bus (EEPROM contents) as it was.
  explicit I2cDevice(std::shared_ptr<dev::I2cBus> bus);
  ~I2cDevice() override;  // out of line: Taken is complete only in i2c.cpp
  I2cDevice(const I2cDevice&) = delete;
  I2cDevice& operator=(const I2cDevice&) = delete;

  [[nodiscard]] std::uint32_t device_id() const noexcept override { return 34; }
  [[nodiscard]] std::uint64_t features() const noexcept override { return kI2cFeatureZeroLengthRequest; }
  [[nodiscard]] std::uint16_t queue_count() const noexcept override { return 1; }
  [[nodiscard]] std::uint16_t queue_max_size() const noexcept override { return kQueueMaxSize; }
  void read_config(std::uint64_t, std::span<std::uint8_t>) override {}  // no configuration space
  void write_config(std::uint64_t, std::span<const std::uint8_t>) override {}
  Result<void> activate(std::shared_ptr<const GuestMemory> memory, std::uint64_t features,
                        std::vector<std::pair<std::uint16_t, Queue>> queues, DeviceSignals signals) override;
  void notify(std::uint16_t index) override;
  void reset() override;
  // Executes a held, unfinished group as it stands, uses every request taken, and returns the queue.
  // Activating the device again with that queue goes on with the same group: its continuation still
  // fails if anything before it failed (only reset() forgets that).
  Result<std::vector<std::pair<std::uint16_t, Queue>>> stop() override;

  // The queue stopped because the driver broke the protocol (for the VMM's logs and tests).
  [[nodiscard]] bool broken() const;

 private:
  struct Taken;  // a chain taken from the queue and the request it frames (i2c.cpp)
  // Every member below is guarded by mutex_; the helpers are called with it held.
  bool take_available();  // false: the queue broke
  [[nodiscard]] bool fills_ring() const;
  bool execute_group();  // executes and uses group_; false: the queue broke
  std::size_t run_transaction(std::size_t first);
  bool use(const Taken& taken);
  void drop_group() noexcept;

  mutable std::mutex mutex_;
  std::shared_ptr<dev::I2cBus> bus_;
  std::shared_ptr<const GuestMemory> memory_;  // from activate() until reset()
  std::optional<Queue> queue_;
  DeviceSignals signals_;
  bool broken_ = false;
  std::vector<Taken> group_;                       // taken, not yet used: the requests of a group not yet executed
  bool carry_failed_ = false;                      // a group executed before its end failed: its continuation fails too
  std::vector<dev::I2cMessage> messages_;          // one transaction's, reused
  std::vector<std::vector<std::uint8_t>> bounce_;  // its data, device-owned: kI2cMaxTransactionMessages buffers
};

}  // namespace hv::virtio
