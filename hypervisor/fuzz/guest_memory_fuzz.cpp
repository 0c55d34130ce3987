// Fuzzes GuestMemory with caller-controlled layouts and accesses: addresses near 2^64, lengths that
// cross or miss regions, gaps, read-only regions. Invariants: no crash or out-of-bounds access; a
// write that succeeds reads back identically; a failed write changes nothing; a readable range is
// writable exactly when no read-only region lies in it; slice never hands out read-only memory; the
// inline paths (read_obj, load/store, contains/writable, writable_window) agree with view()/slice().
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_input.hpp"
#include "hv/guest_memory.hpp"

namespace {

using Input = hvfuzz::FuzzInput;

constexpr std::uint64_t kMaxAccess = 3 * hv::kPageSize;

std::uint64_t pick_address(Input& in, const hv::GuestMemory& memory) {
  // Half the time near a region boundary, half the time anywhere (including near 2^64).
  const auto selector = in.take<std::uint8_t>();
  if ((selector & 1) != 0 && !memory.regions().empty()) {
    const auto& region = memory.regions()[(selector >> 1) % memory.regions().size()];
    const auto delta = static_cast<std::int16_t>(in.take<std::uint16_t>());
    return region->guest_base() + (delta < 0 ? region->size() : 0) + static_cast<std::uint64_t>(delta);
  }
  return in.take<std::uint64_t>();
}

// Whether [gpa, gpa + len) touches a read-only region; the range is readable (so fully backed), and
// regions are whole pages, so probing every page step and the last byte meets each region.
bool touches_read_only(const hv::GuestMemory& memory, std::uint64_t gpa, std::size_t len) {
  for (std::uint64_t offset = 0; offset < len; offset += hv::kPageSize) {
    if (memory.permission(gpa + offset) != hv::Permission::ReadWrite) return true;
  }
  return memory.permission(gpa + (len - 1)) != hv::Permission::ReadWrite;
}

// The layout as the fuzzer built it: an oracle independent of GuestMemory's own lookups.
struct ModelRegion {
  std::uint64_t base, size;
  bool writable;
};

// Whether [gpa, gpa + len) lies inside one region (nullptr: none), by the model.
const ModelRegion* model_region(const std::vector<ModelRegion>& model, std::uint64_t gpa, std::uint64_t len) {
  for (const auto& r : model) {
    if (len != 0 && gpa >= r.base && gpa - r.base < r.size && len <= r.size - (gpa - r.base)) return &r;
  }
  return nullptr;
}

// The typed accesses and the inline paths' queries must agree with the model and with the checked
// view()/slice().
void typed_and_fast_paths(const hv::GuestMemory& memory, const std::vector<ModelRegion>& model, std::uint8_t kind,
                          std::uint64_t gpa, std::size_t len) {
  const ModelRegion* inside = model_region(model, gpa, len);
  if (memory.contains(gpa, len) != (inside != nullptr)) __builtin_trap();
  if (memory.writable(gpa, len) != (inside != nullptr && inside->writable)) __builtin_trap();
  switch ((kind >> 2) & 3) {
    case 0: {
      auto v = memory.read_obj<std::uint64_t>(gpa);
      if (v.has_value() != (model_region(model, gpa, 8) != nullptr)) __builtin_trap();
      if (v) (void)memory.write_obj(gpa, *v + 1);  // read-only memory refuses it: expected
      break;
    }
    case 1:
      if (memory.contains(gpa, len) != (len != 0 && memory.view(gpa, len).has_value())) __builtin_trap();
      if (memory.writable(gpa, len) != (len != 0 && memory.slice(gpa, len).has_value())) __builtin_trap();
      break;
    case 2: {
      // Atomic word: only aligned words inside RAM; a store lands exactly there, or changes nothing.
      auto word = memory.load<std::uint32_t>(gpa, std::memory_order_acquire);
      if (word.has_value() != (gpa % 4 == 0 && model_region(model, gpa, 4) != nullptr)) __builtin_trap();
      if (!word) break;
      const bool stored = memory.store<std::uint32_t>(gpa, *word + 1, std::memory_order_release).has_value();
      if (stored != memory.writable(gpa, 4)) __builtin_trap();
      auto after = memory.read_obj<std::uint32_t>(gpa);
      if (!after || *after != (stored ? *word + 1 : *word)) __builtin_trap();
      break;
    }
    default: {
      const hv::GuestWindow window = memory.writable_window(gpa, len);
      if (static_cast<bool>(window) != memory.writable(gpa, len)) __builtin_trap();
      if (!window) break;
      window.write_obj<std::uint8_t>(len - 1, kind);  // the window's last byte is guest RAM at gpa + len - 1
      auto back = memory.read_obj<std::uint8_t>(gpa + (len - 1));
      if (!back || *back != kind) __builtin_trap();
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  hv::GuestMemory memory;
  std::vector<ModelRegion> model;
  const int regions = in.take<std::uint8_t>() % 5;
  for (int i = 0; i < regions; ++i) {
    // Page-granular bases over a 64-bit space (so some sit at the very top), 1..4 pages each.
    const std::uint64_t base = in.take<std::uint64_t>() & ~(hv::kPageSize - 1);
    const auto shape = in.take<std::uint8_t>();
    const std::uint64_t pages = 1 + shape % 4;
    const auto permission = (shape & 0x80) != 0 ? hv::Permission::ReadOnly : hv::Permission::ReadWrite;
    auto region = hv::GuestRegion::create(base, pages * hv::kPageSize);
    // Overlaps are refused: an expected outcome; the model records what was added.
    if (region && memory.add_region(*region, permission)) {
      model.push_back({base, pages * hv::kPageSize, permission == hv::Permission::ReadWrite});
    }
  }
  std::vector<std::uint8_t> buffer(kMaxAccess), check(kMaxAccess);
  for (int op = 0; op < 64 && !in.empty(); ++op) {
    const auto kind = in.take<std::uint8_t>();
    const std::uint64_t gpa = pick_address(in, memory);
    const std::size_t len = in.take<std::uint16_t>() % (kMaxAccess + 1);
    const auto cross = (kind & 0x80) != 0 ? hv::CrossRegion::Allow : hv::CrossRegion::Deny;
    std::span<std::uint8_t> window(buffer.data(), len);
    switch (kind & 3) {
      case 0: (void)memory.read(gpa, window, cross); break;  // may fail: only a crash is a finding
      case 1: {
        std::memset(window.data(), kind, window.size());
        std::span<std::uint8_t> before(check.data(), len);
        const bool readable = static_cast<bool>(memory.read(gpa, before, cross));
        const bool read_only = readable && touches_read_only(memory, gpa, len);
        auto written = memory.write(gpa, window, cross);
        if (written) {
          if (read_only) __builtin_trap();  // a device wrote read-only memory
          if (!memory.read(gpa, before, cross) || std::memcmp(before.data(), window.data(), len) != 0) __builtin_trap();
        } else if (readable) {
          // The same range was readable: only a read-only region in it may refuse the write, and
          // then nothing changed.
          if (!read_only || written.error().kind() != hv::ErrorKind::PermissionDenied) __builtin_trap();
          std::span<std::uint8_t> after(buffer.data(), len);
          if (!memory.read(gpa, after, cross) || std::memcmp(after.data(), check.data(), len) != 0) __builtin_trap();
        }
        break;
      }
      case 2: {
        if ((kind & 4) != 0) {
          auto v = memory.view(gpa, len);
          if (v && !v->empty()) (void)*static_cast<volatile const std::uint8_t*>(&v->back());  // ASan: host memory
          break;
        }
        auto s = memory.slice(gpa, len);
        if (s && memory.permission(gpa) != hv::Permission::ReadWrite) __builtin_trap();  // writable ROM
        if (s && !s->empty()) s->back() ^= 1;  // ASan checks the span really is host memory
        break;
      }
      default: typed_and_fast_paths(memory, model, kind, gpa, len); break;
    }
  }
  return 0;
}
