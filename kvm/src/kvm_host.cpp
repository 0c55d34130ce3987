#include "kvm_host.hpp"

#include "kvm_abi.hpp"
#include "kvm_ioctl.hpp"
#include "kvm_register_conversion.hpp"
#include "kvm_var_struct.hpp"

namespace hv::kvm::detail {

int KvmHost::check_extension(long capability) const noexcept {
  auto r = kvm_ioctl(fd.get(), abi::kCheckExtension, "KVM_CHECK_EXTENSION", capability);
  return r ? *r : 0;
}

Result<std::vector<CpuidEntry>> KvmHost::supported_cpuid() const {
  // KVM answers E2BIG while the buffer is too small; the real table has ~60 entries.
  for (std::size_t capacity = 128; capacity <= 4096; capacity *= 2) {
    VarStruct<abi::Cpuid2Header, kvm_cpuid_entry2> buffer(capacity);
    buffer.header()->nent = static_cast<__u32>(capacity);
    auto r = kvm_ioctl(fd.get(), abi::kGetSupportedCpuid, "KVM_GET_SUPPORTED_CPUID", buffer.data());
    if (!r) {
      if (r.error().sys_errno() == E2BIG) continue;
      return tl::unexpected(r.error());
    }
    const std::size_t n = std::min<std::size_t>(buffer.header()->nent, capacity);
    std::vector<CpuidEntry> out;
    out.reserve(n);
    for (const auto& e : buffer.entries().first(n)) out.push_back(from_kvm(e));
    return out;
  }
  return fail(ErrorKind::ResourceExhausted, "KVM_GET_SUPPORTED_CPUID", "more than 4096 CPUID entries");
}

}  // namespace hv::kvm::detail
