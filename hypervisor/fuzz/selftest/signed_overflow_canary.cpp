// A libFuzzer target with undefined behaviour on every input: a signed integer overflow. It exists
// only for scripts/fuzz_selftest.sh, which checks that the fuzz build and scripts/fuzz.sh treat a
// UBSan report as a failure; its name does not end in _fuzz, so fuzz.sh never runs it on its own.
#include <cstddef>
#include <cstdint>
#include <limits>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  volatile int big = std::numeric_limits<int>::max();  // volatile: the overflow happens at run time
  const int step = 1 + static_cast<int>(size > 0 ? data[0] % 2 : 0);
  volatile int sum = big + step;  // overflows for every input
  return sum == 0 ? 1 : 0;
}
