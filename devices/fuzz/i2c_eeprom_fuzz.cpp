// Transactions chosen by the fuzzer through an I2cAddressMap holding two simulated EEPROMs (0x50 and
// 0x51; 0x52 is unrouted), checked against a reference model: the count of successful messages, every
// byte read, the contents and the pointers. Message lengths go up past kI2cMaxMessageBytes and
// transactions past kI2cMaxTransactionMessages, which must fail where the contract says.
#include <array>
#include <vector>

#include "fuzz_input.hpp"
#include "hv/dev/i2c_address_map.hpp"
#include "hv/dev/i2c_eeprom.hpp"

namespace {

struct Model {
  std::array<std::uint8_t, 256> bytes{};
  std::uint8_t pointer = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  hvfuzz::FuzzInput in(data, size);
  const std::array<std::uint8_t, 2> addresses{0x50, 0x51};
  hv::dev::I2cAddressMap map;
  std::array<std::shared_ptr<hv::dev::I2cEeprom>, 2> eeproms;
  std::array<Model, 2> models;
  for (std::size_t i = 0; i < 2; ++i) {
    eeproms[i] = *hv::dev::I2cEeprom::create(addresses[i]);
    if (!map.add(addresses[i], eeproms[i])) __builtin_trap();
    models[i].bytes.fill(0xff);
  }
  for (int transaction = 0; transaction < 16 && !in.empty(); ++transaction) {
    const std::size_t count = in.take<std::uint8_t>() % 48;  // past the 42-message limit
    std::vector<std::vector<std::uint8_t>> buffers(count);
    std::vector<hv::dev::I2cMessage> messages(count);
    for (std::size_t m = 0; m < count; ++m) {
      const std::uint8_t shape = in.take<std::uint8_t>();
      const std::uint8_t address = 0x50 + (shape & 3) % 3;  // 0x50, 0x51, 0x52 (unrouted)
      const bool read = (shape & 4) != 0;
      // Mostly short; sometimes long, up to one past the limit.
      std::size_t length = in.take<std::uint8_t>() % 8;
      if ((shape & 0x18) == 0x18) length = in.take<std::uint16_t>() % (hv::dev::kI2cMaxMessageBytes + 2);
      if (read) {
        buffers[m].assign(length, 0);
      } else {
        const auto bytes = in.bytes(length);
        buffers[m].assign(bytes.begin(), bytes.end());
      }
      messages[m] = {.address = address, .read = read, .data = buffers[m]};
    }
    // The model: messages in order until the first to an unrouted address or over a limit.
    std::size_t expected = 0;
    std::vector<std::vector<std::uint8_t>> expected_reads(count);
    std::array<Model, 2> after = models;
    for (; expected < std::min(count, hv::dev::kI2cMaxTransactionMessages); ++expected) {
      const auto& msg = messages[expected];
      if (msg.address == 0x52 || msg.data.size() > hv::dev::kI2cMaxMessageBytes) break;
      Model& model = after[msg.address - 0x50];
      if (msg.data.empty()) continue;
      if (msg.read) {
        for (std::size_t b = 0; b < msg.data.size(); ++b)
          expected_reads[expected].push_back(model.bytes[model.pointer++]);
      } else {
        model.pointer = msg.data[0];
        for (std::size_t b = 1; b < msg.data.size(); ++b) model.bytes[model.pointer++] = msg.data[b];
      }
    }
    if (map.transfer(messages) != expected) __builtin_trap();
    for (std::size_t m = 0; m < expected; ++m) {
      if (messages[m].read && buffers[m] != expected_reads[m]) __builtin_trap();
    }
    models = after;
    for (std::size_t i = 0; i < 2; ++i) {
      if (eeproms[i]->contents() != models[i].bytes || eeproms[i]->pointer() != models[i].pointer) __builtin_trap();
    }
  }
  return 0;
}
