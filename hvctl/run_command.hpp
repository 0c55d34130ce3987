#pragma once

#include <span>
#include <string_view>

namespace hvctl {

// `hvctl run [--backend NAME] [--memory MiB] [--vcpus N] [--mode real|long] [--load ADDR]
//            [--entry ADDR] [--testdev] [--console-max-bytes N] [--console-rate BYTES_PER_S] [IMAGE]`
// Exit status: the guest's debug-exit value (255 for a value above 255); 0 when every vCPU halted; 3 when the guest shut down,
// triple-faulted or asked for a reset; 4 on a hypervisor error; 2 on a usage error.
int run_command(std::span<const std::string_view> args);

}  // namespace hvctl
