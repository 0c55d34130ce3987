#include "hv/vmm/mp_table.hpp"

#include <cstring>
#include <string>
#include <utility>

namespace hv::vmm {

namespace {

// Intel MultiProcessor Specification 1.4, chapter 4.
constexpr std::size_t kFloatingSize = 16, kHeaderSize = 44, kProcessorSize = 20, kEntrySize = 8;
constexpr std::uint8_t kSpecRevision = 4;
constexpr std::uint8_t kLapicVersion = 0x14, kIoApicVersion = 0x11;
constexpr std::uint8_t kTypeProcessor = 0, kTypeBus = 1, kTypeIoApic = 2, kTypeIoInterrupt = 3, kTypeLocalInterrupt = 4;
constexpr std::uint8_t kIntTypeInt = 0, kIntTypeNmi = 1, kIntTypeExtInt = 3;
constexpr std::uint8_t kCpuEnabled = 1, kCpuBootstrap = 2;
constexpr std::uint32_t kCpuSignature = 0x600;  // family 6: only informative, Linux reads CPUID
constexpr std::uint32_t kCpuFeatures = 0x201;   // FPU and APIC
constexpr std::uint64_t kBelowOneMiB = 0x100000;

void put_bytes(std::vector<std::uint8_t>& out, std::size_t offset, const void* bytes, std::size_t n) {
  std::memcpy(&out[offset], bytes, n);  // offsets are computed from mp_table_size, inside `out`
}
template <class T>
void put(std::vector<std::uint8_t>& out, std::size_t offset, T value) {
  put_bytes(out, offset, &value, sizeof value);
}

// The byte that makes `n` bytes from `offset` sum to zero, modulo 256 (the specification's checksum).
std::uint8_t checksum(const std::vector<std::uint8_t>& bytes, std::size_t offset, std::size_t n) {
  std::uint8_t sum = 0;
  for (std::size_t i = 0; i < n; ++i) sum = static_cast<std::uint8_t>(sum + bytes[offset + i]);
  return static_cast<std::uint8_t>(0x100 - sum);
}

}  // namespace

std::uint64_t mp_table_size(std::uint32_t vcpus) noexcept {
  const std::uint64_t entries = 1 /* bus */ + 1 /* IOAPIC */ + kMpIoApicPins + 2 /* LINT0, LINT1 */;
  return kFloatingSize + kHeaderSize + std::uint64_t{vcpus} * kProcessorSize + entries * kEntrySize;
}

Result<std::vector<std::uint8_t>> build_mp_table(std::uint64_t address, std::uint32_t vcpus) {
  constexpr const char* op = "build_mp_table";
  if (vcpus == 0 || vcpus > 254) return fail(ErrorKind::InvalidArgument, op, "1 to 254 vCPUs");
  if (address % 16 != 0 || address >= kBelowOneMiB || mp_table_size(vcpus) > kBelowOneMiB - address) {
    return fail(ErrorKind::InvalidArgument, op, "the table must be 16-byte aligned and end below 1 MiB");
  }
  std::vector<std::uint8_t> out(mp_table_size(vcpus));
  const auto table = static_cast<std::uint32_t>(address + kFloatingSize);
  const auto ioapic_id = static_cast<std::uint8_t>(vcpus);
  // Floating pointer structure.
  put_bytes(out, 0, "_MP_", 4);
  put<std::uint32_t>(out, 4, table);
  out[8] = 1;  // length in 16-byte units
  out[9] = kSpecRevision;
  // feature bytes 1-5 zero: a configuration table is present; IMCRP clear (virtual wire mode)
  out[10] = checksum(out, 0, kFloatingSize);
  // Configuration table: header, then the entries.
  const std::size_t base = kFloatingSize;
  std::size_t at = base + kHeaderSize;
  std::uint16_t count = 0;
  for (std::uint32_t cpu = 0; cpu < vcpus; ++cpu, ++count) {
    out[at] = kTypeProcessor;
    out[at + 1] = static_cast<std::uint8_t>(cpu);  // local APIC id: KVM's vCPU id
    out[at + 2] = kLapicVersion;
    out[at + 3] = static_cast<std::uint8_t>(kCpuEnabled | (cpu == 0 ? kCpuBootstrap : 0));
    put<std::uint32_t>(out, at + 4, kCpuSignature);
    put<std::uint32_t>(out, at + 8, kCpuFeatures);
    at += kProcessorSize;
  }
  out[at] = kTypeBus;
  put_bytes(out, at + 2, "ISA   ", 6);
  at += kEntrySize, ++count;
  out[at] = kTypeIoApic;
  out[at + 1] = ioapic_id;
  out[at + 2] = kIoApicVersion;
  out[at + 3] = 1;  // enabled
  put<std::uint32_t>(out, at + 4, static_cast<std::uint32_t>(kIoApicAddress));
  at += kEntrySize, ++count;
  for (std::uint32_t pin = 0; pin < kMpIoApicPins; ++pin, ++count) {
    // ISA IRQ n (and, beyond 15, the virtio GSIs) on IOAPIC pin n, as KVM's default routing has
    // them; flags 0: the bus's default polarity and trigger (ISA: active high, edge).
    out[at] = kTypeIoInterrupt;
    out[at + 1] = kIntTypeInt;
    out[at + 4] = 0;  // source bus: ISA
    out[at + 5] = static_cast<std::uint8_t>(pin);
    out[at + 6] = ioapic_id;
    out[at + 7] = static_cast<std::uint8_t>(pin);
    at += kEntrySize;
  }
  for (const auto& [type, lint] : {std::pair{kIntTypeExtInt, 0}, std::pair{kIntTypeNmi, 1}}) {
    out[at] = kTypeLocalInterrupt;
    out[at + 1] = type;
    out[at + 6] = 0xff;  // every local APIC
    out[at + 7] = static_cast<std::uint8_t>(lint);
    at += kEntrySize, ++count;
  }
  put_bytes(out, base, "PCMP", 4);
  put<std::uint16_t>(out, base + 4, static_cast<std::uint16_t>(out.size() - base));
  out[base + 6] = kSpecRevision;
  put_bytes(out, base + 8, "HVKIT   ", 8);
  put_bytes(out, base + 16, "LINUX BOOT  ", 12);
  put<std::uint16_t>(out, base + 34, count);
  put<std::uint32_t>(out, base + 36, static_cast<std::uint32_t>(kLapicAddress));
  out[base + 7] = checksum(out, base, out.size() - base);
  return out;
}

}  // namespace hv::vmm
