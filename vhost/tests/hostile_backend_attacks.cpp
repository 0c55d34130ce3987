// The hostile backend's cases (docs/threat-model/vhost-user.md, "Hostile peers"). A "rng" case runs the
// halt_only guest: hvctl negotiates, creates the device and the guest halts (exit 0) unless the
// backend made negotiation fail (exit 4). A "blk" case runs virtio_blk_await_reset: the guest makes
// the device live, and exits 6 (its check 6: Status is not DRIVER_OK) when activation failed and the
// device needs a reset, or 0 once a live device turns DEVICE_NEEDS_RESET and it reset it; --timeout
// ends anything else (124), so a hang shows as 124, a crash as a signal. A used-ring case runs
// virtio_blk_await_answer: 30 when the VMM passed the backend's answer on as an interrupt, 0 when it
// found the ring broken and the device needs a reset (and the guest reset it).
#include "hostile_backend_attacks.hpp"

#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "hv/event_fd.hpp"

namespace hvtest {
namespace {

using hv::vhost::Header;
using hv::vhost::kFlagReply;
using hv::vhost::kVersion;
using hv::vhost::Request;
using hv::vhost::testing::Misbehave;
using hv::vhost::testing::RawReply;
using hv::vhost::testing::ScriptedBackend;
using Script = ScriptedBackend::Script;
namespace pf = hv::vhost::protocol_feature;

constexpr auto code(Request r) { return static_cast<std::uint32_t>(r); }

// A reply with these header fields and `bytes` zero bytes of payload.
RawReply reply(Request r, std::uint32_t flags, std::uint32_t size, std::size_t bytes) {
  return RawReply{Header{code(r), flags, size}, std::vector<std::uint8_t>(bytes)};
}

// The well-behaved parts: what each device's creation needs answered.
void rng(Script& s) { s.protocol_features = pf::kReplyAck | pf::kMq; }
void blk(Script& s) {
  s.features |= 1ULL << 28;  // INDIRECT_DESC: virtio_blk_await_reset asks for it
  s.protocol_features = pf::kReplyAck | pf::kMq | pf::kConfig;
  s.config.assign(60, 0);
  s.config[0] = 8;  // capacity: 2048 sectors
  s.config[1] = 0;
}

// Negotiation.
void features_reply_short(Script& s) {
  rng(s);
  s.replace[code(Request::GetFeatures)] = reply(Request::GetFeatures, kVersion | kFlagReply, 4, 4);
}
void features_reply_for_another_request(Script& s) {
  rng(s);
  s.replace[code(Request::GetFeatures)] = reply(Request::SetFeatures, kVersion | kFlagReply, 8, 8);
}
void features_reply_without_reply_flag(Script& s) {
  rng(s);
  s.replace[code(Request::GetFeatures)] = reply(Request::GetFeatures, kVersion, 8, 8);
}
void features_reply_version_2(Script& s) {
  rng(s);
  s.replace[code(Request::GetFeatures)] = reply(Request::GetFeatures, 2 | kFlagReply, 8, 8);
}
void features_reply_above_4096(Script& s) {
  rng(s);
  s.replace[code(Request::GetFeatures)] = reply(Request::GetFeatures, kVersion | kFlagReply, 5000, 5000);
}
void features_without_version_1(Script& s) {
  rng(s);
  s.features = hv::vhost::kFeatureProtocolFeatures;
}
void features_every_bit(Script& s) {
  rng(s);
  s.features = ~0ULL;
}
void protocol_features_reply_long(Script& s) {
  rng(s);
  s.replace[code(Request::GetProtocolFeatures)] = reply(Request::GetProtocolFeatures, kVersion | kFlagReply, 16, 16);
}
void queue_num_zero(Script& s) {
  rng(s);
  s.queue_num = 0;
}
void queue_num_huge(Script& s) {
  rng(s);
  s.queue_num = 1ULL << 40;
}
void silent_at_features(Script& s) {
  rng(s);
  s.misbehave[code(Request::GetFeatures)] = Misbehave::Silence;
}
void closes_mid_reply(Script& s) {
  rng(s);
  s.misbehave[code(Request::GetProtocolFeatures)] = Misbehave::HangUpMidReply;
}
void closes_at_set_owner(Script& s) {
  rng(s);
  s.misbehave[code(Request::SetOwner)] = Misbehave::HangUp;
}
void refuses_set_owner(Script& s) {
  rng(s);
  s.nack[code(Request::SetOwner)] = 1;
}
void config_reply_longer(Script& s) {
  blk(s);
  hv::vhost::ConfigHeader h{0, 256, 0};
  RawReply r = reply(Request::GetConfig, kVersion | kFlagReply, sizeof h + 256, sizeof h + 256);
  std::memcpy(r.payload.data(), &h, sizeof h);
  s.replace[code(Request::GetConfig)] = r;
}
void config_reply_shorter(Script& s) {
  blk(s);
  hv::vhost::ConfigHeader h{0, 60, 0};
  RawReply r = reply(Request::GetConfig, kVersion | kFlagReply, sizeof h + 8, sizeof h + 8);
  std::memcpy(r.payload.data(), &h, sizeof h);
  s.replace[code(Request::GetConfig)] = r;
}
void config_reply_lies_about_size(Script& s) {
  blk(s);
  hv::vhost::ConfigHeader h{0, 8, 0};  // 8 bytes said, 60 asked
  RawReply r = reply(Request::GetConfig, kVersion | kFlagReply, sizeof h + 8, sizeof h + 8);
  std::memcpy(r.payload.data(), &h, sizeof h);
  s.replace[code(Request::GetConfig)] = r;
}

// Activation (the guest's DRIVER_OK): the device fails to go live and needs a reset.
void inflight_huge(Script& s) {
  blk(s);
  s.protocol_features |= pf::kInflightShmfd;
  s.inflight_size = 1ULL << 40;
}
void inflight_not_mappable(Script& s) {
  blk(s);
  s.protocol_features |= pf::kInflightShmfd;
  s.inflight_not_a_file = true;
}
void inflight_file_shorter(Script& s) {
  blk(s);
  s.protocol_features |= pf::kInflightShmfd;
  s.inflight_size = 1 << 20;
  s.inflight_file_size = 4096;
}
void silent_at_kick(Script& s) {
  blk(s);
  s.misbehave[code(Request::SetVringKick)] = Misbehave::Silence;
}
void refuses_ring_address(Script& s) {
  blk(s);
  s.nack[code(Request::SetVringAddr)] = 1;
}
void closes_at_mem_table(Script& s) {
  blk(s);
  s.misbehave[code(Request::SetMemTable)] = Misbehave::HangUpMidReply;
}

// A live device.
bool wait_live(ScriptedBackend& b) {
  for (int i = 0; i < 20000 && b.count(Request::SetVringEnable) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return b.count(Request::SetVringEnable) != 0;
}
void dies_once_live(ScriptedBackend& b) {
  (void)wait_live(b);
  b.die();
}
// A million calls in about a second, then the backend dies: the VMM must still see the hang-up.
void floods_calls_then_dies(ScriptedBackend& b) {
  if (wait_live(b)) {
    if (auto call = b.last(Request::SetVringCall); call && call->fds.size() == 1) {
      const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      const std::uint64_t one = 1;
      while (std::chrono::steady_clock::now() < end) {
        for (int i = 0; i < 1000; ++i) (void)::write(call->fds[0].get(), &one, sizeof one);
      }
    }
  }
  b.die();
}

// Used-ring entries written into guest memory (the guest virtio_blk_await_answer makes one GET_ID
// request available): the backend maps the memory SET_MEM_TABLE handed it, waits for the guest's
// kick, writes used element 0 (`id`, `len`) and the used index `used_index`, and calls.
bool write_used(ScriptedBackend& b, std::uint32_t id, std::uint32_t len, std::uint16_t used_index) {
  if (!wait_live(b)) return false;
  auto table = b.last(Request::SetMemTable);
  auto addr = b.last(Request::SetVringAddr);
  auto kick = b.last(Request::SetVringKick);
  auto call = b.last(Request::SetVringCall);
  if (!table || !addr || !kick || !call || kick->fds.size() != 1 || call->fds.size() != 1) return false;
  hv::vhost::MemoryTableHeader header{};
  hv::vhost::VringAddr ring{};
  if (table->payload.size() < sizeof header || addr->payload.size() < sizeof ring) return false;
  std::memcpy(&header, table->payload.data(), sizeof header);
  std::memcpy(&ring, addr->payload.data(), sizeof ring);
  for (std::uint32_t i = 0; i < header.count && i < table->fds.size(); ++i) {
    hv::vhost::MemoryRegion region{};
    const std::size_t at = sizeof header + i * sizeof region;
    if (table->payload.size() < at + sizeof region) return false;
    std::memcpy(&region, table->payload.data() + at, sizeof region);
    if (ring.used < region.user_address || ring.used - region.user_address + 8 > region.size) continue;
    void* base = ::mmap(nullptr, region.size, PROT_READ | PROT_WRITE, MAP_SHARED, table->fds[i].get(),
                        static_cast<off_t>(region.mmap_offset));
    if (base == MAP_FAILED) return false;
    pollfd p{kick->fds[0].get(), POLLIN, 0};
    const bool kicked = ::poll(&p, 1, 10000) == 1;
    if (kicked) {
      auto* used = static_cast<std::uint8_t*>(base) + (ring.used - region.user_address);
      const std::array<std::uint32_t, 2> element{id, len};
      std::memcpy(used + 4, element.data(), sizeof element);
      std::atomic_ref<std::uint16_t>(*reinterpret_cast<std::uint16_t*>(used + 2))  // NOLINT: the ring's layout
          .store(used_index, std::memory_order_release);
      const std::uint64_t one = 1;
      (void)::write(call->fds[0].get(), &one, sizeof one);
    }
    ::munmap(base, region.size);
    return kicked;
  }
  return false;
}
constexpr std::uint16_t kRing = 256;  // virtio_blk_await_answer's queue size
void answers_well(ScriptedBackend& b) { (void)write_used(b, 0, 21, 1); }
void used_id_past_ring(ScriptedBackend& b) { (void)write_used(b, kRing, 21, 1); }
void used_len_past_chain(ScriptedBackend& b) { (void)write_used(b, 0, 0xffffffffU, 1); }
void used_index_jumps(ScriptedBackend& b) { (void)write_used(b, 0, 21, kRing + 2); }

constexpr const char* kHalt = "halt_only";
constexpr const char* kAwaitReset = "virtio_blk_await_reset";
constexpr const char* kAwaitAnswer = "virtio_blk_await_answer";
constexpr int kAnswered = 30;  // virtio_blk_await_answer: the device's answer came as an interrupt
constexpr const char* kNegotiation = "negotiation failed";
constexpr const char* kWentAway = "the backend went away";

constexpr std::array kAttacks{
    BackendAttack{"control_rng", "rng", kHalt, rng, nullptr, 0, nullptr},
    BackendAttack{"get_features_reply_short", "rng", kHalt, features_reply_short, nullptr, 4, kNegotiation},
    BackendAttack{"get_features_reply_for_another_request", "rng", kHalt, features_reply_for_another_request, nullptr,
                  4, kNegotiation},
    BackendAttack{"get_features_reply_without_reply_flag", "rng", kHalt, features_reply_without_reply_flag, nullptr, 4,
                  kNegotiation},
    BackendAttack{"get_features_reply_version_2", "rng", kHalt, features_reply_version_2, nullptr, 4, kNegotiation},
    BackendAttack{"get_features_reply_above_4096", "rng", kHalt, features_reply_above_4096, nullptr, 4, kNegotiation},
    BackendAttack{"get_features_without_version_1", "rng", kHalt, features_without_version_1, nullptr, 4, "VERSION_1"},
    BackendAttack{"get_features_every_bit", "rng", kHalt, features_every_bit, nullptr, 0, nullptr},
    BackendAttack{"get_protocol_features_reply_long", "rng", kHalt, protocol_features_reply_long, nullptr, 4,
                  kNegotiation},
    BackendAttack{"get_queue_num_zero", "rng", kHalt, queue_num_zero, nullptr, 4, kNegotiation},
    BackendAttack{"get_queue_num_huge", "rng", kHalt, queue_num_huge, nullptr, 4, kNegotiation},
    BackendAttack{"silent_at_get_features", "rng", kHalt, silent_at_features, nullptr, 4, kNegotiation},
    BackendAttack{"closes_mid_reply", "rng", kHalt, closes_mid_reply, nullptr, 4, kNegotiation},
    BackendAttack{"closes_at_set_owner", "rng", kHalt, closes_at_set_owner, nullptr, 4, kNegotiation},
    BackendAttack{"refuses_set_owner", "rng", kHalt, refuses_set_owner, nullptr, 4, kNegotiation},
    BackendAttack{"control_blk", "blk", kAwaitReset, blk, dies_once_live, 0, kWentAway},
    BackendAttack{"get_config_reply_longer", "blk", kAwaitReset, config_reply_longer, nullptr, 4, "GET_CONFIG"},
    BackendAttack{"get_config_reply_shorter", "blk", kAwaitReset, config_reply_shorter, nullptr, 4, "GET_CONFIG"},
    BackendAttack{"get_config_reply_other_size", "blk", kAwaitReset, config_reply_lies_about_size, nullptr, 4,
                  "GET_CONFIG"},
    BackendAttack{"get_inflight_fd_huge", "blk", kAwaitReset, inflight_huge, nullptr, 6, kWentAway},
    BackendAttack{"get_inflight_fd_not_mappable", "blk", kAwaitReset, inflight_not_mappable, nullptr, 6, kWentAway},
    BackendAttack{"get_inflight_fd_file_shorter", "blk", kAwaitReset, inflight_file_shorter, nullptr, 6, kWentAway},
    BackendAttack{"silent_at_set_vring_kick", "blk", kAwaitReset, silent_at_kick, nullptr, 6, kWentAway},
    BackendAttack{"refuses_set_vring_addr", "blk", kAwaitReset, refuses_ring_address, nullptr, 6,
                  "the backend refused to start the device"},
    BackendAttack{"closes_mid_reply_at_mem_table", "blk", kAwaitReset, closes_at_mem_table, nullptr, 6, kWentAway},
    BackendAttack{"control_used_ring", "blk", kAwaitAnswer, blk, answers_well, kAnswered, nullptr},
    BackendAttack{"used_id_past_ring", "blk", kAwaitAnswer, blk, used_id_past_ring, 0, "names descriptor 256"},
    // The VMM never reads a used length (used_ring_watch.hpp): the guest gets it as written.
    BackendAttack{"used_len_past_chain", "blk", kAwaitAnswer, blk, used_len_past_chain, kAnswered, nullptr},
    BackendAttack{"used_index_jumps_past_available", "blk", kAwaitAnswer, blk, used_index_jumps, 0,
                  "past the available index"},
    BackendAttack{"floods_calls_then_dies", "blk", kAwaitReset, blk, floods_calls_then_dies, 0, kWentAway},
};

}  // namespace

std::span<const BackendAttack> backend_attacks() { return kAttacks; }

}  // namespace hvtest
