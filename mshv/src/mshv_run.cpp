// [§n] cites a section of docs/mshv-abi.md, the ABI facts this file relies on.
// The RUN_VP loop: runs the VP until a message needs the VMM, completes IO and memory intercepts in
// place, and turns the others into hvkit exits.
#include <algorithm>
#include <cstring>

#include "mshv_intercept.hpp"
#include "mshv_registers.hpp"
#include "mshv_vcpu.hpp"

namespace hv::mshv::detail {

namespace reg = abi::reg;

Result<Exit> MshvVcpu::run_guest(IoHandler& io) {
  const KickResender::Running running(kicks_);
  for (;;) {
    if (kicks_.take()) return InterruptedExit{};
    abi::RunVp message{};
    bool interrupted = false;
    if (auto r = vp_.call_once(abi::kRunVp, &message, "MSHV_RUN_VP", interrupted); !r) return tl::unexpected(r.error());
    if (interrupted) continue;  // a kick shows as kick_pending; anything else: run again [§4]
    abi::HvMessageHeader header{};
    std::memcpy(&header, message.msg_buf, sizeof header);
    const std::uint8_t* payload = message.msg_buf + sizeof header;
    Result<void> handled;
    switch (header.message_type) {
      case abi::kMsgX64IoPortIntercept: handled = on_io_intercept(payload, io); break;
      case abi::kMsgUnmappedGpa:
      case abi::kMsgGpaIntercept: handled = on_memory_intercept(payload, io); break;
      // The hypervisor has completed the HLT: RIP is already past it, and nothing is done to it here.
      // Every upstream user of the message leaves RIP alone (Cloud Hypervisor, Hyperlight, QEMU's
      // mshv and, over the same hypervisor through WHP, QEMU's whpx_handle_halt, which resumes the
      // VP later without touching RIP); docs/mshv.md, "HLT".
      case abi::kMsgX64Halt: return HaltExit{};
      case abi::kMsgUnrecoverableException: return ShutdownExit{};
      case abi::kMsgUnsupportedFeature: {
        // vp_index u32, feature_code u32, feature_parameter u64 [§9.2]
        std::uint32_t feature = 0;
        std::memcpy(&feature, payload + 4, sizeof feature);
        std::memcpy(internal_data_.data(), payload + 8, sizeof(std::uint64_t));
        return InternalErrorExit{.code = header.message_type,
                                 .detail = feature,
                                 .name = "HVMSG_UNSUPPORTED_FEATURE",
                                 .data = internal_data_,
                                 .instruction = {}};
      }
      case abi::kMsgInvalidVpRegisterValue:
        return InternalErrorExit{.code = header.message_type,
                                 .detail = 0,
                                 .name = "HVMSG_INVALID_VP_REGISTER_VALUE",
                                 .data = {},
                                 .instruction = {}};
      case abi::kMsgX64ApicEoi: break;  // no userspace interrupt controller listens for EOIs
      default: return UnknownExit{.backend = "mshv", .raw_reason = header.message_type};
    }
    if (!handled) return tl::unexpected(std::move(handled.error()));
  }
}

}  // namespace hv::mshv::detail
