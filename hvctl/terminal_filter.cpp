#include "terminal_filter.hpp"

namespace hvctl {

namespace {

constexpr std::uint8_t kEsc = 0x1b, kBel = 0x07, kCan = 0x18, kSub = 0x1a, kDel = 0x7f;
constexpr std::uint8_t kStringTerminator = 0x9c;  // ST as a C1 control

// ESC ] (OSC), ESC P (DCS), ESC X (SOS), ESC ^ (PM), ESC _ (APC).
bool introduces_string_7bit(std::uint8_t b) { return b == ']' || b == 'P' || b == 'X' || b == '^' || b == '_'; }
// The same as C1 controls: DCS 0x90, SOS 0x98, OSC 0x9d, PM 0x9e, APC 0x9f.
bool introduces_string_c1(std::uint8_t c1) {
  return c1 == 0x90 || c1 == 0x98 || c1 == 0x9d || c1 == 0x9e || c1 == 0x9f;
}

// How many bytes a UTF-8 character starting with `lead` has; 0 if `lead` cannot start one.
std::uint8_t character_length(std::uint8_t lead) {
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

}  // namespace

void TerminalFilter::filter(std::span<const std::uint8_t> in, std::vector<std::uint8_t>& out) {
  const std::size_t before = out.size();
  for (const std::uint8_t b : in) feed(b, out);
  in_ += in.size();
  out_ += out.size() - before;
}

std::uint64_t TerminalFilter::held() const noexcept {
  if (state_ == State::Escape || state_ == State::StringEscape) return 1;
  return state_ == State::Ground ? utf8_length_ : 0;
}

std::uint64_t TerminalFilter::dropped() const noexcept { return in_ - out_ - held(); }

// Whether `b` is the next byte of the character in utf8_ (RFC 3629: the second byte's range depends on
// the lead, which excludes overlong forms, surrogates and code points past U+10FFFF).
bool TerminalFilter::continues_character(std::uint8_t b) const noexcept {
  if (utf8_length_ == 1) {
    switch (utf8_[0]) {
      case 0xe0: return b >= 0xa0 && b <= 0xbf;
      case 0xed: return b >= 0x80 && b <= 0x9f;
      case 0xf0: return b >= 0x90 && b <= 0xbf;
      case 0xf4: return b >= 0x80 && b <= 0x8f;
      default: break;
    }
  }
  return b >= 0x80 && b <= 0xbf;
}

void TerminalFilter::feed(std::uint8_t b, std::vector<std::uint8_t>& out) {
  if (utf8_length_ > 0) {
    if (continues_character(b)) {
      utf8_[utf8_length_++] = b;
      if (utf8_length_ == character_length(utf8_[0])) character_complete(out);
      return;
    }
    utf8_length_ = 0;  // a malformed character: its bytes are dropped, `b` is read afresh
  }
  switch (state_) {
    case State::Ground: ground(b, out); break;
    case State::Escape: escape(b, out); break;
    case State::DropSequence: drop_sequence(b, out); break;
    case State::String: string(b); break;
    case State::StringEscape:
      if (b == '\\') {  // ST: the string is over, ESC \ dropped with it
        state_ = State::Ground;
      } else {  // the string ends, and the ESC begins another sequence
        state_ = State::Escape;
        escape(b, out);
      }
      break;
  }
}

void TerminalFilter::ground(std::uint8_t b, std::vector<std::uint8_t>& out) {
  if (b == kEsc) {
    state_ = State::Escape;  // held back until the next byte says what it begins
  } else if (b < 0x80) {
    out.push_back(b);
  } else if (character_length(b) != 0) {
    utf8_[0] = b;
    utf8_length_ = 1;
  }
  // Otherwise a byte no UTF-8 character starts with (a stray continuation byte, a raw C1 control):
  // dropped.
}

// A whole UTF-8 character in utf8_, collected in Ground or String.
void TerminalFilter::character_complete(std::vector<std::uint8_t>& out) {
  const std::uint8_t length = utf8_length_;
  utf8_length_ = 0;
  const bool c1 = utf8_[0] == 0xc2 && utf8_[1] <= 0x9f;  // U+0080-U+009F: a C1 control
  if (state_ == State::String) {
    if (c1 && utf8_[1] == kStringTerminator) state_ = State::Ground;
    return;
  }
  if (c1 && introduces_string_c1(utf8_[1])) {
    state_ = State::String;
    return;
  }
  out.insert(out.end(), utf8_, utf8_ + length);
}

void TerminalFilter::escape(std::uint8_t b, std::vector<std::uint8_t>& out) {
  if (b == kEsc) return;         // the earlier ESC is dropped (the terminal restarts too); this one is held
  if (b == kCan || b == kSub) {  // cancels the sequence: the ESC is dropped
    state_ = State::Ground;
    out.push_back(b);
  } else if (b < 0x20) {
    out.push_back(b);  // a terminal executes C0 controls inside an escape sequence and stays in it
  } else if (b == kDel) {
    // ignored inside an escape sequence, by the terminal too
  } else if (introduces_string_7bit(b)) {
    state_ = State::String;
  } else if (b == '%') {
    state_ = State::DropSequence;
  } else if (b < 0x80) {
    out.push_back(kEsc);
    out.push_back(b);
    state_ = State::Ground;
  } else {  // not a sequence: the ESC is dropped and the byte read as text
    state_ = State::Ground;
    ground(b, out);
  }
}

// After ESC %: intermediate bytes (0x20-0x2f), then one final byte (0x30-0x7e), all dropped.
void TerminalFilter::drop_sequence(std::uint8_t b, std::vector<std::uint8_t>& out) {
  if (b == kEsc) {
    state_ = State::Escape;
  } else if (b == kCan || b == kSub) {
    state_ = State::Ground;
  } else if (b < 0x20) {
    out.push_back(b);
  } else if (b >= 0x30 && b <= 0x7e) {
    state_ = State::Ground;
  } else if (b >= 0x80) {
    state_ = State::Ground;
    ground(b, out);
  }
}

// Inside a control string: everything is dropped until its end.
void TerminalFilter::string(std::uint8_t b) {
  if (b == kBel || b == kCan || b == kSub || b == kStringTerminator) {
    state_ = State::Ground;
  } else if (b == kEsc) {
    state_ = State::StringEscape;
  } else if (character_length(b) != 0) {
    utf8_[0] = b;  // collected only to find U+009C (ST) and not to mistake a 0x9c inside a character
    utf8_length_ = 1;
  }
}

void TerminalFilterSink::write(std::span<const std::uint8_t> bytes) {
  std::lock_guard lock(mutex_);
  buffer_.clear();
  filter_.filter(bytes, buffer_);
  if (!buffer_.empty()) inner_->write(buffer_);
}

std::uint64_t TerminalFilterSink::dropped() const {
  std::lock_guard lock(mutex_);
  return filter_.dropped();
}

}  // namespace hvctl
