// The wire numbers against upstream: QEMU 7.2 hw/virtio/vhost-user.c (enum VhostUserRequest,
// VhostUserProtocolFeature, the message structs) and docs/interop/vhost-user.rst. A renumbering here
// would make every peer misread us, and the static_asserts in protocol.hpp only check our own sizes.
#include <gtest/gtest.h>

#include <cstddef>
#include <string>

#include "hv/vhost/protocol.hpp"

namespace hv::vhost {
namespace {

TEST(VhostProtocolGolden, RequestCodesMatchQemu) {
  EXPECT_EQ(static_cast<std::uint32_t>(Request::GetFeatures), 1U);
  EXPECT_EQ(static_cast<std::uint32_t>(Request::SetMemTable), 5U);
  EXPECT_EQ(static_cast<std::uint32_t>(Request::SetVringNum), 8U);
  EXPECT_EQ(static_cast<std::uint32_t>(Request::SetVringAddr), 9U);
  EXPECT_EQ(static_cast<std::uint32_t>(Request::GetVringBase), 11U);
  EXPECT_EQ(static_cast<std::uint32_t>(Request::SetVringCall), 13U);
  EXPECT_EQ(static_cast<std::uint32_t>(Request::GetProtocolFeatures), 15U);
  EXPECT_EQ(static_cast<std::uint32_t>(Request::SetVringEnable), 18U);
  EXPECT_EQ(static_cast<std::uint32_t>(Request::SetBackendReqFd), 21U);
  EXPECT_EQ(static_cast<std::uint32_t>(Request::GetConfig), 24U);
  EXPECT_EQ(static_cast<std::uint32_t>(Request::SetConfig), 25U);
  EXPECT_EQ(static_cast<std::uint32_t>(Request::GetInflightFd), 31U);
  EXPECT_EQ(static_cast<std::uint32_t>(Request::SetInflightFd), 32U);
  EXPECT_EQ(static_cast<std::uint32_t>(Request::ResetDevice), 34U);
  EXPECT_EQ(static_cast<std::uint32_t>(Request::GetMaxMemSlots), 36U);
  EXPECT_EQ(static_cast<std::uint32_t>(Request::AddMemReg), 37U);
  EXPECT_EQ(static_cast<std::uint32_t>(Request::RemMemReg), 38U);
  EXPECT_EQ(static_cast<std::uint32_t>(Request::SetStatus), 39U);
  EXPECT_EQ(static_cast<std::uint32_t>(Request::GetStatus), 40U);
  EXPECT_EQ(kLastRequest, 40U);
}

TEST(VhostProtocolGolden, NamesFollowTheCodes) {
  EXPECT_EQ(std::string(request_name(5)), "SET_MEM_TABLE");
  EXPECT_EQ(std::string(request_name(11)), "GET_VRING_BASE");
  EXPECT_EQ(std::string(request_name(38)), "REM_MEM_REG");
  EXPECT_EQ(std::string(request_name(40)), "GET_STATUS");
  EXPECT_EQ(std::string(request_name(0)), "UNKNOWN");
  EXPECT_EQ(std::string(request_name(41)), "UNKNOWN");
}

TEST(VhostProtocolGolden, FlagsAndFeatureBitsMatchQemu) {
  EXPECT_EQ(kVersion, 0x1U);
  EXPECT_EQ(kFlagReply, 0x4U);
  EXPECT_EQ(kFlagNeedReply, 0x8U);
  EXPECT_EQ(kFeatureProtocolFeatures, 0x40000000ULL);
  EXPECT_EQ(protocol_feature::kMq, 0x1ULL);
  EXPECT_EQ(protocol_feature::kReplyAck, 0x8ULL);
  EXPECT_EQ(protocol_feature::kConfig, 0x200ULL);
  EXPECT_EQ(protocol_feature::kInflightShmfd, 0x1000ULL);
  EXPECT_EQ(protocol_feature::kResetDevice, 0x2000ULL);
  EXPECT_EQ(protocol_feature::kConfigureMemSlots, 0x8000ULL);
  EXPECT_EQ(protocol_feature::kStatus, 0x10000ULL);
  EXPECT_EQ(kVringNoFd, 0x100ULL);
  EXPECT_EQ(kMaxMemSlots, 509U);
  EXPECT_EQ(kMaxConfigSize, 256U);
}

TEST(VhostProtocolGolden, LayoutsMatchQemu) {
  EXPECT_EQ(sizeof(Header), 12U);
  EXPECT_EQ(sizeof(VringAddr), 40U);
  EXPECT_EQ(offsetof(VringAddr, used), 16U);  // desc_user_addr, used_user_addr, avail_user_addr, log
  EXPECT_EQ(offsetof(VringAddr, available), 24U);
  EXPECT_EQ(sizeof(MemoryRegion), 32U);
  EXPECT_EQ(offsetof(MemoryRegion, mmap_offset), 24U);
  EXPECT_EQ(sizeof(SingleMemoryRegion), 40U);
  EXPECT_EQ(sizeof(ConfigHeader), 12U);
  EXPECT_EQ(sizeof(Inflight), 24U);
}

}  // namespace
}  // namespace hv::vhost
