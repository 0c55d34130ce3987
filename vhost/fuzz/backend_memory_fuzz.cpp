// The backend's memory table fed a hostile frontend's SET_MEM_TABLE / ADD_MEM_REG / REM_MEM_REG
// messages (any payload, any descriptor count, regions over a real 64 KiB memfd). Invariants: no
// crash, no out-of-bounds access (ASan), no SIGBUS (a region past the end of its file is refused
// before it is mapped), a refused change leaves the table as it was, and every published layout
// matches the table: each region reachable at its guest address, and every translated user address
// inside the layout.
#include "fuzz_frontend.hpp"
#include "hv/vhost/backend_memory.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  hvfuzz::FuzzInput in(data, size);
  hv::vhost::BackendMemoryTable table;
  for (int step = 0; step < 16 && !in.empty(); ++step) {
    const auto op = in.take<std::uint8_t>() % 3;
    hv::vhost::Message m = hvfuzz::take_message(in);
    const auto before = table.memory();
    const auto count = table.region_count();
    hv::Result<void> r = op == 0 ? table.set_table(m) : op == 1 ? table.add_region(m) : table.remove_region(m);
    if (!r && (table.memory() != before || table.region_count() != count)) __builtin_trap();
    const auto memory = table.memory();
    if (memory->regions().size() != table.region_count()) __builtin_trap();
    if (table.region_count() > hv::vhost::kBackendMemSlots) __builtin_trap();
    for (const auto& region : memory->regions()) {
      // Every byte of every region is backed: touch the first and the last (SIGBUS if not).
      auto first = memory->read_obj<std::uint8_t>(region->guest_base());
      auto last = memory->read_obj<std::uint8_t>(region->guest_base() + region->size() - 1);
      if (!first || !last) __builtin_trap();
    }
    const auto uva = in.take<std::uint64_t>();
    const auto len = std::uint64_t{in.take<std::uint16_t>()};
    if (auto gpa = table.translate(uva, len); gpa && !memory->contains(*gpa, len)) __builtin_trap();
  }
  return 0;
}
