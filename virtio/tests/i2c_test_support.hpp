#pragma once
// For the virtio-i2c tests and fuzz target: a fake I2C bus that records every transaction and fails
// where it is told to, and a driver's side of the request queue over either ring layout (the mock
// split and packed drivers) that builds virtio-i2c requests in guest memory and collects what the
// device used, in order. No GoogleTest here: the fuzz target uses it too.

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <vector>

#include "hv/dev/i2c_bus.hpp"
#include "hv/guest_memory.hpp"
#include "hv/virtio/i2c.hpp"
#include "hv/virtio/queue.hpp"
#include "hv/virtio/testing/mock_packed_driver.hpp"
#include "hv/virtio/testing/mock_split_driver.hpp"

namespace hvtest {

using hv::virtio::testing::BufferSpec;

class FakeI2cBus final : public hv::dev::I2cBus {
 public:
  struct Message {
    std::uint8_t address = 0;
    bool read = false;
    std::vector<std::uint8_t> written;  // a write's data as the bus got it
    std::size_t length = 0;
    bool operator==(const Message&) const = default;
  };
  // What a read of `address` returns at byte `i`: distinct per address and position.
  static std::uint8_t read_byte(std::uint8_t address, std::size_t i) {
    return static_cast<std::uint8_t>(address * 7 + i + 1);
  }

  [[nodiscard]] bool serves(std::uint8_t address) const override { return !unserved.contains(address); }
  std::size_t transfer(std::span<const hv::dev::I2cMessage> messages) override {
    auto& recorded = transactions.emplace_back();
    for (const auto& m : messages) {
      if (m.data.data() == nullptr) ++null_data;
      recorded.push_back(
          {m.address, m.read,
           m.read ? std::vector<std::uint8_t>{} : std::vector<std::uint8_t>(m.data.begin(), m.data.end()),
           m.data.size()});
    }
    std::size_t succeeded = messages.size();
    if (!outcomes.empty()) {
      succeeded = std::min(outcomes.front(), messages.size());
      outcomes.pop_front();
    }
    for (std::size_t i = 0; i < succeeded; ++i) {
      if (!messages[i].read) continue;
      for (std::size_t b = 0; b < messages[i].data.size(); ++b) messages[i].data[b] = read_byte(messages[i].address, b);
    }
    return succeeded;
  }

  std::vector<std::vector<Message>> transactions;
  std::deque<std::size_t> outcomes;  // per transfer, how many messages succeed; all when none is left
  std::set<std::uint8_t> unserved;
  int null_data = 0;  // messages whose data() was null (a bus may not be able to take that)
};

// One request as the driver lays it out: where its status byte and its data live.
struct Request {
  std::vector<BufferSpec> buffers;
  std::uint64_t status = 0;
  std::uint64_t data = 0;
};

// The driver's side of one virtio-i2c request queue in `memory`.
class I2cRing {
 public:
  static constexpr std::uint64_t kRings = 0x10000, kIndirect = 0x30000, kData = 0x80000;

  I2cRing(const hv::GuestMemory& memory, bool packed, std::uint16_t size) : memory_(memory), packed_(packed) {
    if (packed_) {
      packed_driver_.emplace(memory, kRings, size, false, kIndirect);
    } else {
      split_driver_.emplace(memory, kRings, size, false, kIndirect);
    }
  }

  [[nodiscard]] hv::virtio::Queue queue() const {
    if (packed_) return hv::virtio::Queue(*hv::virtio::PackedQueue::create(memory_, packed_driver_->config()));
    return hv::virtio::Queue(*hv::virtio::SplitQueue::create(memory_, split_driver_->config()));
  }
  [[nodiscard]] std::vector<std::pair<std::uint16_t, hv::virtio::Queue>> queues() const {
    std::vector<std::pair<std::uint16_t, hv::virtio::Queue>> q;
    q.emplace_back(0, queue());
    return q;
  }

  // Guest memory for a request's parts, never reused; filled with `fill`.
  std::uint64_t alloc(std::size_t bytes, std::uint8_t fill = 0) {
    const std::uint64_t at = next_data_;
    next_data_ += (bytes + 15) & ~std::uint64_t{15};
    if (bytes > 0) (void)memory_.write(at, std::vector<std::uint8_t>(bytes, fill));
    return at;
  }
  // The 8-byte out header at a new place: le16 addr field, le16 padding, le32 flags.
  std::uint64_t header(std::uint16_t addr_field, std::uint32_t flags, std::uint16_t padding = 0) {
    const std::uint64_t at = alloc(8);
    (void)memory_.write_obj(at, addr_field);
    (void)memory_.write_obj(at + 2, padding);
    (void)memory_.write_obj(at + 4, flags);
    return at;
  }
  // A well-formed write of `data` to 7-bit `address` (no data buffer for an empty one).
  Request write(std::uint8_t address, std::vector<std::uint8_t> data, std::uint32_t flags = 0) {
    Request r;
    r.buffers.push_back({header(static_cast<std::uint16_t>(address << 1), flags), 8, false});
    if (!data.empty()) {
      r.data = alloc(data.size());
      (void)memory_.write(r.data, data);
      r.buffers.push_back({r.data, static_cast<std::uint32_t>(data.size()), false});
    }
    r.status = alloc(1, 0xee);
    r.buffers.push_back({r.status, 1, true});
    return r;
  }
  // A well-formed read of `length` bytes (no data buffer for 0); the buffer starts filled with 0xcc.
  Request read(std::uint8_t address, std::uint32_t length, std::uint32_t flags = 0) {
    Request r;
    r.buffers.push_back({header(static_cast<std::uint16_t>(address << 1), flags | hv::virtio::kI2cFlagRead), 8, false});
    if (length > 0) {
      r.data = alloc(length, 0xcc);
      r.buffers.push_back({r.data, length, true});
    }
    r.status = alloc(1, 0xee);
    r.buffers.push_back({r.status, 1, true});
    return r;
  }

  // Makes `request` available (through an indirect table if asked); returns its number, which the
  // used list names it by.
  std::uint16_t add(const Request& request, bool indirect = false) {
    const auto n = next_request_++;
    if (packed_) {
      auto& d = *packed_driver_;
      if (indirect) {
        d.add_indirect_chain(request.buffers, n);
        slots_[n] = 1;
      } else {
        d.add_chain(request.buffers, n);
        slots_[n] = static_cast<std::uint16_t>(request.buffers.size());
      }
    } else {
      auto& d = *split_driver_;
      const std::uint16_t head = indirect ? d.add_indirect_chain(request.buffers) : d.add_chain(request.buffers);
      heads_[head] = n;
      d.make_available(head);
    }
    return n;
  }

  struct Used {
    std::uint16_t request = 0;
    std::uint32_t length = 0;
    bool operator==(const Used&) const = default;
  };
  // Every chain the device used so far, in the order it used them (call after each notify: a split
  // ring's heads are reused).
  const std::vector<Used>& used() {
    if (packed_) {
      for (;;) {
        const auto d = packed_driver_->descriptor(used_slot_);
        const bool avail = (d.flags & (1U << 7)) != 0, used = (d.flags & (1U << 15)) != 0;
        if (avail != used_wrap_ || used != used_wrap_) break;
        used_.push_back({d.id, d.length});
        const std::uint32_t next = used_slot_ + slots_.at(d.id);
        const std::uint16_t size = packed_driver_->config().size;
        if (next >= size) used_wrap_ = !used_wrap_;
        used_slot_ = static_cast<std::uint16_t>(next % size);
      }
    } else {
      while (seen_ != split_driver_->used_index()) {
        const auto e = split_driver_->used(seen_++);
        used_.push_back({heads_.at(static_cast<std::uint16_t>(e.id)), e.length});
      }
    }
    return used_;
  }
  [[nodiscard]] std::uint8_t status(const Request& r) const { return memory_.read_obj<std::uint8_t>(r.status).value(); }
  [[nodiscard]] std::vector<std::uint8_t> bytes(std::uint64_t at, std::size_t n) const {
    std::vector<std::uint8_t> out(n);
    (void)memory_.read(at, out);
    return out;
  }

 private:
  const hv::GuestMemory& memory_;
  bool packed_;
  std::optional<hv::virtio::testing::MockSplitDriver> split_driver_;
  std::optional<hv::virtio::testing::MockPackedDriver> packed_driver_;
  std::uint64_t next_data_ = kData;
  std::uint16_t next_request_ = 0;
  std::map<std::uint16_t, std::uint16_t> heads_;  // split: head -> request number
  std::map<std::uint16_t, std::uint16_t> slots_;  // packed: request number -> ring slots
  std::vector<Used> used_;
  std::uint16_t seen_ = 0;
  std::uint16_t used_slot_ = 0;
  bool used_wrap_ = true;
};

}  // namespace hvtest
