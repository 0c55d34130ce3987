#pragma once
// A frontend's side of vhost-user, scripted request by request, for the backend tests: it owns
// memfd-backed guest RAM (GPA 0, kRamBytes) that the mock virtio drivers write rings into, sends that
// RAM with SET_MEM_TABLE, and negotiates and starts rings in QEMU 7.2's order with REPLY_ACK on every
// request that has no reply of its own. Kicks, calls and errors go through its own eventfds.

#include <chrono>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "backend_test_support.hpp"
#include "hv/event_fd.hpp"
#include "hv/guest_memory.hpp"
#include "hv/vhost/channel.hpp"
#include "hv/virtio/device.hpp"
#include "hv/virtio/testing/mock_packed_driver.hpp"
#include "hv/virtio/testing/mock_split_driver.hpp"

namespace hvtest {

using namespace std::chrono_literals;

inline constexpr std::uint64_t kRamBytes = 0x200000;
inline constexpr std::uint64_t kUser = 0x7f0000000000, kUser2 = 0x7e0000000000;  // the frontend's mappings of RAM
inline constexpr std::uint64_t kRings = 0x10000, kData = 0x80000;  // where the tests put rings and buffers
inline constexpr auto kWait = 10s;  // a generous bound for a reply or a signal, never a timing assertion

class ScriptedFrontend {
 public:
  // The RAM; call first (a fixture's SetUp).
  void make_ram() {
    auto region = hv::GuestRegion::create(0, kRamBytes, hv::Backing::Memfd);
    ASSERT_TRUE(region) << region.error().to_string();
    ram_ = *region;
    ASSERT_TRUE(memory_.add_region(ram_));
  }

  void send(const hv::vhost::Message& m, std::vector<int> fds = {}) { ASSERT_TRUE(frontend_->send(m, fds)); }
  hv::vhost::Message receive() {
    auto r = frontend_->receive(kWait);
    EXPECT_TRUE(r) << r.error().to_string();
    return r ? std::move(*r) : hv::vhost::Message{};
  }
  // Sends `m` with NEED_REPLY and returns REPLY_ACK's answer (0: done).
  std::uint64_t ack(hv::vhost::Message m, std::vector<int> fds = {}) {
    m.header.flags |= hv::vhost::kFlagNeedReply;
    send(m, std::move(fds));
    hv::vhost::Message reply = receive();
    EXPECT_EQ(reply.request(), m.request());
    EXPECT_TRUE(reply.is_reply());
    auto value = hv::vhost::payload_as<std::uint64_t>(reply);
    return value ? *value : 0xdead;
  }
  template <class T>
  T get(hv::vhost::Request request, const hv::vhost::Message& m) {
    send(m);
    hv::vhost::Message reply = receive();
    EXPECT_EQ(reply.request(), static_cast<std::uint32_t>(request));
    auto value = hv::vhost::payload_as<T>(reply);
    EXPECT_TRUE(value) << value.error().to_string();
    return value ? *value : T{};
  }
  std::uint64_t get_u64(hv::vhost::Request request) {
    return get<std::uint64_t>(request, hv::vhost::make_message(request));
  }

  // The whole RAM at GPA 0 and user address `user`.
  std::uint64_t set_mem_table(std::uint64_t user = kUser) {
    const hv::vhost::MemoryRegion region{0, kRamBytes, user, 0};
    hv::vhost::Message m = mem_table({region}, {});
    return ack(std::move(m), {ram_->memfd()});
  }
  // QEMU's order: features, protocol features, owner, virtio features, memory table.
  void negotiate(std::uint64_t extra_features) {
    using hv::vhost::Request;
    const std::uint64_t offered = get_u64(Request::GetFeatures);
    ASSERT_EQ(offered & hv::vhost::kFeatureProtocolFeatures, hv::vhost::kFeatureProtocolFeatures);
    const std::uint64_t protocol = get_u64(Request::GetProtocolFeatures);
    send(hv::vhost::make_message(Request::SetProtocolFeatures, protocol));
    ASSERT_EQ(ack(hv::vhost::make_message(Request::SetOwner)), 0U);
    features_ = hv::virtio::kFeatureVersion1 | hv::vhost::kFeatureProtocolFeatures | extra_features;
    ASSERT_EQ(ack(hv::vhost::make_message(Request::SetFeatures, features_)), 0U);
    ASSERT_EQ(set_mem_table(), 0U);
  }
  // Ring `index` at the given guest-physical addresses, from position `base`, kicked through kick_.
  void start_ring(std::uint32_t index, std::uint16_t size, std::uint64_t desc, std::uint64_t avail, std::uint64_t used,
                  std::uint32_t base = 0, std::uint64_t user = kUser) {
    using hv::vhost::Request;
    using hv::vhost::VringState;
    ASSERT_EQ(ack(hv::vhost::make_message(Request::SetVringNum, VringState{index, size})), 0U);
    ASSERT_EQ(ack(hv::vhost::make_message(Request::SetVringBase, VringState{index, base})), 0U);
    const hv::vhost::VringAddr addr{index, 0, user + desc, user + used, user + avail, 0};
    ASSERT_EQ(ack(hv::vhost::make_message(Request::SetVringAddr, addr)), 0U);
    ASSERT_EQ(ack(hv::vhost::make_message(Request::SetVringCall, std::uint64_t{index}), {call_.fd()}), 0U);
    ASSERT_EQ(ack(hv::vhost::make_message(Request::SetVringErr, std::uint64_t{index}), {err_.fd()}), 0U);
    ASSERT_EQ(ack(hv::vhost::make_message(Request::SetVringKick, std::uint64_t{index}), {kick_.fd()}), 0U);
    ASSERT_EQ(ack(hv::vhost::make_message(Request::SetVringEnable, VringState{index, 1})), 0U);
  }
  void start_split(const hv::virtio::testing::MockSplitDriver& d, std::uint32_t base = 0) {
    const auto c = d.config();
    start_ring(0, c.size, c.descriptor_table, c.available_ring, c.used_ring, base);
  }
  // A fresh packed ring starts at slot 0 with wrap counter 1 (§2.8.1), which QEMU sends as 1 << 15.
  void start_packed(const hv::virtio::testing::MockPackedDriver& d, std::uint32_t base = hv::vhost::kPackedWrapBit) {
    const auto c = d.config();
    start_ring(0, c.size, c.descriptor_ring, c.driver_event, c.device_event, base);
  }
  // Kicks ring 0 and waits for its call.
  bool kick_and_wait() {
    EXPECT_TRUE(kick_.signal());
    auto called = call_.wait_for(kWait);
    (void)call_.consume();  // reset the counter: the next wait is for the next call
    return called && *called;
  }
  std::uint32_t vring_base(std::uint32_t index) {
    using hv::vhost::Request;
    return get<hv::vhost::VringState>(Request::GetVringBase,
                                      hv::vhost::make_message(Request::GetVringBase, hv::vhost::VringState{index, 0}))
        .num;
  }

 protected:
  std::shared_ptr<hv::GuestRegion> ram_;
  hv::GuestMemory memory_;  // the frontend's (and the mock driver's) view
  hv::EventFd kick_ = *hv::EventFd::create(), call_ = *hv::EventFd::create(), err_ = *hv::EventFd::create();
  std::uint64_t features_ = 0;
  std::unique_ptr<hv::vhost::Channel> frontend_;
};

}  // namespace hvtest
