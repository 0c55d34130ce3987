#include "daemon_cli.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>

#include "hv/vhost/backend_daemon.hpp"
#include "sandbox.hpp"
#include "sandbox_sanitizer.hpp"

#ifdef HVD_SANITIZER_BUILD
// LeakSanitizer's exit-time check stops the threads from a ptrace'ing child process, which the
// system-call filter kills, leaving the daemon waiting for it forever: sanitizer builds of the daemons
// do without it (ASAN_OPTIONS=detect_leaks=1 asks for it, with --no-sandbox). docs/sandbox.md.
extern "C" const char* __asan_default_options() { return "detect_leaks=0"; }  // NOLINT(bugprone-reserved-identifier)
#endif

namespace hvd {
namespace {

constexpr const char* kCommonUsage =
    "  --socket-path PATH      listen on a new Unix socket at PATH (a stale socket there is replaced)\n"
    "  --fd N                  serve the Unix socket inherited as descriptor N (listening: accept frontends;\n"
    "                          connected: serve that one frontend)\n"
    "  --user NAME|UID[:GID]   started as root: run as this user (and group) once set up\n"
    "  --no-sandbox            do not confine the daemon (for debugging; docs/sandbox.md)\n"
    "  --sandbox-debug         log a forbidden system call's name and exit, rather than be killed by SIGSYS\n"
    "  --print-capabilities    print the vhost-user capability JSON and exit\n"
    "  --help                  print this help and exit\n";

int usage_error(const DaemonSpec& spec, const std::string& message) {
  std::cerr << spec.name << ": " << message << " (see --help)\n";
  return 2;
}

}  // namespace

int run_daemon(const DaemonSpec& spec, const std::vector<std::string>& args) {
  // The conventions: --print-capabilities wins over everything else on the line.
  for (const auto& a : args) {
    if (a == "--print-capabilities") {
      std::cout << spec.capabilities << "\n";
      return 0;
    }
  }
  DaemonOptions options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i];
    std::optional<std::string> value;
    if (const auto eq = name.find('='); name.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    if (name == "--help" || name == "-h") {
      std::cout << "usage: " << spec.name << " (--socket-path PATH | --fd N) " << spec.usage << kCommonUsage;
      return 0;
    }
    const bool takes_value =
        name == "--socket-path" || name == "--fd" || name == "--user" || spec.value_options.count(name) != 0;
    const bool common_flag = name == "--no-sandbox" || name == "--sandbox-debug";
    if (!takes_value && !common_flag && spec.flag_options.count(name) == 0)
      return usage_error(spec, "unknown option '" + name + "'");
    if (takes_value && !value) {
      if (i + 1 >= args.size()) return usage_error(spec, name + " needs a value");
      value = args[++i];
    }
    if (!takes_value && value) return usage_error(spec, name + " takes no value");
    if (options.has(name) && spec.repeatable_options.count(name) == 0) {
      return usage_error(spec, name + " can be given once");
    }
    options.add(name, value.value_or(""));
  }
  const bool has_path = options.has("--socket-path"), has_fd = options.has("--fd");
  if (has_path == has_fd) return usage_error(spec, "give exactly one of --socket-path and --fd");
  SandboxOptions sandbox;
  sandbox.enabled = !options.has("--no-sandbox");
  sandbox.debug = options.has("--sandbox-debug");
  if (!sandbox.enabled && (sandbox.debug || options.has("--user"))) {
    return usage_error(spec, "--no-sandbox cannot be combined with --sandbox-debug or --user");
  }
  // Resolved now, before the device's files and the socket exist: a name that is not a user leaves
  // nothing behind (a socket at PATH nobody serves).
  if (options.has("--user")) {
    auto who = parse_user(options.value("--user"));
    if (!who) return usage_error(spec, who.error().to_string());
    if (::geteuid() != 0) {
      std::cerr << spec.name << ": --user: needs the daemon started as root\n";
      return 1;
    }
    sandbox.user = *who;
  }
  int fd = -1;
  if (has_fd) {
    try {
      std::size_t used = 0;
      fd = std::stoi(options.value("--fd"), &used);
      if (used != options.value("--fd").size() || fd < 0) throw std::invalid_argument("fd");
    } catch (const std::exception&) {
      return usage_error(spec, "--fd takes a descriptor number, not '" + options.value("--fd") + "'");
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
      std::cerr << spec.name << ": descriptor " << fd << " is not a socket\n";
      return 1;
    }
  }

  std::string error;
  auto device = spec.make_device(options, error);
  if (!device) {
    std::cerr << spec.name << ": " << error << "\n";
    return 1;
  }
  DevicePolicy policy;
  if (sandbox.enabled && spec.sandbox_policy) {
    auto made = spec.sandbox_policy(options);
    if (!made) {
      std::cerr << spec.name << ": " << made.error().to_string() << "\n";
      return 1;
    }
    policy = std::move(*made);
  }
  hv::UniqueFd socket;
  if (has_path) {
    auto listening = hv::vhost::listen_unix(options.value("--socket-path"));
    if (!listening) {
      std::cerr << spec.name << ": " << listening.error().to_string() << "\n";
      return 1;
    }
    socket = std::move(*listening);
  } else {
    socket = hv::UniqueFd(fd);
  }
  // A frontend that goes away while a reply is being written must not kill the daemon.
  (void)std::signal(SIGPIPE, SIG_IGN);  // cannot fail for SIGPIPE and SIG_IGN
  const auto log = [&spec](const std::string& line) { std::cerr << spec.name << ": " << line << std::endl; };
  // Confined before the first message: from here on the daemon only serves.
  auto confined = confine(sandbox, SandboxNeeds{std::move(policy), device->queue_count()}, spec.name);
  if (!confined) {
    log(confined.error().to_string());
    return 1;
  }
  log(confined->summary);
  log(has_path ? "listening on " + options.value("--socket-path") : "serving descriptor " + options.value("--fd"));
  auto served = hv::vhost::serve_frontends(device, std::move(socket), log, confined->on_ring_thread);
  if (!served) {
    log(served.error().to_string());
    return 1;
  }
  return 0;
}

}  // namespace hvd
