#pragma once
// Interrupt and doorbell descriptions shared by every backend.

#include <cstdint>
#include <optional>
#include <variant>

namespace hv {

// An MSI as the device writes it: the address/data pair of the PCI/virtio MSI capability.
struct MsiMessage {
  std::uint64_t address = 0;
  std::uint32_t data = 0;
};

// GSI routing entries: a GSI either drives a pin of the in-kernel PIC/IOAPIC or sends an MSI.
struct IrqchipPinRoute {
  std::uint32_t gsi = 0;
  std::uint32_t chip = 0;  // 0: PIC master, 1: PIC slave, 2: IOAPIC
  std::uint32_t pin = 0;
};
struct MsiRoute {
  std::uint32_t gsi = 0;
  MsiMessage message;
};
using GsiRoute = std::variant<IrqchipPinRoute, MsiRoute>;

// Where an ioeventfd listens: a guest write of `length` bytes (1, 2, 4 or 8) to a port or a GPA,
// optionally only when the written value equals `datamatch`.
enum class IoEventSpace : std::uint8_t { Pio, Mmio };
struct IoEventAddress {
  IoEventSpace space = IoEventSpace::Mmio;
  std::uint64_t address = 0;
  std::uint32_t length = 4;
  std::optional<std::uint64_t> datamatch;
  bool operator==(const IoEventAddress&) const = default;
};

}  // namespace hv
