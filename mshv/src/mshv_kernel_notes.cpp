#include "hv/mshv/kernel_notes.hpp"

#include <charconv>

namespace hv::mshv {

namespace {

struct Release {
  unsigned major = 0, minor = 0, patch = 0;
  std::optional<unsigned> rc;  // "-rcN"
};

// Reads a leading decimal number of `s` and drops it; nothing on no digits.
std::optional<unsigned> take_number(std::string_view& s) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end == s.data()) return std::nullopt;
  s.remove_prefix(static_cast<std::size_t>(end - s.data()));
  return value;
}

// "6.19.3-200.fc43.x86_64", "7.0.0-rc5", "6.19-rc2+": major.minor[.patch][-rcN]...
std::optional<Release> parse(std::string_view s) {
  Release r;
  auto major = take_number(s);
  if (!major || s.empty() || s.front() != '.') return std::nullopt;
  s.remove_prefix(1);
  auto minor = take_number(s);
  if (!minor) return std::nullopt;
  r.major = *major;
  r.minor = *minor;
  if (!s.empty() && s.front() == '.') {
    s.remove_prefix(1);
    auto patch = take_number(s);
    if (!patch) return std::nullopt;
    r.patch = *patch;
  }
  if (s.starts_with("-rc")) {
    s.remove_prefix(3);
    r.rc = take_number(s);
  }
  return r;
}

}  // namespace

std::optional<std::string> kernel_hazard(std::string_view release) {
  const auto r = parse(release);
  if (!r) return std::nullopt;
  const bool affected = (r->major == 6 && r->minor == 19 && r->patch < 14) ||
                        (r->major == 7 && r->minor == 0 && r->patch == 0 && r->rc && *r->rc < 8);
  if (!affected) return std::nullopt;
  return "Linux " + std::string(release) +
         ": a guest write to a read-only MSHV region can spin in the kernel (6.19 movable regions; fixed by "
         "16cbec248976 in 6.19.14 and 7.0-rc8) unless this kernel carries that fix";
}

}  // namespace hv::mshv
