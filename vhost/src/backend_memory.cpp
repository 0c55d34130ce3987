#include "hv/vhost/backend_memory.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <utility>

namespace hv::vhost {
namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

std::string describe_region(const MemoryRegion& r) {
  return "region (guest " + hex(r.guest_address) + ", size " + hex(r.size) + ", user " + hex(r.user_address) +
         ", offset " + hex(r.mmap_offset) + ")";
}

// One region on its own: what map_shared would refuse anyway, checked before any region is mapped so
// that a bad table costs no mmap, and the user address, which only this table uses.
Result<void> check_geometry(const MemoryRegion& r, const char* operation) {
  if (r.size == 0) return fail(ErrorKind::InvalidArgument, operation, describe_region(r) + " is empty");
  if (r.size > kMaxRegionSize) {
    return fail(ErrorKind::OutOfRange, operation, describe_region(r) + " exceeds the 1 TiB region limit");
  }
  if (r.guest_address > kMax - r.size || r.user_address > kMax - r.size || r.mmap_offset > kMax - r.size) {
    return fail(ErrorKind::OutOfRange, operation, describe_region(r) + " wraps past 2^64");
  }
  const bool aligned = r.guest_address % kPageSize == 0 && r.size % kPageSize == 0 && r.user_address % kPageSize == 0 &&
                       r.mmap_offset % kPageSize == 0;
  if (!aligned) return fail(ErrorKind::InvalidArgument, operation, describe_region(r) + " is not page-aligned");
  return {};
}

// No two regions may share a byte, neither of guest-physical nor of the frontend's user addresses: a
// user address must translate to one guest address, and a guest address to one host byte.
Result<void> check_disjoint(std::vector<MemoryRegion> regions, const char* operation) {
  const auto check = [&](auto start, const char* space) -> Result<void> {
    std::sort(regions.begin(), regions.end(), [&](const auto& a, const auto& b) { return start(a) < start(b); });
    for (std::size_t i = 1; i < regions.size(); ++i) {
      if (start(regions[i]) < start(regions[i - 1]) + regions[i - 1].size) {
        return fail(ErrorKind::Overlap, operation,
                    describe_region(regions[i]) + " overlaps " + describe_region(regions[i - 1]) + " in " + space);
      }
    }
    return {};
  };
  if (auto r = check([](const MemoryRegion& m) { return m.guest_address; }, "guest-physical addresses"); !r) return r;
  return check([](const MemoryRegion& m) { return m.user_address; }, "the frontend's user addresses");
}

// The message's payload as a T, at `offset` (the caller checked the size).
template <class T>
T read_at(const Message& m, std::size_t offset) {
  T value;
  std::memcpy(&value, std::span(m.payload).subspan(offset, sizeof(T)).data(), sizeof(T));
  return value;
}

}  // namespace

BackendMemoryTable::BackendMemoryTable() : memory_(std::make_shared<const GuestMemory>()) {}

Result<void> BackendMemoryTable::publish(std::vector<Entry> wanted, const char* operation) {
  std::vector<MemoryRegion> wire;
  wire.reserve(wanted.size());
  for (const auto& e : wanted) wire.push_back(e.wire);
  if (auto r = check_disjoint(std::move(wire), operation); !r) return r;
  auto memory = std::make_shared<GuestMemory>();
  for (const auto& e : wanted) {
    if (auto r = memory->add_region(e.region); !r) return r;
  }
  entries_ = std::move(wanted);
  memory_ = std::move(memory);
  return {};
}

Result<void> BackendMemoryTable::set_table(Message& message) {
  constexpr const char* op = "SET_MEM_TABLE";
  if (message.payload.size() < sizeof(MemoryTableHeader)) {
    return tl::unexpected(payload_size_error(message, sizeof(MemoryTableHeader)));
  }
  const auto header = read_at<MemoryTableHeader>(message, 0);
  if (header.count > kMaxMemTableRegions) {
    return fail(ErrorKind::ProtocolViolation, op,
                std::to_string(header.count) + " regions, at most " + std::to_string(kMaxMemTableRegions));
  }
  const std::size_t expected = sizeof(MemoryTableHeader) + std::size_t{header.count} * sizeof(MemoryRegion);
  if (message.payload.size() != expected) return tl::unexpected(payload_size_error(message, expected));
  if (auto r = expect_fds(message, header.count, header.count); !r) return r;

  std::vector<MemoryRegion> wire;
  wire.reserve(header.count);
  for (std::size_t i = 0; i < header.count; ++i) {
    wire.push_back(read_at<MemoryRegion>(message, sizeof(MemoryTableHeader) + i * sizeof(MemoryRegion)));
    if (auto r = check_geometry(wire.back(), op); !r) return r;
  }
  if (auto r = check_disjoint(wire, op); !r) return r;
  std::vector<Entry> wanted;
  wanted.reserve(wire.size());
  for (std::size_t i = 0; i < wire.size(); ++i) {
    auto region =
        GuestRegion::map_shared(wire[i].guest_address, wire[i].size, std::move(message.fds[i]), wire[i].mmap_offset);
    if (!region) {
      return fail(region.error().kind(), op, describe_region(wire[i]) + ": " + region.error().to_string());
    }
    wanted.push_back({wire[i], std::move(*region)});
  }
  return publish(std::move(wanted), op);
}

Result<void> BackendMemoryTable::add_region(Message& message) {
  constexpr const char* op = "ADD_MEM_REG";
  auto body = payload_as<SingleMemoryRegion>(message);
  if (!body) return tl::unexpected(body.error());
  if (auto r = expect_fds(message, 1, 1); !r) return r;
  const MemoryRegion& wire = body->region;
  if (entries_.size() >= kBackendMemSlots) {
    return fail(ErrorKind::ResourceExhausted, op,
                "the table already holds " + std::to_string(entries_.size()) + " regions, the most this backend maps");
  }
  if (auto r = check_geometry(wire, op); !r) return r;
  std::vector<Entry> wanted = entries_;
  std::vector<MemoryRegion> all;
  all.reserve(wanted.size() + 1);
  for (const auto& e : wanted) all.push_back(e.wire);
  all.push_back(wire);
  if (auto r = check_disjoint(std::move(all), op); !r) return r;  // before the mmap
  auto region = GuestRegion::map_shared(wire.guest_address, wire.size, std::move(message.fds[0]), wire.mmap_offset);
  if (!region) return fail(region.error().kind(), op, describe_region(wire) + ": " + region.error().to_string());
  wanted.push_back({wire, std::move(*region)});
  return publish(std::move(wanted), op);
}

Result<void> BackendMemoryTable::remove_region(const Message& message) {
  constexpr const char* op = "REM_MEM_REG";
  auto body = payload_as<SingleMemoryRegion>(message);
  if (!body) return tl::unexpected(body.error());
  if (auto r = expect_fds(message, 0, 1); !r) return r;
  const MemoryRegion& wire = body->region;
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) {
    return e.wire.guest_address == wire.guest_address && e.wire.size == wire.size &&
           e.wire.user_address == wire.user_address;
  });
  if (it == entries_.end()) return fail(ErrorKind::NotFound, op, "no " + describe_region(wire) + " in the table");
  std::vector<Entry> wanted = entries_;
  wanted.erase(wanted.begin() + (it - entries_.begin()));
  return publish(std::move(wanted), op);
}

void BackendMemoryTable::clear() {
  entries_.clear();
  memory_ = std::make_shared<const GuestMemory>();
}

Result<std::uint64_t> BackendMemoryTable::translate(std::uint64_t uva, std::uint64_t len) const {
  for (const auto& e : entries_) {
    const std::uint64_t offset = uva - e.wire.user_address;  // wraps to a huge value below the region
    if (len != 0 && offset < e.wire.size && len <= e.wire.size - offset) return e.wire.guest_address + offset;
  }
  return fail(ErrorKind::OutOfRange, "vhost-user address translation",
              "user address " + hex(uva) + " (+" + hex(len) + ") is not inside one region of the memory table");
}

}  // namespace hv::vhost
