#pragma once
// The open /dev/kvm handle and what it says about the host, shared by the Hypervisor and its VMs.

#include <cstddef>
#include <vector>

#include "hv/error.hpp"
#include "hv/unique_fd.hpp"
#include "hv/x86_registers.hpp"

namespace hv::kvm::detail {

struct KvmHost {
  UniqueFd fd;
  int api_version = 0;
  std::size_t vcpu_mmap_size = 0;

  // KVM_CHECK_EXTENSION on /dev/kvm: 0 when absent.
  [[nodiscard]] int check_extension(long capability) const noexcept;
  [[nodiscard]] Result<std::vector<CpuidEntry>> supported_cpuid() const;
};

}  // namespace hv::kvm::detail
