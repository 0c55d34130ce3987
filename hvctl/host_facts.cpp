#include "host_facts.hpp"

#include <fstream>
#include <sys/utsname.h>

namespace hvctl {

HostFacts read_host_facts() {
  HostFacts facts;
  utsname u{};
  if (::uname(&u) == 0) {
    facts.hostname = u.nodename;
    facts.kernel = u.release;
  }
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) facts.cpu_model = line.substr(line.find_first_not_of(' ', colon + 1));
      break;
    }
  }
  return facts;
}

}  // namespace hvctl
