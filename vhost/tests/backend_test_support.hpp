#pragma once
// What the backend tests share: a frontend's guest RAM as memfds it can send, and the messages a
// frontend builds (SET_MEM_TABLE, ADD/REM_MEM_REG) with their descriptors attached.

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "hv/unique_fd.hpp"
#include "hv/vhost/message.hpp"

namespace hvtest {

inline hv::UniqueFd make_memfd(std::uint64_t size) {
  hv::UniqueFd fd(::memfd_create("vhost-backend-test", MFD_CLOEXEC));
  EXPECT_TRUE(fd);
  EXPECT_EQ(::ftruncate(fd.get(), static_cast<off_t>(size)), 0);
  return fd;
}

inline hv::UniqueFd dup_fd(int fd) { return hv::UniqueFd(::fcntl(fd, F_DUPFD_CLOEXEC, 0)); }

// SET_MEM_TABLE with `regions`, one duplicate of `fds[i]` each (for a Message a session receives).
inline hv::vhost::Message mem_table(const std::vector<hv::vhost::MemoryRegion>& regions, const std::vector<int>& fds,
                                    bool need_reply = false) {
  hv::vhost::Message m = hv::vhost::make_message(hv::vhost::Request::SetMemTable, need_reply);
  const hv::vhost::MemoryTableHeader header{static_cast<std::uint32_t>(regions.size()), 0};
  m.payload.resize(sizeof header + regions.size() * sizeof(hv::vhost::MemoryRegion));
  std::memcpy(m.payload.data(), &header, sizeof header);
  if (!regions.empty())
    std::memcpy(m.payload.data() + sizeof header, regions.data(), regions.size() * sizeof(regions[0]));
  m.header.size = static_cast<std::uint32_t>(m.payload.size());
  for (int fd : fds) m.fds.push_back(dup_fd(fd));
  return m;
}

inline hv::vhost::Message single_region(hv::vhost::Request request, const hv::vhost::MemoryRegion& region, int fd,
                                        bool need_reply = false) {
  hv::vhost::Message m = hv::vhost::make_message(request, hv::vhost::SingleMemoryRegion{0, region}, need_reply);
  if (fd >= 0) m.fds.push_back(dup_fd(fd));
  return m;
}

// The raw descriptors of `m` (for Channel::send, which takes ints).
inline std::vector<int> raw_fds(const hv::vhost::Message& m) {
  std::vector<int> fds;
  for (const auto& fd : m.fds) fds.push_back(fd.get());
  return fds;
}

}  // namespace hvtest
