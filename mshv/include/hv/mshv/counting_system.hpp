#pragma once
// An MshvSystem decorator that counts what the backend asks of /dev/mshv: every ioctl by request
// number, every MSHV_ROOT_HVCALL by hypercall code, and, per intercept message type, what handling one
// intercept cost. On a real Hyper-V root partition each hypercall is a trip into the hypervisor, so
// these counts are the cost of an exit there, whatever the simulator's own speed (docs/mshv.md).

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "hv/mshv/system.hpp"

namespace hv::mshv {

struct CallCounts {
  std::map<std::uint32_t, std::uint64_t> ioctls;      // by request number, failed calls included
  std::map<std::uint16_t, std::uint64_t> hypercalls;  // MSHV_ROOT_HVCALL by hypercall code
  // map_vp_page calls (mmap of a VP page), failed ones included. Reading and writing a mapped register
  // page makes no system call and no hypercall: nothing counts it.
  std::uint64_t vp_page_mappings = 0;
  [[nodiscard]] std::uint64_t ioctl(std::uint32_t request) const;
  [[nodiscard]] std::uint64_t hypercall(std::uint16_t code) const;
  [[nodiscard]] std::uint64_t total_ioctls() const;
  [[nodiscard]] std::uint64_t total_hypercalls() const;
};

// What the intercepts of one message type cost: `intercepts` RUN_VP calls delivered one, and `calls`
// holds those RUN_VP calls plus every call made on the same VP descriptor after each of them, up to
// the next RUN_VP on it (or end_intercepts()).
struct InterceptCost {
  std::string name;  // "X64_IO_PORT_INTERCEPT", ...
  std::uint64_t intercepts = 0;
  CallCounts calls;
};

class CountingSystem final : public MshvSystem {
 public:
  explicit CountingSystem(std::shared_ptr<MshvSystem> inner);
  int open_device() noexcept override;
  long ioctl(int fd, std::uint32_t request, void* arg) noexcept override;
  void close(int fd) noexcept override;
  PageMapping map_vp_page(int vp_fd, std::uint64_t page_offset) noexcept override;
  [[nodiscard]] std::string describe() const override;

  [[nodiscard]] CallCounts totals() const;
  // By intercept message type.
  [[nodiscard]] std::map<std::uint32_t, InterceptCost> per_intercept() const;
  // Calls from now on are charged to no intercept until the next RUN_VP (a VMM's own calls between
  // two run()s are not the cost of an exit).
  void end_intercepts();
  void reset();

 private:
  std::shared_ptr<MshvSystem> inner_;
  mutable std::mutex mutex_;
  CallCounts totals_;
  std::map<std::uint32_t, InterceptCost> per_intercept_;
  std::map<int, std::uint32_t> open_intercept_;  // VP descriptor -> the message type its calls are charged to
};

// Names for reports: "MSHV_RUN_VP", "HVCALL_GET_VP_REGISTERS", "X64_HALT"; a number in hex when unknown.
std::string ioctl_name(std::uint32_t request);
std::string hypercall_name(std::uint16_t code);
std::string message_type_name(std::uint32_t type);

}  // namespace hv::mshv
