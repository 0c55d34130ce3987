#pragma once
// A Vm for tests whose every backend call fails with Unsupported ("stub VM"); a test derives from it
// and overrides only what it exercises. Memory mapping succeeds with increasing slot ids, so that
// Vm::map_memory and Vm::memory() work as with a real backend.

#include <cstdint>
#include <memory>
#include <span>

#include "hv/hypervisor.hpp"

namespace hv::testing {

class StubVm : public Vm {
 public:
  Result<std::unique_ptr<Vcpu>> create_vcpu(std::uint32_t) override { return refuse("create_vcpu"); }
  Result<void> register_irqfd(const EventFd&, std::uint32_t) override { return refuse("register_irqfd"); }
  Result<void> unregister_irqfd(const EventFd&, std::uint32_t) override { return refuse("unregister_irqfd"); }
  Result<void> register_ioeventfd(const EventFd&, const IoEventAddress&) override {
    return refuse("register_ioeventfd");
  }
  Result<void> unregister_ioeventfd(const EventFd&, const IoEventAddress&) override {
    return refuse("unregister_ioeventfd");
  }
  Result<void> signal_msi(const MsiMessage&) override { return refuse("signal_msi"); }
  Result<void> set_gsi_routing(std::span<const GsiRoute>) override { return refuse("set_gsi_routing"); }
  Result<void> set_irq_line(std::uint32_t, bool) override { return refuse("set_irq_line"); }

 protected:
  Result<MemorySlot> map_region(std::shared_ptr<GuestRegion>, MapOptions) override { return MemorySlot{next_slot_++}; }
  Result<void> unmap_region(MemorySlot) override { return {}; }
  Result<void> start_dirty_log(MemorySlot) override { return refuse("enable_dirty_log"); }
  Result<DirtyBitmap> fetch_guest_dirty_log(MemorySlot) override { return refuse("fetch_and_clear_dirty_log"); }
  Result<void> stop_dirty_log(MemorySlot) override { return refuse("disable_dirty_log"); }
  static tl::unexpected<Error> refuse(const char* operation) {
    return fail(ErrorKind::Unsupported, operation, "not implemented by this stub VM");
  }

 private:
  std::uint32_t next_slot_ = 0;
};

}  // namespace hv::testing
