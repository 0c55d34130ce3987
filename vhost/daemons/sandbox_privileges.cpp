// setgroups/setresgid/setresuid, the capability sets by capset(2) (struct __user_cap_*: the kernel's
// ABI, version 3, two 32-bit words per set) and prctl(2) for the bounding and ambient sets.
#include "sandbox_privileges.hpp"

#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <vector>

// NOLINTBEGIN(cppcoreguidelines-pro-type-vararg): prctl(2) and syscall(2) are variadic in C; each call
// passes the arguments its option documents.
namespace hvd {
namespace {

constexpr const char* kOp = "sandbox: --user";

// A decimal id, or false.
bool parse_id(const std::string& text, unsigned long& id) {
  if (text.empty() || text.size() > 10 || text.find_first_not_of("0123456789") != std::string::npos) return false;
  id = std::strtoul(text.c_str(), nullptr, 10);
  return id < 0xffffffffUL;  // (uid_t)-1 means "unchanged" to the set*id calls
}

}  // namespace

hv::Result<Identity> parse_user(const std::string& spec) {
  const auto colon = spec.find(':');
  const std::string user = spec.substr(0, colon);
  const std::string group_text = colon == std::string::npos ? std::string() : spec.substr(colon + 1);
  std::vector<char> buffer(16384);
  Identity who;
  bool have_group = false;
  unsigned long id = 0;
  passwd pw{};
  passwd* found = nullptr;
  if (parse_id(user, id)) {
    who.uid = static_cast<uid_t>(id);
    if (::getpwuid_r(who.uid, &pw, buffer.data(), buffer.size(), &found) == 0 && found != nullptr) {
      who.gid = pw.pw_gid;
      have_group = true;
    }
  } else {
    if (::getpwnam_r(user.c_str(), &pw, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
      return hv::fail(hv::ErrorKind::NotFound, kOp, "no user '" + user + "'");
    }
    who.uid = pw.pw_uid;
    who.gid = pw.pw_gid;
    have_group = true;
  }
  if (colon != std::string::npos) {
    group gr{};
    group* found_group = nullptr;
    if (parse_id(group_text, id)) {
      who.gid = static_cast<gid_t>(id);
    } else if (::getgrnam_r(group_text.c_str(), &gr, buffer.data(), buffer.size(), &found_group) == 0 &&
               found_group != nullptr) {
      who.gid = gr.gr_gid;
    } else {
      return hv::fail(hv::ErrorKind::NotFound, kOp, "no group '" + group_text + "'");
    }
    have_group = true;
  }
  if (!have_group) return hv::fail(hv::ErrorKind::NotFound, kOp, "uid " + user + " has no user entry: give UID:GID");
  return who;
}

hv::Result<void> switch_user(const Identity& who) {
  if (::setgroups(0, nullptr) != 0) return hv::fail_errno(kOp, errno, "setgroups");
  if (::setresgid(who.gid, who.gid, who.gid) != 0) return hv::fail_errno(kOp, errno, "setresgid");
  if (::setresuid(who.uid, who.uid, who.uid) != 0) return hv::fail_errno(kOp, errno, "setresuid");
  // The switch is for good: neither root's uid nor its gid can come back.
  if (who.uid != 0 && (::setresuid(0, 0, 0) == 0 || ::setuid(0) == 0)) {
    return hv::fail(hv::ErrorKind::Internal, kOp, "uid 0 could be regained");
  }
  if (who.gid != 0 && who.uid != 0 && ::setresgid(0, 0, 0) == 0) {
    return hv::fail(hv::ErrorKind::Internal, kOp, "gid 0 could be regained");
  }
  return {};
}

hv::Result<bool> drop_bounding_set() {
  constexpr const char* op = "sandbox: bounding set";
  for (unsigned long cap = 0;; ++cap) {
    if (::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0) break;  // EINVAL: past the last capability
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      if (errno == EPERM && cap == 0) return false;  // no CAP_SETPCAP
      return hv::fail_errno(op, errno, "PR_CAPBSET_DROP " + std::to_string(cap));
    }
  }
  // Root gets no capabilities back from an execve or a uid change, and no one can raise ambient ones.
  constexpr unsigned long kBits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
                                  SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED | SECBIT_KEEP_CAPS_LOCKED;
  if (::prctl(PR_SET_SECUREBITS, kBits, 0, 0, 0) != 0) return hv::fail_errno(op, errno, "PR_SET_SECUREBITS");
  return true;
}

hv::Result<void> clear_capabilities() {
  constexpr const char* op = "sandbox: capabilities";
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) return hv::fail_errno(op, errno, "ambient");
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  std::array<__user_cap_data_struct, _LINUX_CAPABILITY_U32S_3> none{};
  if (::syscall(SYS_capset, &header, none.data()) != 0) return hv::fail_errno(op, errno, "capset");
  return {};
}

hv::Result<void> set_no_new_privs() {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return hv::fail_errno("sandbox: no_new_privs", errno);
  return {};
}

}  // namespace hvd
// NOLINTEND(cppcoreguidelines-pro-type-vararg)
