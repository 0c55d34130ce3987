#pragma once
// What hvctl reports about the host it ran on.

#include <string>

namespace hvctl {

struct HostFacts {
  std::string hostname;
  std::string kernel;     // uname -r
  std::string cpu_model;  // /proc/cpuinfo "model name"
};

HostFacts read_host_facts();

}  // namespace hvctl
