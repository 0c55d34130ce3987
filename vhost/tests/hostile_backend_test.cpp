// The hostile backend against the real `hvctl run` (issue #17): for each case of
// hostile_backend_attacks.cpp, on each hypervisor backend (kvm, mshv-sim) and, for a negotiation case,
// each device that needs no configuration space (--vhost-user-rng, --vhost-user-i2c), a scripted
// backend listens on a fresh socket, hvctl runs a tiny guest with the device at it, and hvctl must end
// on its own (never a signal, never a hang: a bound well above its --timeout), with the exit status
// README's table gives and a stderr line naming the socket. The kvm runs are skipped without a usable
// /dev/kvm.
#include <gtest/gtest.h>

#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ostream>
#include <string>
#include <vector>

#include "hostile_backend_attacks.hpp"
#include "hv/vhost/backend_daemon.hpp"
#include "hvctl_process.hpp"

namespace {

using namespace std::chrono_literals;
using hv::vhost::testing::ScriptedBackend;

// One run: a case on a hypervisor backend, with the device it is attached as.
struct HostileRun {
  const char* backend;  // hvctl run --backend
  const char* device;   // --vhost-user-DEVICE
  const hvtest::BackendAttack* attack;
};

// For gtest's messages: which run failed, in words.
void PrintTo(const HostileRun& run, std::ostream* out) {
  *out << run.backend << " --vhost-user-" << run.device << " " << run.attack->name;
}

std::vector<HostileRun> hostile_runs() {
  std::vector<HostileRun> runs;
  for (const char* backend : {"kvm", "mshv-sim"}) {
    for (const auto& attack : hvtest::backend_attacks()) {
      if (std::string(attack.device) == "rng") {
        runs.push_back({backend, "rng", &attack});
        runs.push_back({backend, "i2c", &attack});
      } else {
        runs.push_back({backend, attack.device, &attack});
      }
    }
  }
  return runs;
}

class HostileBackend : public ::testing::TestWithParam<HostileRun> {
 protected:
  void SetUp() override {
    if (std::string(GetParam().backend) == "kvm" && ::access("/dev/kvm", R_OK | W_OK) != 0) {
      GTEST_SKIP() << "no usable /dev/kvm";
    }
    char dir[] = "/tmp/hvkit-hostile-backend-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override {
    if (!dir_.empty()) (void)std::system(("rm -rf '" + dir_ + "'").c_str());
  }
  std::string dir_;
};

// The connection hvctl makes, accepted within `bound` (an invalid channel if none came).
hv::vhost::Channel accept_within(int listener, std::chrono::milliseconds bound) {
  pollfd p{listener, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(bound.count())) != 1) return hv::vhost::Channel(hv::UniqueFd());
  return hv::vhost::Channel(hv::UniqueFd(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC)));
}

TEST_P(HostileBackend, HvctlSurvivesWithAClearMessage) {
  const HostileRun& run = GetParam();
  const hvtest::BackendAttack& attack = *run.attack;
  const std::string socket = dir_ + "/backend.sock", option = std::string("--vhost-user-") + run.device;
  auto listener = hv::vhost::listen_unix(socket);
  ASSERT_TRUE(listener) << listener.error().to_string();
  const std::string guest = std::string(HVKIT_TEST_GUESTS) + "/" + attack.guest + ".bin";
  hvtest::HvctlProcess hvctl({HVCTL, "run", "--backend", run.backend, "--timeout", "20", "--vhost-user-reconnect", "0",
                              option, socket, "--load", "0x1000", guest},
                             dir_ + "/out", dir_ + "/err");
  ASSERT_GT(hvctl.pid(), 0);
  {
    hv::vhost::Channel accepted = accept_within(listener->get(), 10s);
    ASSERT_TRUE(accepted.valid()) << "hvctl did not connect: " << hvctl.how_it_ended() << "\n"
                                  << hvtest::file_text(dir_ + "/err");
    ScriptedBackend::Script script;
    attack.script(script);
    ScriptedBackend backend(script, std::move(accepted));
    if (attack.during != nullptr) attack.during(backend);
    ASSERT_TRUE(hvctl.wait(40s)) << "hvctl hangs\n" << hvtest::file_text(dir_ + "/err");
  }
  const std::string err = hvtest::file_text(dir_ + "/err"), out = hvtest::file_text(dir_ + "/out");
  std::printf("[ hvctl    ] %s %s %s: %s; stderr:\n%s", run.backend, run.device, attack.name,
              hvctl.how_it_ended().c_str(), err.c_str());
  ASSERT_TRUE(hvctl.exit_status()) << hvctl.how_it_ended() << "\n" << err;
  EXPECT_EQ(*hvctl.exit_status(), attack.exit_status) << out << err;
  const std::string named = "hvctl run: " + option + " " + socket + ": ";
  if (attack.message != nullptr) {
    const auto line = err.find(named);
    ASSERT_NE(line, std::string::npos) << "no line names the socket:\n" << err;
    EXPECT_NE(err.find(attack.message, line), std::string::npos) << err;
  } else if (attack.exit_status != 0 || attack.during != nullptr) {
    // A case the VMM has nothing to say about says nothing (no false alarm).
    EXPECT_EQ(err.find(named), std::string::npos) << err;
  }
}

INSTANTIATE_TEST_SUITE_P(Attacks, HostileBackend, ::testing::ValuesIn(hostile_runs()), [](const auto& test) {
  std::string name = std::string(test.param.backend) + "_" + test.param.device + "_" + test.param.attack->name;
  for (char& c : name) c = c == '-' ? '_' : c;
  return name;
});

}  // namespace
