#pragma once
// The vhost-user wire format (QEMU docs/interop/vhost-user.rst, as QEMU 7.2 speaks it): request codes,
// flags, feature bits and the payload layouts, exactly as they cross the Unix socket. This header is
// the wire ABI: every struct here is laid out to the byte as the protocol lays it out (host byte order,
// little-endian on x86-64), static-asserted, and golden-tested in vhost/tests/protocol_golden_test.cpp
// against the values in QEMU's hw/virtio/vhost-user.c and the specification. Nothing here trusts a
// value: decoding (hv/vhost/message.hpp) checks each payload's size against its request first.

#include <array>
#include <cstddef>
#include <cstdint>

namespace hv::vhost {

// Requests the frontend sends (vhost-user.rst, "Front-end message types").
enum class Request : std::uint32_t {
  GetFeatures = 1,
  SetFeatures = 2,
  SetOwner = 3,
  ResetOwner = 4,
  SetMemTable = 5,
  SetLogBase = 6,
  SetLogFd = 7,
  SetVringNum = 8,
  SetVringAddr = 9,
  SetVringBase = 10,
  GetVringBase = 11,
  SetVringKick = 12,
  SetVringCall = 13,
  SetVringErr = 14,
  GetProtocolFeatures = 15,
  SetProtocolFeatures = 16,
  GetQueueNum = 17,
  SetVringEnable = 18,
  SendRarp = 19,
  NetSetMtu = 20,
  SetBackendReqFd = 21,
  IotlbMsg = 22,
  SetVringEndian = 23,
  GetConfig = 24,
  SetConfig = 25,
  CreateCryptoSession = 26,
  CloseCryptoSession = 27,
  PostcopyAdvise = 28,
  PostcopyListen = 29,
  PostcopyEnd = 30,
  GetInflightFd = 31,
  SetInflightFd = 32,
  GpuSetSocket = 33,
  ResetDevice = 34,
  VringKick = 35,
  GetMaxMemSlots = 36,
  AddMemReg = 37,
  RemMemReg = 38,
  SetStatus = 39,
  GetStatus = 40,
};
inline constexpr std::uint32_t kLastRequest = 40;

// Header flags: the version in bits 0..1 (always 1), then REPLY and NEED_REPLY.
inline constexpr std::uint32_t kVersion = 0x1;
inline constexpr std::uint32_t kVersionMask = 0x3;
inline constexpr std::uint32_t kFlagReply = 1U << 2;
inline constexpr std::uint32_t kFlagNeedReply = 1U << 3;

// Virtio feature bit 30 in GET/SET_FEATURES: the backend speaks GET/SET_PROTOCOL_FEATURES. It is a
// vhost-user bit, not a device feature: a frontend never offers it to the guest.
inline constexpr std::uint64_t kFeatureProtocolFeatures = 1ULL << 30;

// Protocol feature bits (GET/SET_PROTOCOL_FEATURES).
namespace protocol_feature {
inline constexpr std::uint64_t kMq = 1ULL << 0;
inline constexpr std::uint64_t kLogShmfd = 1ULL << 1;
inline constexpr std::uint64_t kRarp = 1ULL << 2;
inline constexpr std::uint64_t kReplyAck = 1ULL << 3;
inline constexpr std::uint64_t kMtu = 1ULL << 4;
inline constexpr std::uint64_t kBackendReq = 1ULL << 5;
inline constexpr std::uint64_t kCrossEndian = 1ULL << 6;
inline constexpr std::uint64_t kCryptoSession = 1ULL << 7;
inline constexpr std::uint64_t kPagefault = 1ULL << 8;
inline constexpr std::uint64_t kConfig = 1ULL << 9;
inline constexpr std::uint64_t kBackendSendFd = 1ULL << 10;
inline constexpr std::uint64_t kHostNotifier = 1ULL << 11;
inline constexpr std::uint64_t kInflightShmfd = 1ULL << 12;
inline constexpr std::uint64_t kResetDevice = 1ULL << 13;
inline constexpr std::uint64_t kInbandNotifications = 1ULL << 14;
inline constexpr std::uint64_t kConfigureMemSlots = 1ULL << 15;
inline constexpr std::uint64_t kStatus = 1ULL << 16;
}  // namespace protocol_feature

// Limits the protocol itself sets.
inline constexpr std::size_t kMaxFdsPerMessage = 8;  // VHOST_MEMORY_BASELINE_NREGIONS: SET_MEM_TABLE's fds
inline constexpr std::size_t kMaxMemTableRegions = 8;
inline constexpr std::uint64_t kMaxMemSlots = 509;    // VHOST_USER_MAX_RAM_SLOTS (ADD_MEM_REG)
inline constexpr std::uint32_t kMaxConfigSize = 256;  // VHOST_USER_MAX_CONFIG_SIZE
// The largest payload any request here carries: SET_MEM_TABLE with 8 regions (264 bytes) and
// GET/SET_CONFIG with 256 bytes of space (268). A header announcing more is a protocol violation,
// refused before anything is allocated for it.
inline constexpr std::uint32_t kMaxPayloadSize = 4096;

// SET/GET_VRING_KICK/CALL/ERR payload (a u64): the queue index in bits 0..7, and bit 8 when no fd
// comes with the message (the queue is then polled, or notifications are off).
inline constexpr std::uint64_t kVringIndexMask = 0xff;
inline constexpr std::uint64_t kVringNoFd = 1ULL << 8;

// SET_VRING_ADDR flags: bit 0 asks for dirty logging of the used ring.
inline constexpr std::uint32_t kVringFlagLog = 1U << 0;

// Packed ring positions in SET/GET_VRING_BASE's num: the index in bits 0..14 and the wrap counter in
// bit 15, for the available side; QEMU 7.2 sends only the available side (used = available).
inline constexpr std::uint32_t kPackedWrapBit = 1U << 15;

// Not #pragma pack: every field of these messages sits at its natural alignment (the static_asserts
// below prove there is no padding the protocol does not have), and a packed struct's 8-byte fields
// cannot be bound to a reference (a gtest EXPECT_EQ, std::min) without undefined behaviour.
struct Header {
  std::uint32_t request = 0;
  std::uint32_t flags = 0;
  std::uint32_t size = 0;  // of the payload that follows
};

// SET_VRING_NUM, SET_VRING_BASE, GET_VRING_BASE (both ways), SET_VRING_ENABLE.
struct VringState {
  std::uint32_t index = 0;
  std::uint32_t num = 0;
};

// SET_VRING_ADDR: the rings' addresses in the FRONTEND's virtual address space (the memory table's
// userspace_addr), not guest-physical ones. Note the order: descriptors, used, available.
struct VringAddr {
  std::uint32_t index = 0;
  std::uint32_t flags = 0;
  std::uint64_t descriptor = 0;
  std::uint64_t used = 0;
  std::uint64_t available = 0;
  std::uint64_t log = 0;
};

struct MemoryRegion {
  std::uint64_t guest_address = 0;
  std::uint64_t size = 0;
  std::uint64_t user_address = 0;
  std::uint64_t mmap_offset = 0;  // of the region's first byte in the fd that comes with it
};

// SET_MEM_TABLE: `count` regions follow, one fd each, in message order. QEMU sends only the regions
// it uses: size = 8 + 32 * count.
struct MemoryTableHeader {
  std::uint32_t count = 0;
  std::uint32_t padding = 0;
};

// ADD_MEM_REG / REM_MEM_REG: one region (ADD: with its fd).
struct SingleMemoryRegion {
  std::uint64_t padding = 0;
  MemoryRegion region;
};

// GET_CONFIG / SET_CONFIG: `size` bytes of config space at `offset` follow. QEMU sends
// size = 12 + the config bytes.
struct ConfigHeader {
  std::uint32_t offset = 0;
  std::uint32_t size = 0;
  std::uint32_t flags = 0;  // SET_CONFIG: 0 = writable fields, 1 = migration
};

// GET_INFLIGHT_FD (request and reply) / SET_INFLIGHT_FD. In QEMU this struct is not packed inside the
// packed message union: it is 24 bytes, with 4 bytes of tail padding, and QEMU sends all 24.
struct Inflight {
  std::uint64_t mmap_size = 0;
  std::uint64_t mmap_offset = 0;
  std::uint16_t num_queues = 0;
  std::uint16_t queue_size = 0;
  std::array<std::uint8_t, 4> padding{};
};

static_assert(sizeof(Header) == 12);
static_assert(sizeof(VringState) == 8);
static_assert(sizeof(VringAddr) == 40);
static_assert(offsetof(VringAddr, descriptor) == 8 && offsetof(VringAddr, used) == 16 &&
              offsetof(VringAddr, available) == 24 && offsetof(VringAddr, log) == 32);
static_assert(sizeof(MemoryRegion) == 32);
static_assert(sizeof(MemoryTableHeader) == 8);
static_assert(sizeof(SingleMemoryRegion) == 40);
static_assert(sizeof(ConfigHeader) == 12);
static_assert(sizeof(Inflight) == 24);
static_assert(offsetof(Inflight, num_queues) == 16 && offsetof(Inflight, queue_size) == 18);
static_assert(offsetof(MemoryRegion, size) == 8 && offsetof(MemoryRegion, user_address) == 16 &&
              offsetof(MemoryRegion, mmap_offset) == 24);
static_assert(offsetof(SingleMemoryRegion, region) == 8 && offsetof(ConfigHeader, flags) == 8);
static_assert(offsetof(Header, flags) == 4 && offsetof(Header, size) == 8 && offsetof(VringState, num) == 4);

// The name of a request, for logs and errors ("SET_MEM_TABLE"); "UNKNOWN" outside 1..kLastRequest.
const char* request_name(std::uint32_t request) noexcept;

}  // namespace hv::vhost
