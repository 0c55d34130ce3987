#pragma once
// The VP register page as the backend uses it (docs/mshv-abi.md §10.1; docs/mshv.md, "The register
// page"): mapped once per VP after MSHV_CREATE_VP, as rust-vmm mshv-ioctls VmFd::create_vcpu does;
// while its `isvalid` byte is set it holds the VP's state at the last intercept, and registers
// written into it (with their class's bit in `dirty`) are applied by the hypervisor at the next
// RUN_VP. Reads and writes here cost no hypercall. Only mshv/src includes this.

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "hv/mshv/system.hpp"
#include "mshv_abi.hpp"

namespace hv::mshv::detail {

class VpRegisterPage {
 public:
  VpRegisterPage() = default;
  explicit VpRegisterPage(std::unique_ptr<MappedPage> page) noexcept : page_(std::move(page)) {}

  [[nodiscard]] bool mapped() const noexcept { return page_ != nullptr; }
  // Mapped, and `isvalid` set: the page holds the VP's state. Read afresh each time (the hypervisor
  // sets and clears it).
  [[nodiscard]] bool valid() const noexcept;

  // Whether every name is on the page: RAX..R15, RIP, RFLAGS, and for reading also ES CS SS DS FS GS.
  [[nodiscard]] static bool readable(std::span<const std::uint32_t> names) noexcept;
  [[nodiscard]] static bool writable(std::span<const abi::HvRegisterAssoc> assocs) noexcept;

  // Only while valid(), and only names that are readable(): fills `values` (same length) from the page.
  void read(std::span<const std::uint32_t> names, std::span<abi::HvRegisterValue> values) const noexcept;
  // Only while valid(), and only assocs that are writable(): stores the values and sets the dirty bits
  // of their classes (GENERAL for RAX..R15, IP for RIP, FLAGS for RFLAGS), which make the hypervisor
  // load the whole class from the page at the next RUN_VP: the rest of the class must be the VP's, as
  // it is while the page is valid.
  void write(std::span<const abi::HvRegisterAssoc> assocs) noexcept;

  // Whether the name has a slot on the page (a readable register).
  [[nodiscard]] static bool on_page(std::uint32_t name) noexcept;
  // Only while valid(): the registers written into the page and not yet applied (the registers of
  // every class whose dirty bit is set), and the dirty bits themselves, which are cleared: the caller
  // now applies those registers itself (in one SET_VP_REGISTERS, before what it sets after them), and
  // gives the bits back with restore_dirty() if that fails.
  [[nodiscard]] std::vector<abi::HvRegisterAssoc> take_pending(std::uint32_t& dirty) noexcept;
  void restore_dirty(std::uint32_t dirty) noexcept;
  // Only while valid(): stores the values of the assocs that have a slot, setting no dirty bit — the
  // VP already has them (a SET_VP_REGISTERS just wrote them), and the page must not go stale.
  void refresh(std::span<const abi::HvRegisterAssoc> assocs) noexcept;

 private:
  std::unique_ptr<MappedPage> page_;
};

// Maps `vp`'s register page (MSHV_VP_MMAP_OFFSET_REGISTERS). An unmapped page when the system refuses
// (ENODEV: a partition type without one, Linux mshv_vp_mmap) or fails: the backend then uses
// HVCALL_GET/SET_VP_REGISTERS for everything, as it does while the page is not valid.
VpRegisterPage map_register_page(MshvSystem& system, int vp_fd) noexcept;

}  // namespace hv::mshv::detail
