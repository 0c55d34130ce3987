// hvctl: hvkit's command-line tool for operators and VMM authors.

#include <cstdio>
#include <string_view>
#include <vector>

#include "hv/builtin_backends.hpp"
#include "hv/version.hpp"
#include "conformance_command.hpp"
#include "info_command.hpp"
#include "mshv_probe_command.hpp"
#include "run_command.hpp"

namespace {

void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: hvctl <command> [options]\n"
               "\n"
               "commands:\n"
               "  info [--json]    list hypervisor backends, their availability and capabilities\n"
               "  conformance [--backend NAME|all] [--filter GLOB] [--json]\n"
               "                   run the conformance suite on this host (exit 1 if a case fails, 5 if\n"
               "                   none ran)\n"
               "  run [options] [IMAGE]\n"
               "                   boot IMAGE (or the demo guest) with the legacy devices; see hvctl run --help\n"
               "  mshv-probe [--backend mshv|mshv-sim] [--json]\n"
               "                   a scripted session on MSHV that prints the hypervisor's raw answers (for\n"
               "                   a first run on a Hyper-V root partition); see hvctl mshv-probe --help\n"
               "  version          print \"hvctl <version>\" (also --version)\n"
               "  help             this text\n"
               "\n"
               "Each command's exit statuses are in hvctl COMMAND --help; a usage error exits 2 everywhere.\n");
}

}  // namespace

int main(int argc, char** argv) {
  hv::register_builtin_backends();
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty()) {
    usage(stderr);
    return 2;
  }
  const auto command = args.front();
  const std::span<const std::string_view> rest(args.data() + 1, args.size() - 1);
  if (command == "info") return hvctl::info_command(rest);
  if (command == "conformance") return hvctl::conformance_command(rest);
  if (command == "run") return hvctl::run_command(rest);
  if (command == "mshv-probe") return hvctl::mshv_probe_command(rest);
  if (command == "version" || command == "--version") {
    std::printf("hvctl %s\n", HVKIT_VERSION_STRING);
    return 0;
  }
  if (command == "help" || command == "--help" || command == "-h") {
    usage(stdout);
    return 0;
  }
  std::fprintf(stderr, "hvctl: unknown command '%.*s'\n", static_cast<int>(command.size()), command.data());
  usage(stderr);
  return 2;
}
