#pragma once
#include "hv/dev/interrupt_line.hpp"

namespace hvtest {
// Remembers the line's level and counts rising edges.
class RecordingLine final : public hv::dev::InterruptLine {
 public:
  void set_level(bool asserted) override {
    if (asserted && !level) ++raised;
    level = asserted;
  }
  bool level = false;
  int raised = 0;
};
}  // namespace hvtest
