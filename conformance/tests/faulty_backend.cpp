#include "faulty_backend.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <vector>

namespace hvtest {

namespace {

class FaultyVcpu final : public hv::Vcpu {
 public:
  FaultyVcpu(std::unique_ptr<hv::Vcpu> real, Fault fault) : real_(std::move(real)), fault_(fault) {}
  std::uint32_t id() const noexcept override { return real_->id(); }
  void kick() noexcept override {
    // The harness's watchdog also stops guests with kick(), so only the first kick may be lost.
    if (fault_ == Fault::LoseFirstKick && !lost_one_.exchange(true)) return;
    real_->kick();
  }
  hv::Result<hv::GeneralRegisters> get_registers() const override { return real_->get_registers(); }
  hv::Result<void> set_registers(const hv::GeneralRegisters& r) override { return real_->set_registers(r); }
  hv::Result<hv::SpecialRegisters> get_special_registers() const override { return real_->get_special_registers(); }
  hv::Result<void> set_special_registers(const hv::SpecialRegisters& s) override {
    return real_->set_special_registers(s);
  }
  hv::Result<hv::FpuState> get_fpu() const override { return real_->get_fpu(); }
  hv::Result<void> set_fpu(const hv::FpuState& f) override { return real_->set_fpu(f); }
  hv::Result<hv::XsaveArea> get_xsave() const override { return real_->get_xsave(); }
  hv::Result<void> set_xsave(const hv::XsaveArea& x) override { return real_->set_xsave(x); }
  hv::Result<void> get_msrs(std::span<hv::MsrEntry> e) const override { return real_->get_msrs(e); }
  hv::Result<void> set_msrs(std::span<const hv::MsrEntry> e) override { return real_->set_msrs(e); }
  hv::Result<void> set_cpuid(std::span<const hv::CpuidEntry> e) override { return real_->set_cpuid(e); }
  hv::Result<std::vector<hv::CpuidEntry>> get_cpuid() const override { return real_->get_cpuid(); }
  hv::Result<hv::LapicState> get_lapic() const override { return real_->get_lapic(); }
  hv::Result<void> set_lapic(const hv::LapicState& l) override { return real_->set_lapic(l); }

 protected:
  hv::Result<hv::Exit> run_guest(hv::IoHandler& io) override {
    FaultyIo faulty(io, fault_);
    return real_->run(faulty);
  }

 private:
  // Stands between the real vCPU and the VMM's handler and breaks what the fault says.
  class FaultyIo final : public hv::IoHandler {
   public:
    FaultyIo(hv::IoHandler& real, Fault fault) : real_(real), fault_(fault) {}
    void pio_read(std::uint16_t port, std::span<std::uint8_t> data) noexcept override {
      real_.pio_read(port, data);
      if (fault_ == Fault::DropReadData) std::fill(data.begin(), data.end(), std::uint8_t{0});
    }
    void pio_write(std::uint16_t port, std::span<const std::uint8_t> data) noexcept override {
      real_.pio_write(port, data);
    }
    void mmio_read(std::uint64_t address, std::span<std::uint8_t> data) noexcept override {
      if (fault_ == Fault::MisreportMmioSize) {
        std::array<std::uint8_t, 8> wrong{};
        wrong.fill(0xff);
        const auto shown = std::span(wrong).first(misreported_size(data.size()));
        real_.mmio_read(address, shown);
        std::copy_n(shown.begin(), std::min(shown.size(), data.size()), data.begin());
        return;
      }
      real_.mmio_read(address, data);
      if (fault_ == Fault::DropReadData) std::fill(data.begin(), data.end(), std::uint8_t{0});
    }
    void mmio_write(std::uint64_t address, std::span<const std::uint8_t> data) noexcept override {
      if (fault_ == Fault::MisreportMmioSize) {
        std::array<std::uint8_t, 8> wrong{};
        std::copy_n(data.begin(), std::min(data.size(), wrong.size()), wrong.begin());
        real_.mmio_write(address, std::span<const std::uint8_t>(wrong).first(misreported_size(data.size())));
        return;
      }
      real_.mmio_write(address, data);
    }

   private:
    static std::size_t misreported_size(std::size_t size) { return size == 1 ? 2 : size / 2; }
    hv::IoHandler& real_;
    Fault fault_;
  };

  std::unique_ptr<hv::Vcpu> real_;
  Fault fault_;
  std::atomic<bool> lost_one_{false};
};

class FaultyVm final : public hv::Vm {
 public:
  FaultyVm(std::unique_ptr<hv::Vm> real, Fault fault) : real_(std::move(real)), fault_(fault) {}
  hv::Result<std::unique_ptr<hv::Vcpu>> create_vcpu(std::uint32_t id) override {
    auto vcpu = real_->create_vcpu(id);
    if (!vcpu) return tl::unexpected(vcpu.error());
    return std::unique_ptr<hv::Vcpu>(std::make_unique<FaultyVcpu>(std::move(*vcpu), fault_));
  }
  hv::Result<void> register_irqfd(const hv::EventFd& e, std::uint32_t g) override {
    return real_->register_irqfd(e, g);
  }
  hv::Result<void> unregister_irqfd(const hv::EventFd& e, std::uint32_t g) override {
    return real_->unregister_irqfd(e, g);
  }
  hv::Result<void> register_ioeventfd(const hv::EventFd& e, const hv::IoEventAddress& a) override {
    return real_->register_ioeventfd(e, a);
  }
  hv::Result<void> unregister_ioeventfd(const hv::EventFd& e, const hv::IoEventAddress& a) override {
    return real_->unregister_ioeventfd(e, a);
  }
  hv::Result<void> signal_msi(const hv::MsiMessage& m) override { return real_->signal_msi(m); }
  hv::Result<void> set_gsi_routing(std::span<const hv::GsiRoute> r) override { return real_->set_gsi_routing(r); }
  hv::Result<void> set_irq_line(std::uint32_t g, bool l) override { return real_->set_irq_line(g, l); }

 protected:
  hv::Result<hv::MemorySlot> map_region(std::shared_ptr<hv::GuestRegion> r, hv::MapOptions o) override {
    return real_->map_memory(std::move(r), o);
  }
  hv::Result<void> unmap_region(hv::MemorySlot s) override { return real_->unmap_memory(s); }
  hv::Result<void> start_dirty_log(hv::MemorySlot s) override { return real_->enable_dirty_log(s); }
  hv::Result<hv::DirtyBitmap> fetch_guest_dirty_log(hv::MemorySlot s) override {
    return real_->fetch_and_clear_dirty_log(s);
  }
  hv::Result<void> stop_dirty_log(hv::MemorySlot s) override { return real_->disable_dirty_log(s); }

 private:
  std::unique_ptr<hv::Vm> real_;
  Fault fault_;
};

class FaultyHypervisor final : public hv::Hypervisor {
 public:
  FaultyHypervisor(std::unique_ptr<hv::Hypervisor> real, Fault fault) : real_(std::move(real)), fault_(fault) {}
  std::string_view name() const noexcept override { return "faulty"; }
  std::uint32_t api_version() const noexcept override { return real_->api_version(); }
  hv::Result<std::uint64_t> capability(hv::Capability c) const override { return real_->capability(c); }
  hv::Result<std::vector<hv::CpuidEntry>> supported_cpuid() const override { return real_->supported_cpuid(); }
  hv::Result<std::unique_ptr<hv::Vm>> create_vm(const hv::VmOptions& o) override {
    auto vm = real_->create_vm(o);
    if (!vm) return tl::unexpected(vm.error());
    return std::unique_ptr<hv::Vm>(std::make_unique<FaultyVm>(std::move(*vm), fault_));
  }

 private:
  std::unique_ptr<hv::Hypervisor> real_;
  Fault fault_;
};

}  // namespace

std::unique_ptr<hv::Hypervisor> make_faulty(std::unique_ptr<hv::Hypervisor> real, Fault fault) {
  return std::make_unique<FaultyHypervisor>(std::move(real), fault);
}

}  // namespace hvtest
