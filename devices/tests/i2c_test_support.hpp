#pragma once
// Shared by the I2C tests: building messages, and a scratch directory removed at the end of a test.

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "hv/dev/i2c_bus.hpp"

namespace i2ctest {

inline hv::dev::I2cMessage write_to(std::uint8_t address, std::vector<std::uint8_t>& bytes) {
  return {.address = address, .read = false, .data = bytes};
}
inline hv::dev::I2cMessage read_from(std::uint8_t address, std::vector<std::uint8_t>& bytes) {
  return {.address = address, .read = true, .data = bytes};
}

class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "hvkit-i2c-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = pattern;
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  [[nodiscard]] std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace i2ctest
