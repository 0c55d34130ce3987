// The hostile frontend's attacks, grouped as docs/threat-model/vhost-user.md ("Hostile peers") lists
// them. Each starts on a fresh connection; whatever it leaves behind (a half-sent message, a running
// ring) is the daemon's to clean up when the runner closes the connection.
#include "hostile_frontend_attacks.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>

namespace hvtest {
namespace {

using hv::vhost::make_message;
using hv::vhost::MemoryRegion;
using hv::vhost::Request;
using hv::vhost::VringAddr;
using hv::vhost::VringState;

// Rings for the attacks that start one: 8 entries at kRings (descriptors), + 0x1000 (available),
// + 0x2000 (used), all inside the peer's RAM.
constexpr std::uint64_t kAvail = kRings + 0x1000, kUsed = kRings + 0x2000;

hv::vhost::Message ring_addr(std::uint64_t desc, std::uint64_t avail, std::uint64_t used) {
  return make_message(Request::SetVringAddr, VringAddr{0, 0, desc, used, avail, 0});
}

// A table of `regions` with one duplicate of the peer's RAM memfd each (or `fd` instead).
void refuse_table(HostileFrontendPeer& p, const std::vector<MemoryRegion>& regions, int fd = -1,
                  std::size_t fds = SIZE_MAX) {
  p.handshake();
  const int give = fd >= 0 ? fd : p.ram_fd();
  std::vector<int> list(std::min(fds, regions.size()), give);
  hv::vhost::Message m = mem_table(regions, {});
  p.expect_refused(std::move(m), list);
}

void too_many_regions(HostileFrontendPeer& p) {
  std::vector<MemoryRegion> regions;
  for (std::uint64_t i = 0; i < 9; ++i) regions.push_back({i * 0x10000, 0x10000, kUser + i * 0x10000, i * 0x10000});
  refuse_table(p, regions, -1, hv::vhost::kMaxFdsPerMessage);  // the codec carries at most 8
}
void overlapping_regions(HostileFrontendPeer& p) {
  refuse_table(p, {{0, 0x100000, kUser, 0}, {0x80000, 0x100000, kUser2, 0}});
}
void zero_size_region(HostileFrontendPeer& p) { refuse_table(p, {{0, 0, kUser, 0}}); }
void huge_region(HostileFrontendPeer& p) { refuse_table(p, {{0, 1ULL << 45, kUser, 0}}); }
void offset_beyond_the_fd(HostileFrontendPeer& p) { refuse_table(p, {{0, kRamBytes, kUser, 2 * kRamBytes}}); }
void offset_wrapping(HostileFrontendPeer& p) { refuse_table(p, {{0, kRamBytes, kUser, ~0ULL - 0xfff}}); }
void pipe_as_memory(HostileFrontendPeer& p) {
  std::array<int, 2> ends{};
  ASSERT_EQ(::pipe2(ends.data(), O_CLOEXEC), 0);
  const hv::UniqueFd r(ends[0]), w(ends[1]);
  refuse_table(p, {{0, 0x1000, kUser, 0}}, r.get());
}
void socket_as_memory(HostileFrontendPeer& p) {
  auto pair = hv::vhost::Channel::pair();
  ASSERT_TRUE(pair);
  refuse_table(p, {{0, 0x1000, kUser, 0}}, pair->first.fd());
}
void dev_null_as_memory(HostileFrontendPeer& p) {
  const hv::UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  refuse_table(p, {{0, 0x1000, kUser, 0}}, null.get());
}
void fewer_fds_than_regions(HostileFrontendPeer& p) {
  refuse_table(p, {{0, 0x100000, kUser, 0}, {0x100000, 0x100000, kUser + 0x100000, 0x100000}}, -1, 1);
}
void region_count_lies(HostileFrontendPeer& p) {
  p.handshake();
  hv::vhost::Message m = mem_table({{0, kRamBytes, kUser, 0}}, {});
  m.payload[0] = 8;  // the count says 8 regions, the payload holds one
  p.expect_refused(std::move(m), {p.ram_fd()});
}

// Rings: after a good table.
void with_table(HostileFrontendPeer& p) {
  p.handshake();
  ASSERT_EQ(p.set_mem_table(), 0U);
}
void ring_size_zero(HostileFrontendPeer& p) {
  with_table(p);
  p.expect_refused(make_message(Request::SetVringNum, VringState{0, 0}));
}
void ring_size_above_max(HostileFrontendPeer& p) {
  with_table(p);
  p.expect_refused(make_message(Request::SetVringNum, VringState{0, 65536}));
}
// A ring the daemon must refuse to start: the refusal comes on whichever request would start it
// (SET_VRING_ENABLE, once it has its kick), so every answer of the sequence counts.
void expect_ring_refused(HostileFrontendPeer& p, std::uint32_t size, std::uint64_t desc, std::uint64_t avail,
                         std::uint64_t used) {
  hv::EventFd call = *hv::EventFd::create();
  std::uint64_t refused = p.ack(make_message(Request::SetVringNum, VringState{0, size}));
  refused |= p.ack(make_message(Request::SetVringBase, VringState{0, 0}));
  refused |= p.ack(ring_addr(desc, avail, used));
  refused |= p.ack(make_message(Request::SetVringCall, std::uint64_t{0}), {call.fd()});
  refused |= p.ack(make_message(Request::SetVringKick, std::uint64_t{0}), {p.kick().fd()});
  refused |= p.ack(make_message(Request::SetVringEnable, VringState{0, 1}));
  EXPECT_NE(refused, 0U) << "the ring started";
}
void ring_size_not_power_of_two(HostileFrontendPeer& p) {
  with_table(p);
  expect_ring_refused(p, 3, kUser + kRings, kUser + kAvail, kUser + kUsed);
}
void ring_index_out_of_range(HostileFrontendPeer& p) {
  with_table(p);
  p.expect_refused(make_message(Request::SetVringNum, VringState{200, 8}));
}
void ring_outside_every_region(HostileFrontendPeer& p) {
  with_table(p);
  expect_ring_refused(p, 8, kUser + kRamBytes + 0x10000, kUser + kAvail, kUser + kUsed);
}
void ring_straddling_the_end(HostileFrontendPeer& p) {
  with_table(p);
  expect_ring_refused(p, 8, kUser + kRings, kUser + kAvail, kUser + kRamBytes - 8);
}
void ring_position_past_16_bits(HostileFrontendPeer& p) {
  with_table(p);
  p.expect_refused(make_message(Request::SetVringBase, VringState{0, 0x10000}));
}
// The guest's side, through shared memory: an available index 100 entries ahead of an 8-entry ring.
// The device must stop the ring and signal the error eventfd, not read 100 chains.
void available_index_ahead_of_the_queue(HostileFrontendPeer& p) {
  with_table(p);
  p.start_ring(0, 8, kRings, kAvail, kUsed);
  ASSERT_TRUE(p.memory().write_obj<std::uint16_t>(kAvail + 2, 100));
  ASSERT_TRUE(p.kick().signal());
  auto signalled = p.error_fd().wait_for(kWait);
  EXPECT_TRUE(signalled && *signalled) << "the error eventfd was not signalled";
}

// Descriptors of the wrong kind for SET_VRING_KICK/CALL.
void kick_is_a_regular_file(HostileFrontendPeer& p) {
  with_table(p);
  const hv::UniqueFd file = make_memfd(4096);
  p.expect_refused(make_message(Request::SetVringKick, std::uint64_t{0}), {file.get()});
}
void kick_is_dev_null(HostileFrontendPeer& p) {
  with_table(p);
  const hv::UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  p.expect_refused(make_message(Request::SetVringKick, std::uint64_t{0}), {null.get()});
}
void call_is_a_socket(HostileFrontendPeer& p) {
  with_table(p);
  auto pair = hv::vhost::Channel::pair();
  ASSERT_TRUE(pair);
  p.expect_refused(make_message(Request::SetVringCall, std::uint64_t{0}), {pair->first.fd()});
}
void kick_without_its_fd(HostileFrontendPeer& p) {
  with_table(p);
  p.expect_refused(make_message(Request::SetVringKick, std::uint64_t{0}));
}

// Out of order and repeated.
void ring_address_before_the_table(HostileFrontendPeer& p) {
  p.handshake();
  expect_ring_refused(p, 8, kUser + kRings, kUser + kAvail, kUser + kUsed);
}
// Before any negotiation (no REPLY_ACK yet): the session must still answer GET_FEATURES after it.
void kick_before_features(HostileFrontendPeer& p) {
  p.send(make_message(Request::SetVringKick, std::uint64_t{0}), {p.kick().fd()});
  ASSERT_TRUE(p.kick().signal());
  EXPECT_NE(p.get_u64(Request::GetFeatures), 0U);
}
void table_before_features(HostileFrontendPeer& p) {
  p.send(mem_table({{0, kRamBytes, kUser, 0}}, {}), {p.ram_fd()});
  EXPECT_NE(p.get_u64(Request::GetFeatures), 0U);
}
void owner_twice(HostileFrontendPeer& p) {
  p.handshake();
  (void)p.ack(make_message(Request::SetOwner));
  EXPECT_NE(p.get_u64(Request::GetFeatures), 0U);
}
void table_replaced_while_a_ring_runs(HostileFrontendPeer& p) {
  with_table(p);
  p.start_ring(0, 8, kRings, kAvail, kUsed);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(p.set_mem_table(i % 2 == 0 ? kUser2 : kUser), 0U);
  EXPECT_NE(p.get_u64(Request::GetFeatures), 0U);
}
void ring_resized_while_it_runs(HostileFrontendPeer& p) {
  with_table(p);
  p.start_ring(0, 8, kRings, kAvail, kUsed);
  p.expect_refused(make_message(Request::SetVringNum, VringState{0, 16}));
}

// Payload sizes.
void size_above_4096(HostileFrontendPeer& p) {
  const std::vector<std::uint8_t> payload(5000);
  EXPECT_TRUE(p.send_header(1, hv::vhost::kVersion, 5000, payload));
}
void size_of_4_gib(HostileFrontendPeer& p) { EXPECT_TRUE(p.send_header(1, hv::vhost::kVersion, 0xffffffffU)); }
// The size announces 64 bytes, 8 come, then the frontend waits (the runner closes it later).
void size_longer_than_sent(HostileFrontendPeer& p) {
  const std::array<std::uint8_t, 8> eight{};
  EXPECT_TRUE(p.send_header(2, hv::vhost::kVersion, 64, eight));
}
// The size says 4 bytes, 8 follow: the last 4 start a header that never ends.
void size_shorter_than_sent(HostileFrontendPeer& p) {
  p.handshake();
  const std::array<std::uint8_t, 8> eight{1, 0, 0, 0, 1, 0, 0, 0};
  EXPECT_TRUE(p.send_header(2, hv::vhost::kVersion | hv::vhost::kFlagNeedReply, 4, eight));
}
void wrong_size_for_the_request(HostileFrontendPeer& p) {
  p.handshake();
  EXPECT_TRUE(p.send_header(8, hv::vhost::kVersion | hv::vhost::kFlagNeedReply, 4, std::array<std::uint8_t, 4>{}));
  auto reply = p.channel().receive(kWait);
  ASSERT_TRUE(reply) << reply.error().to_string();
  EXPECT_NE(hv::vhost::payload_as<std::uint64_t>(*reply).value_or(0), 0U);
}

// Codes and flags.
void unknown_request_code(HostileFrontendPeer& p) {
  p.handshake();
  hv::vhost::Message m = make_message(Request::GetFeatures);
  m.header.request = 999;
  p.expect_refused(std::move(m));
  m = make_message(Request::GetFeatures);
  m.header.request = 0;
  p.expect_refused(std::move(m));
}
void request_flagged_as_a_reply(HostileFrontendPeer& p) {
  EXPECT_TRUE(p.send_header(1, hv::vhost::kVersion | hv::vhost::kFlagReply, 0));
}
void version_2(HostileFrontendPeer& p) { EXPECT_TRUE(p.send_header(1, 2, 0)); }
void version_0(HostileFrontendPeer& p) { EXPECT_TRUE(p.send_header(1, 0, 0)); }
void descriptors_on_a_request_without_any(HostileFrontendPeer& p) {
  std::vector<hv::UniqueFd> owned;
  std::vector<int> fds;
  for (std::size_t i = 0; i < hv::vhost::kMaxFdsPerMessage; ++i) {
    owned.emplace_back(::eventfd(0, EFD_CLOEXEC));
    fds.push_back(owned.back().get());
  }
  p.send(make_message(Request::GetFeatures), fds);
}
void vring_base_of_a_ring_that_does_not_exist(HostileFrontendPeer& p) {
  p.handshake();
  p.send(make_message(Request::GetVringBase, VringState{50, 0}));
}
void huge_inflight_region(HostileFrontendPeer& p) {
  p.handshake();
  p.send(make_message(Request::GetInflightFd, hv::vhost::Inflight{0, 0, 1000, 65535, {}}));
}
void config_outside_the_space(HostileFrontendPeer& p) {
  p.handshake();
  hv::vhost::Message m = make_message(Request::GetConfig, hv::vhost::ConfigHeader{0xffffff00U, 256, 0});
  m.payload.resize(m.payload.size() + 256);
  m.header.size = static_cast<std::uint32_t>(m.payload.size());
  p.send(m);
}

// A frontend that disappears in the middle.
void half_a_header(HostileFrontendPeer& p) {
  const std::array<std::uint8_t, 6> half{1, 0, 0, 0, 1, 0};
  EXPECT_TRUE(p.send_raw(half));
}
void half_a_payload(HostileFrontendPeer& p) {
  p.handshake();
  const std::vector<std::uint8_t> half(20);
  EXPECT_TRUE(p.send_header(5, hv::vhost::kVersion, 8 + 32, half));
}
void gone_while_a_ring_runs(HostileFrontendPeer& p) {
  with_table(p);
  p.start_ring(0, 8, kRings, kAvail, kUsed);
  ASSERT_TRUE(p.kick().signal());
}

// Floods.
void flood_of_requests(HostileFrontendPeer& p) {
  p.handshake();
  for (int i = 0; i < 20000; ++i) p.send(make_message(Request::SetFeatures, p.features()));
  EXPECT_NE(p.get_u64(Request::GetFeatures), 0U);
}
void flood_of_refused_requests(HostileFrontendPeer& p) {
  p.handshake();
  for (int i = 0; i < 2000; ++i) p.send(make_message(Request::SetVringNum, VringState{200, 8}));
  EXPECT_NE(p.get_u64(Request::GetFeatures), 0U);
}
void flood_of_kicks(HostileFrontendPeer& p) {
  with_table(p);
  p.start_ring(0, 8, kRings, kAvail, kUsed);
  for (int i = 0; i < 100000; ++i) ASSERT_TRUE(p.kick().signal());
  EXPECT_NE(p.get_u64(Request::GetFeatures), 0U);
}

constexpr const char* kSessionEnded = "session ended: ";

constexpr std::array kAttacks{
    FrontendAttack{"mem_table_too_many_regions", too_many_regions, "SET_MEM_TABLE (5): "},
    FrontendAttack{"mem_table_overlapping_regions", overlapping_regions, "SET_MEM_TABLE (5): "},
    FrontendAttack{"mem_table_zero_size", zero_size_region, "SET_MEM_TABLE (5): "},
    FrontendAttack{"mem_table_huge_size", huge_region, "SET_MEM_TABLE (5): "},
    FrontendAttack{"mem_table_offset_beyond_the_fd", offset_beyond_the_fd, "SET_MEM_TABLE (5): "},
    FrontendAttack{"mem_table_offset_wrapping", offset_wrapping, "SET_MEM_TABLE (5): "},
    FrontendAttack{"mem_table_pipe_fd", pipe_as_memory, "SET_MEM_TABLE (5): "},
    FrontendAttack{"mem_table_socket_fd", socket_as_memory, "SET_MEM_TABLE (5): "},
    FrontendAttack{"mem_table_dev_null_fd", dev_null_as_memory, "SET_MEM_TABLE (5): "},
    FrontendAttack{"mem_table_fewer_fds_than_regions", fewer_fds_than_regions, "SET_MEM_TABLE (5): "},
    FrontendAttack{"mem_table_count_lies", region_count_lies, "SET_MEM_TABLE (5): "},
    FrontendAttack{"vring_num_zero", ring_size_zero, "SET_VRING_NUM (8): "},
    FrontendAttack{"vring_num_above_max", ring_size_above_max, "SET_VRING_NUM (8): "},
    FrontendAttack{"vring_num_not_power_of_two", ring_size_not_power_of_two, "SET_VRING_ENABLE (18): "},
    FrontendAttack{"vring_index_out_of_range", ring_index_out_of_range, "SET_VRING_NUM (8): "},
    FrontendAttack{"vring_addr_outside_every_region", ring_outside_every_region, "SET_VRING_ENABLE (18): "},
    FrontendAttack{"vring_addr_straddling_the_end", ring_straddling_the_end, "SET_VRING_ENABLE (18): "},
    FrontendAttack{"vring_base_past_16_bits", ring_position_past_16_bits, "SET_VRING_BASE (10): "},
    FrontendAttack{"avail_index_ahead_of_the_queue", available_index_ahead_of_the_queue, nullptr},
    FrontendAttack{"kick_fd_regular_file", kick_is_a_regular_file, "SET_VRING_KICK (12): "},
    FrontendAttack{"kick_fd_dev_null", kick_is_dev_null, "SET_VRING_KICK (12): "},
    FrontendAttack{"call_fd_socket", call_is_a_socket, "SET_VRING_CALL (13): "},
    FrontendAttack{"kick_without_fd", kick_without_its_fd, "SET_VRING_KICK (12): "},
    FrontendAttack{"vring_addr_before_mem_table", ring_address_before_the_table, "SET_VRING_ENABLE (18): "},
    FrontendAttack{"kick_before_features", kick_before_features, nullptr},
    FrontendAttack{"mem_table_before_features", table_before_features, nullptr},
    FrontendAttack{"set_owner_twice", owner_twice, nullptr},
    FrontendAttack{"mem_table_replaced_while_ring_runs", table_replaced_while_a_ring_runs, nullptr},
    FrontendAttack{"vring_num_while_ring_runs", ring_resized_while_it_runs, "SET_VRING_NUM (8): "},
    FrontendAttack{"payload_size_above_4096", size_above_4096, kSessionEnded},
    FrontendAttack{"payload_size_4_gib", size_of_4_gib, kSessionEnded},
    FrontendAttack{"payload_size_longer_than_sent", size_longer_than_sent, nullptr},
    FrontendAttack{"payload_size_shorter_than_sent", size_shorter_than_sent, "SET_FEATURES (2): "},
    FrontendAttack{"payload_wrong_size_for_request", wrong_size_for_the_request, "SET_VRING_NUM (8): "},
    FrontendAttack{"unknown_request_codes", unknown_request_code, nullptr},
    FrontendAttack{"request_flagged_as_reply", request_flagged_as_a_reply, "a reply where a request belongs"},
    FrontendAttack{"header_version_2", version_2, kSessionEnded},
    FrontendAttack{"header_version_0", version_0, kSessionEnded},
    FrontendAttack{"fds_on_a_request_without_any", descriptors_on_a_request_without_any, "GET_FEATURES (1): "},
    FrontendAttack{"get_vring_base_missing_ring", vring_base_of_a_ring_that_does_not_exist, "GET_VRING_BASE (11): "},
    FrontendAttack{"get_inflight_fd_huge", huge_inflight_region, "GET_INFLIGHT_FD (31): "},
    FrontendAttack{"get_config_outside_the_space", config_outside_the_space, "GET_CONFIG"},
    FrontendAttack{"disappear_mid_header", half_a_header, nullptr},
    FrontendAttack{"disappear_mid_payload", half_a_payload, nullptr},
    FrontendAttack{"disappear_while_ring_runs", gone_while_a_ring_runs, nullptr},
    FrontendAttack{"flood_of_requests", flood_of_requests, nullptr},
    FrontendAttack{"flood_of_refused_requests", flood_of_refused_requests, "SET_VRING_NUM (8): "},
    FrontendAttack{"flood_of_kicks", flood_of_kicks, nullptr},
};

}  // namespace

std::span<const FrontendAttack> frontend_attacks() { return kAttacks; }

}  // namespace hvtest
