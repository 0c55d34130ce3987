#pragma once
// What `hvctl run` puts between guest output and a terminal (--console-filter): a guest must not be
// able to drive the user's terminal beyond text, colours and cursor movement.

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "hv/dev/byte_sink.hpp"

namespace hvctl {

// A streaming filter over a byte stream bound for a terminal that decodes UTF-8. It drops:
// - the control strings, from their introducer up to and including their terminator: OSC (ESC ],
//   e.g. OSC 52 clipboard writes and window titles), DCS (ESC P), SOS (ESC X), PM (ESC ^) and
//   APC (ESC _), introduced in 7 bits or as C1 controls (U+0090, U+0098, U+009D-U+009F as UTF-8; raw
//   8-bit C1 bytes are not UTF-8 and dropped like any malformed byte). A string ends at ST (ESC \ or
//   U+009C or a raw 0x9C), BEL, CAN or SUB, or an ESC that begins another sequence;
// - ESC % sequences, which switch the terminal's coding (ESC % @ leaves UTF-8, after which bytes
//   inside UTF-8 characters would read as 8-bit C1 controls);
// - malformed UTF-8 (stray continuation bytes, overlong forms, surrogates, code points past U+10FFFF).
// Everything else passes: text, CR, LF, TAB, BS and the other C0 controls, CSI sequences (colours,
// cursor movement), other escape sequences, and the other C1 controls.
//
// Sequences may be split anywhere across calls. The state kept between calls is bounded: at most 4
// held-back bytes (an ESC, or an incomplete UTF-8 character) whose fate depends on what follows.
// Nothing inside a dropped string is kept, so an unterminated one costs nothing: the output is
// dropped until a terminator comes. The filter never emits an ESC without the byte that follows it.
class TerminalFilter {
 public:
  // Appends to `out` what of `in` may reach the terminal.
  void filter(std::span<const std::uint8_t> in, std::vector<std::uint8_t>& out);
  // Bytes dropped so far (held-back bytes are not counted until their fate is known).
  [[nodiscard]] std::uint64_t dropped() const noexcept;

 private:
  enum class State : std::uint8_t {
    Ground,        // text
    Escape,        // after an ESC (held back)
    DropSequence,  // inside an ESC % sequence: intermediates, then a final byte
    String,        // inside a control string: everything dropped
    StringEscape,  // an ESC inside a control string: ST, or the start of another sequence (held back)
  };
  void feed(std::uint8_t b, std::vector<std::uint8_t>& out);
  void ground(std::uint8_t b, std::vector<std::uint8_t>& out);
  void escape(std::uint8_t b, std::vector<std::uint8_t>& out);
  void drop_sequence(std::uint8_t b, std::vector<std::uint8_t>& out);
  void string(std::uint8_t b);
  void character_complete(std::vector<std::uint8_t>& out);
  [[nodiscard]] bool continues_character(std::uint8_t b) const noexcept;
  [[nodiscard]] std::uint64_t held() const noexcept;

  State state_ = State::Ground;
  std::uint8_t utf8_[4] = {};  // the UTF-8 character being collected (in Ground or String)
  std::uint8_t utf8_length_ = 0;
  std::uint64_t in_ = 0, out_ = 0;
};

// A ByteSink that passes what it is given through a TerminalFilter to `inner`. Safe from several
// threads (the UART's and the virtio console's writers): one filter sees the bytes in the order the
// terminal does.
class TerminalFilterSink final : public hv::dev::ByteSink {
 public:
  // Shares the sink it filters into, as every device sink does (nothing holds a reference that could
  // outlive its target).
  explicit TerminalFilterSink(std::shared_ptr<hv::dev::ByteSink> inner) : inner_(std::move(inner)) {}
  void write(std::span<const std::uint8_t> bytes) override;
  [[nodiscard]] std::uint64_t dropped() const;

 private:
  std::shared_ptr<hv::dev::ByteSink> inner_;
  mutable std::mutex mutex_;
  TerminalFilter filter_;
  std::vector<std::uint8_t> buffer_;  // reused: holds one write's output
};

}  // namespace hvctl
