// The counting MshvSystem decorator (hv/mshv/counting_system.hpp). It reads the two structs it needs
// to classify a call — RootHvcall's code before the call, the message header RUN_VP wrote after it —
// by copying them out of `arg`, which the ABI defines for those request numbers (mshv_abi.hpp).
#include "hv/mshv/counting_system.hpp"

#include <array>
#include <cstring>
#include <numeric>
#include <utility>

#include "hv/error.hpp"
#include "mshv_abi.hpp"

namespace hv::mshv {

namespace {

template <class Key>
std::uint64_t sum(const std::map<Key, std::uint64_t>& counts) {
  return std::accumulate(counts.begin(), counts.end(), std::uint64_t{0},
                         [](std::uint64_t total, const auto& entry) { return total + entry.second; });
}

template <class Key>
std::uint64_t find(const std::map<Key, std::uint64_t>& counts, Key key) {
  const auto it = counts.find(key);
  return it == counts.end() ? 0 : it->second;
}

void add(CallCounts& counts, std::uint32_t request, bool is_hypercall, std::uint16_t code) {
  ++counts.ioctls[request];
  if (is_hypercall) ++counts.hypercalls[code];
}

}  // namespace

std::uint64_t CallCounts::ioctl(std::uint32_t request) const { return find(ioctls, request); }
std::uint64_t CallCounts::hypercall(std::uint16_t code) const { return find(hypercalls, code); }
std::uint64_t CallCounts::total_ioctls() const { return sum(ioctls); }
std::uint64_t CallCounts::total_hypercalls() const { return sum(hypercalls); }

CountingSystem::CountingSystem(std::shared_ptr<MshvSystem> inner) : inner_(std::move(inner)) {}

int CountingSystem::open_device() noexcept { return inner_->open_device(); }

long CountingSystem::ioctl(int fd, std::uint32_t request, void* arg) noexcept {
  const bool is_hypercall = request == abi::kRootHvcall && arg != nullptr;
  std::uint16_t code = 0;
  if (is_hypercall) {
    abi::RootHvcall call{};
    std::memcpy(&call, arg, sizeof call);
    code = call.code;
  }
  // Not under the mutex: RUN_VP blocks for as long as the guest runs, and other VPs' calls go on.
  const long result = inner_->ioctl(fd, request, arg);
  std::lock_guard lock(mutex_);
  add(totals_, request, is_hypercall, code);
  if (request == abi::kRunVp) {
    open_intercept_.erase(fd);
    if (result < 0 || arg == nullptr) return result;  // interrupted: no intercept to charge
    abi::HvMessageHeader header{};
    std::memcpy(&header, arg, sizeof header);
    auto& cost = per_intercept_[header.message_type];
    if (cost.name.empty()) cost.name = message_type_name(header.message_type);
    ++cost.intercepts;
    add(cost.calls, request, false, 0);
    open_intercept_[fd] = header.message_type;
    return result;
  }
  if (const auto open = open_intercept_.find(fd); open != open_intercept_.end()) {
    add(per_intercept_[open->second].calls, request, is_hypercall, code);
  }
  return result;
}

void CountingSystem::close(int fd) noexcept {
  {
    std::lock_guard lock(mutex_);
    open_intercept_.erase(fd);
  }
  inner_->close(fd);
}

PageMapping CountingSystem::map_vp_page(int vp_fd, std::uint64_t page_offset) noexcept {
  PageMapping mapping = inner_->map_vp_page(vp_fd, page_offset);
  std::lock_guard lock(mutex_);
  ++totals_.vp_page_mappings;
  if (const auto open = open_intercept_.find(vp_fd); open != open_intercept_.end()) {
    ++per_intercept_[open->second].calls.vp_page_mappings;
  }
  return mapping;
}

std::string CountingSystem::describe() const { return inner_->describe() + " (counted)"; }

CallCounts CountingSystem::totals() const {
  std::lock_guard lock(mutex_);
  return totals_;
}

std::map<std::uint32_t, InterceptCost> CountingSystem::per_intercept() const {
  std::lock_guard lock(mutex_);
  return per_intercept_;
}

void CountingSystem::end_intercepts() {
  std::lock_guard lock(mutex_);
  open_intercept_.clear();
}

void CountingSystem::reset() {
  std::lock_guard lock(mutex_);
  totals_ = {};
  per_intercept_.clear();
  open_intercept_.clear();
}

std::string ioctl_name(std::uint32_t request) {
  static constexpr std::array<std::pair<std::uint32_t, const char*>, 12> kNames = {{
      {abi::kCreatePartition, "MSHV_CREATE_PARTITION"},
      {abi::kInitializePartition, "MSHV_INITIALIZE_PARTITION"},
      {abi::kCreateVp, "MSHV_CREATE_VP"},
      {abi::kSetGuestMemory, "MSHV_SET_GUEST_MEMORY"},
      {abi::kIrqfd, "MSHV_IRQFD"},
      {abi::kIoeventfd, "MSHV_IOEVENTFD"},
      {abi::kSetMsiRouting, "MSHV_SET_MSI_ROUTING"},
      {abi::kGetGpapAccessBitmap, "MSHV_GET_GPAP_ACCESS_BITMAP"},
      {abi::kRootHvcall, "MSHV_ROOT_HVCALL"},
      {abi::kRunVp, "MSHV_RUN_VP"},
      {abi::kGetVpState, "MSHV_GET_VP_STATE"},
      {abi::kSetVpState, "MSHV_SET_VP_STATE"},
  }};
  for (const auto& [number, name] : kNames) {
    if (number == request) return name;
  }
  return hex(request);
}

std::string hypercall_name(std::uint16_t code) {
  static constexpr std::array<std::pair<std::uint16_t, const char*>, 14> kNames = {{
      {abi::kHvcallGetPartitionProperty, "HVCALL_GET_PARTITION_PROPERTY"},
      {abi::kHvcallSetPartitionProperty, "HVCALL_SET_PARTITION_PROPERTY"},
      {abi::kHvcallInstallIntercept, "HVCALL_INSTALL_INTERCEPT"},
      {abi::kHvcallGetVpRegisters, "HVCALL_GET_VP_REGISTERS"},
      {abi::kHvcallSetVpRegisters, "HVCALL_SET_VP_REGISTERS"},
      {abi::kHvcallTranslateVirtualAddress, "HVCALL_TRANSLATE_VIRTUAL_ADDRESS"},
      {abi::kHvcallClearVirtualInterrupt, "HVCALL_CLEAR_VIRTUAL_INTERRUPT"},
      {abi::kHvcallRegisterInterceptResult, "HVCALL_REGISTER_INTERCEPT_RESULT"},
      {abi::kHvcallAssertVirtualInterrupt, "HVCALL_ASSERT_VIRTUAL_INTERRUPT"},
      {abi::kHvcallSignalEventDirect, "HVCALL_SIGNAL_EVENT_DIRECT"},
      {abi::kHvcallPostMessageDirect, "HVCALL_POST_MESSAGE_DIRECT"},
      {abi::kHvcallGetGpaPagesAccessStates, "HVCALL_GET_GPA_PAGES_ACCESS_STATES"},
      {abi::kHvcallGetVpCpuidValues, "HVCALL_GET_VP_CPUID_VALUES"},
      {abi::kHvcallGetPartitionPropertyEx, "HVCALL_GET_PARTITION_PROPERTY_EX"},
  }};
  for (const auto& [number, name] : kNames) {
    if (number == code) return name;
  }
  return hex(code);
}

std::string message_type_name(std::uint32_t type) {
  static constexpr std::array<std::pair<std::uint32_t, const char*>, 13> kNames = {{
      {abi::kMsgNone, "NONE"},
      {abi::kMsgUnmappedGpa, "UNMAPPED_GPA"},
      {abi::kMsgGpaIntercept, "GPA_INTERCEPT"},
      {abi::kMsgTimerExpired, "TIMER_EXPIRED"},
      {abi::kMsgInvalidVpRegisterValue, "INVALID_VP_REGISTER_VALUE"},
      {abi::kMsgUnrecoverableException, "UNRECOVERABLE_EXCEPTION"},
      {abi::kMsgUnsupportedFeature, "UNSUPPORTED_FEATURE"},
      {abi::kMsgX64IoPortIntercept, "X64_IO_PORT_INTERCEPT"},
      {abi::kMsgX64MsrIntercept, "X64_MSR_INTERCEPT"},
      {abi::kMsgX64CpuidIntercept, "X64_CPUID_INTERCEPT"},
      {abi::kMsgX64ExceptionIntercept, "X64_EXCEPTION_INTERCEPT"},
      {abi::kMsgX64ApicEoi, "X64_APIC_EOI"},
      {abi::kMsgX64Halt, "X64_HALT"},
  }};
  for (const auto& [number, name] : kNames) {
    if (number == type) return name;
  }
  return hex(type);
}

}  // namespace hv::mshv
