// Landlock's three system calls (444..446 on x86-64). The rights are spelled here by ABI version
// rather than taken from <linux/landlock.h>, whose age is the build host's, not the kernel's.
#include "sandbox_landlock.hpp"

#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "hv/unique_fd.hpp"

// NOLINTBEGIN(cppcoreguidelines-pro-type-vararg): syscall(2) and open(2) are variadic in C; each call
// passes exactly the arguments Landlock's system calls take.
namespace hvd {
namespace {

constexpr std::uint64_t kFsAbi1 = (1ULL << 13) - 1;  // EXECUTE .. MAKE_SYM
constexpr std::uint64_t kFsRefer = 1ULL << 13;       // ABI 2
constexpr std::uint64_t kFsTruncate = 1ULL << 14;    // ABI 3
constexpr std::uint64_t kFsIoctlDev = 1ULL << 15;    // ABI 5
constexpr std::uint64_t kFsReadFile = 1ULL << 2, kFsReadDir = 1ULL << 3;
constexpr std::uint64_t kNetTcp = 0x3;    // BIND_TCP | CONNECT_TCP, ABI 4
constexpr std::uint64_t kScopeAll = 0x3;  // ABSTRACT_UNIX_SOCKET | SIGNAL, ABI 6

// struct landlock_ruleset_attr as of ABI 6; older kernels are given only the fields they know.
struct RulesetAttr {
  std::uint64_t handled_access_fs = 0;
  std::uint64_t handled_access_net = 0;
  std::uint64_t scoped = 0;
};

std::uint64_t fs_rights(int abi) {
  std::uint64_t rights = kFsAbi1;
  if (abi >= 2) rights |= kFsRefer;
  if (abi >= 3) rights |= kFsTruncate;
  if (abi >= 5) rights |= kFsIoctlDev;
  return rights;
}

}  // namespace

int landlock_abi() {
  const long abi = ::syscall(__NR_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  return abi < 0 ? 0 : static_cast<int>(abi);
}

hv::Result<int> restrict_filesystem(const std::vector<std::string>& readable) {
  constexpr const char* op = "sandbox: landlock";
  const int abi = landlock_abi();
  if (abi == 0) return 0;
  RulesetAttr attr;
  attr.handled_access_fs = fs_rights(abi);
  std::size_t size = sizeof attr.handled_access_fs;
  if (abi >= 4) {
    attr.handled_access_net = kNetTcp;
    size += sizeof attr.handled_access_net;
  }
  if (abi >= 6) {
    attr.scoped = kScopeAll;
    size += sizeof attr.scoped;
  }
  const hv::UniqueFd ruleset(static_cast<int>(::syscall(__NR_landlock_create_ruleset, &attr, size, 0U)));
  if (!ruleset) return hv::fail_errno(op, errno, "landlock_create_ruleset");
  for (const auto& path : readable) {
    const hv::UniqueFd where(::open(path.c_str(), O_PATH | O_CLOEXEC));
    if (!where) continue;  // nothing there to allow
    landlock_path_beneath_attr rule{};
    rule.allowed_access = kFsReadFile | kFsReadDir;
    rule.parent_fd = where.get();
    if (::syscall(__NR_landlock_add_rule, ruleset.get(), LANDLOCK_RULE_PATH_BENEATH, &rule, 0U) != 0) {
      return hv::fail_errno(op, errno, "landlock_add_rule " + path);
    }
  }
  if (::syscall(__NR_landlock_restrict_self, ruleset.get(), 0U) != 0) {
    return hv::fail_errno(op, errno, "landlock_restrict_self");
  }
  return abi;
}

}  // namespace hvd
// NOLINTEND(cppcoreguidelines-pro-type-vararg)
