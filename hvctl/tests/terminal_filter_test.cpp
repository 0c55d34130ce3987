// hvctl's console filter (terminal_filter.hpp): what a guest may and may not send to the user's
// terminal, streamed in pieces of any size. docs/threat-model/serial-16550.md names these tests.
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "hv/dev/byte_sink.hpp"
#include "terminal_filter.hpp"

namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes bytes(std::string_view text) { return {text.begin(), text.end()}; }

std::string filtered(std::string_view text) {
  hvctl::TerminalFilter f;
  Bytes out;
  f.filter(bytes(text), out);
  return {out.begin(), out.end()};
}

std::string filtered_byte_by_byte(std::string_view text) {
  hvctl::TerminalFilter f;
  Bytes out;
  for (const char c : text) {
    const auto b = static_cast<std::uint8_t>(c);
    f.filter(std::span(&b, 1), out);
  }
  return {out.begin(), out.end()};
}

// What a UTF-8 terminal (the VT500 parser, simplified to what matters here) makes of `out`: whether
// anything in it starts a control string (OSC, DCS, SOS, PM, APC, as ESC + byte or as a C1 control)
// or an ESC % coding switch, or is not UTF-8 at all. The filter's output must never do any of these.
std::string what_the_terminal_would_do(const std::string& out) {
  enum { Ground, Escape, Intermediate } state = Ground;
  for (std::size_t i = 0; i < out.size();) {
    const auto lead = static_cast<std::uint8_t>(out[i]);
    std::uint32_t cp = lead;
    std::size_t length = 1;
    if (lead >= 0x80) {
      length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc2 ? 2 : 0;
      if (length == 0 || i + length > out.size() || lead > 0xf4) return "malformed UTF-8 at " + std::to_string(i);
      cp = lead & (0x7fU >> length);
      for (std::size_t k = 1; k < length; ++k) {
        const auto c = static_cast<std::uint8_t>(out[i + k]);
        if ((c & 0xc0) != 0x80) return "malformed UTF-8 at " + std::to_string(i);
        cp = (cp << 6) | (c & 0x3f);
      }
      const std::uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
      if (cp < smallest[length] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return "overlong, surrogate or out-of-range UTF-8 at " + std::to_string(i);
      }
    }
    i += length;
    if (cp == 0x90 || cp == 0x98 || cp == 0x9d || cp == 0x9e || cp == 0x9f) return "a C1 string introducer";
    if (cp == 0x1b) {
      state = Escape;
    } else if (cp == 0x18 || cp == 0x1a || cp >= 0x80) {
      state = Ground;
    } else if (cp < 0x20 || cp == 0x7f) {
      // executed (or ignored) without leaving the sequence
    } else if (state == Escape) {
      if (cp == ']' || cp == 'P' || cp == 'X' || cp == '^' || cp == '_') return "ESC " + std::string(1, char(cp));
      if (cp == '%') return "ESC %";
      state = cp <= 0x2f ? Intermediate : Ground;
    } else if (state == Intermediate && cp >= 0x30) {
      state = Ground;
    }
  }
  return "";
}

TEST(TerminalFilter, TextControlsAndCsiPass) {
  const std::string text =
      "hello\r\n\tx\by\a"
      "\x1b[31mred\x1b[0m \x1b[1;4mbold\x1b[m\x1b[2J\x1b[10;20H\x1b[?25l\x1b[K"  // CSI: colours, cursor, erase
      "\x1b"
      "7\x1b"
      "8\x1b(B\x1b="  // other escape sequences
      "\xc2\x9b"
      "1m\xc2\x85";  // the CSI and NEL C1 controls (UTF-8)
  EXPECT_EQ(filtered(text), text);
}

TEST(TerminalFilter, Utf8TextPassesWithTheC1RangeInsideItsCharacters) {
  // U+201C/U+201D (quotes: E2 80 9C, E2 80 9D), U+2014 (E2 80 94): 0x9c and 0x9d inside characters.
  const std::string text = "h\xc3\xa9llo \xe2\x80\x94 \xe2\x80\x9cquoted\xe2\x80\x9d \xe6\x97\xa5 \xf0\x9f\x98\x80\n";
  EXPECT_EQ(filtered(text), text);
}

TEST(TerminalFilter, OscDcsSosPmAndApcStringsAreDroppedWithTheirTerminators) {
  EXPECT_EQ(filtered("a\x1b]52;c;aGVsbG8=\ab"), "ab") << "OSC 52 (clipboard), BEL-terminated";
  EXPECT_EQ(filtered("a\x1b]0;title\x1b\\b"), "ab") << "OSC 0 (title), ST-terminated";
  EXPECT_EQ(filtered("a\x1bP$q\"p\x1b\\b"), "ab") << "DCS (DECRQSS)";
  EXPECT_EQ(filtered("a\x1bXsos\x1b\\b"), "ab") << "SOS";
  EXPECT_EQ(filtered("a\x1b^pm\x1b\\b"), "ab") << "PM";
  EXPECT_EQ(filtered("a\x1b_apc\x1b\\b"), "ab") << "APC";
  EXPECT_EQ(filtered("a\x1b]2;t\x18"
                     "b\x1b]2;t\x1a"
                     "c"),
            "abc")
      << "CAN and SUB end a string";
}

TEST(TerminalFilter, C1FormsOfTheStringIntroducersAreDropped) {
  // As UTF-8 (U+009D OSC ... U+009C ST; U+0090 DCS, U+0098 SOS, U+009E PM, U+009F APC).
  EXPECT_EQ(filtered("a\xc2\x9d"
                     "52;c;eA==\xc2\x9c"
                     "b"),
            "ab");
  for (const char* introducer : {"\xc2\x90", "\xc2\x98", "\xc2\x9e", "\xc2\x9f"}) {
    EXPECT_EQ(filtered(std::string("a") + introducer + "payload\xc2\x9c" + "b"), "ab") << introducer;
  }
  // Raw 8-bit C1 bytes are not UTF-8: dropped on their own; what follows them is text.
  EXPECT_EQ(filtered("a\x9d"
                     "0;t\x9c"
                     "b"),
            "a0;tb");
  // A string also ends at a raw 0x9c, or at U+009C.
  EXPECT_EQ(filtered("a\x1b]0;t\x9c"
                     "b"),
            "ab");
}

TEST(TerminalFilter, A9cInsideACharacterDoesNotEndAString) {
  // The title holds U+201C (E2 80 9C): that 0x9c is part of a character, not ST.
  EXPECT_EQ(filtered("a\x1b]0;\xe2\x80\x9ctitle\xe2\x80\x9d\ab"), "ab");
}

TEST(TerminalFilter, AnEscInsideAStringEndsItAndBeginsTheNextSequence) {
  EXPECT_EQ(filtered("a\x1b]0;t\x1b[1mb"), "a\x1b[1mb");
  EXPECT_EQ(filtered("a\x1b]0;t\x1b]52;c;x\ab"), "ab");
}

TEST(TerminalFilter, EscapeSequenceCornersAreReadAsATerminalReadsThem) {
  EXPECT_EQ(filtered("\x1b\x1b[m"), "\x1b[m") << "ESC ESC: the second one counts";
  EXPECT_EQ(filtered("\x1b\x18x"), "\x18x") << "CAN cancels the ESC";
  // A C0 control inside an escape sequence is executed and the sequence goes on: ESC LF ] is an OSC.
  EXPECT_EQ(filtered("a\x1b\n]52;c;x\ab"), "a\nb");
  EXPECT_EQ(filtered("a\x1b\x7f]0;t\ab"), "ab") << "DEL is ignored inside the sequence";
  // ESC % switches the terminal's coding (ESC % @ leaves UTF-8): dropped, with its final byte.
  EXPECT_EQ(filtered("a\x1b%@b\x1b%Gc\x1b%/Gd"), "abcd");
  // ESC before a byte >= 0x80 begins no sequence: the ESC goes, the character stays.
  EXPECT_EQ(filtered("a\x1b\xc3\xa9"), "a\xc3\xa9");
  // ESC ( ] : ']' is the final byte of a charset designation there, not an OSC.
  EXPECT_EQ(filtered("\x1b(]x"), "\x1b(]x");
}

TEST(TerminalFilter, MalformedUtf8IsDropped) {
  EXPECT_EQ(filtered("a\x80"
                     "b\xbf"
                     "c"),
            "abc")
      << "stray continuation bytes";
  EXPECT_EQ(filtered("a\xc0\xaf"
                     "b\xe0\x80\xaf"
                     "c"),
            "abc")
      << "overlong forms";
  EXPECT_EQ(filtered("a\xe0\x82\x9d"
                     "0;t\ab"),
            "a0;t\ab")
      << "an overlong U+009D is no OSC";
  EXPECT_EQ(filtered("a\xed\xa0\x80"
                     "b\xf4\x90\x80\x80"
                     "c\xf5\x80"
                     "d"),
            "abcd")
      << "surrogates, past U+10FFFF, bytes no character starts with";
  EXPECT_EQ(filtered("a\xe2"
                     "b"),
            "ab")
      << "a character cut short";
}

TEST(TerminalFilter, SplitAnywhereTheOutputIsTheSame) {
  const std::string text =
      "A\x1b]52;c;SECRET\aB\x1b[31mred\x1b[0m\x1bPdcsSECRET\x1b\\C\xc2\x9dosc\xe2\x80\x9cSECRET\xc2\x9c"
      "D\x1b_apcSECRET\x1b\\E\xc3\xa9\xe2\x80\x94\x1b%@F\r\n";
  const std::string expected =
      "AB\x1b[31mred\x1b[0mCDE\xc3\xa9\xe2\x80\x94"
      "F\r\n";
  EXPECT_EQ(filtered(text), expected);
  EXPECT_EQ(filtered_byte_by_byte(text), expected);
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    hvctl::TerminalFilter f;
    Bytes out;
    f.filter(bytes(std::string_view(text).substr(0, cut)), out);
    f.filter(bytes(std::string_view(text).substr(cut)), out);
    EXPECT_EQ(std::string(out.begin(), out.end()), expected) << "split at " << cut;
  }
}

// No storage grows with the input: the filter holds no container, so an unterminated string (or any
// input) costs a fixed few bytes of state; the string's bytes are dropped as they come.
static_assert(std::is_trivially_copyable_v<hvctl::TerminalFilter>, "the filter's state must not grow");

TEST(TerminalFilter, AnUnterminatedStringIsDroppedAsItComesNotBuffered) {
  hvctl::TerminalFilter f;
  Bytes out;
  f.filter(bytes("ok\x1b]52;c;"), out);
  const Bytes chunk(64 * 1024, 'x');
  for (int i = 0; i < 64; ++i) f.filter(chunk, out);  // 4 MiB of an OSC that never ends
  EXPECT_EQ(std::string(out.begin(), out.end()), "ok");
  EXPECT_EQ(f.dropped(), 4U * 1024 * 1024 + 7);
  f.filter(bytes("\adone"), out);
  EXPECT_EQ(std::string(out.begin(), out.end()), "okdone");
}

TEST(TerminalFilter, DroppedCountsOnlyBytesWhoseFateIsKnown) {
  hvctl::TerminalFilter f;
  Bytes out;
  f.filter(bytes("a\x1b"), out);
  EXPECT_EQ(f.dropped(), 0U) << "the ESC is held, not dropped";
  f.filter(bytes("[m\xe2\x80"), out);
  EXPECT_EQ(f.dropped(), 0U) << "half a character is held";
  f.filter(bytes("\x94\x1b]0;t\a"), out);
  EXPECT_EQ(f.dropped(), 6U);
  EXPECT_EQ(std::string(out.begin(), out.end()), "a\x1b[m\xe2\x80\x94");
}

// Random byte soup, rich in the bytes that matter, filtered whole and in random pieces: the same
// output both ways, and nothing in it that a terminal would take as a string or a coding switch.
TEST(TerminalFilter, NoInputMakesTheTerminalEnterAStringInAnyPieces) {
  const std::uint8_t alphabet[] = {0x1b, ']',  'P',  'X',  '^',  '_',  '%',  '@',  'G',  '[',  '\\', 0x07, 0x18, 0x0a,
                                   0x7f, 0xc2, 0x9d, 0x9c, 0x90, 0x9b, 0xe2, 0xe0, 0x80, 0xbf, 0xf0, 'a',  ';'};
  std::mt19937 random(12345);
  for (int round = 0; round < 5000; ++round) {
    std::string text(1 + random() % 48, '\0');
    for (char& c : text) {
      c = static_cast<char>(random() % 4 == 0 ? random() % 256 : alphabet[random() % sizeof alphabet]);
    }
    const std::string whole = filtered(text);
    ASSERT_EQ(what_the_terminal_would_do(whole), "") << "round " << round;
    hvctl::TerminalFilter f;
    Bytes out;
    for (std::size_t at = 0; at < text.size();) {
      const std::size_t n = std::min<std::size_t>(text.size() - at, 1 + random() % 5);
      f.filter(bytes(std::string_view(text).substr(at, n)), out);
      at += n;
    }
    ASSERT_EQ(std::string(out.begin(), out.end()), whole) << "round " << round;
  }
}

// The sink: one filter behind a mutex, and no write that ends in an ESC whose next byte is still
// to come (a lost write could otherwise join it to the next write's first byte).
class RecordingSink final : public hv::dev::ByteSink {
 public:
  void write(std::span<const std::uint8_t> b) override { writes.emplace_back(b.begin(), b.end()); }
  std::vector<std::string> writes;
};

TEST(TerminalFilterSink, FiltersIntoItsSinkAndNeverEndsAWriteWithAnEsc) {
  auto shared_inner = std::make_shared<RecordingSink>();
  const RecordingSink& inner = *shared_inner;
  hvctl::TerminalFilterSink sink(shared_inner);
  for (const char* piece : {"x\x1b", "[3", "1mred\x1b", "]0;t", "itle\a", "\x1b", "\\y"}) {
    sink.write(bytes(piece));
  }
  std::string all;
  for (const auto& w : inner.writes) {
    EXPECT_FALSE(w.empty());
    EXPECT_NE(w.back(), '\x1b') << "a write ended in an ESC";
    all += w;
  }
  EXPECT_EQ(all, "x\x1b[31mred\x1b\\y");
  EXPECT_EQ(sink.dropped(), 10U);
}

}  // namespace
