#pragma once
#include "hv/dev/interrupt_line.hpp"

namespace hvtest {
// Remembers the line's level and counts rising edges and calls.
class RecordingLine final : public hv::dev::InterruptLine {
 public:
  void set_level(bool asserted) override {
    if (asserted && !level) ++raised;
    level = asserted;
    ++calls;
  }
  bool level = false;
  int raised = 0;
  int calls = 0;
};
}  // namespace hvtest
