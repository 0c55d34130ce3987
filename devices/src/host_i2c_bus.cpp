#include "hv/dev/host_i2c_bus.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "i2c_dev_numbers.hpp"

namespace hv::dev {

namespace {

using namespace i2c_dev;  // the i2c-dev numbers: this file's vocabulary

using SmbusData = std::array<std::uint8_t, kSmbusDataBytes>;

// One SMBus transfer: what I2C_SLAVE and I2C_SMBUS are given for a message shape. `reply` is the read
// message whose data the answer fills (null for a write).
struct SmbusCall {
  std::uint64_t function = 0;  // the I2C_FUNC_SMBUS_* bit it needs
  std::uint8_t read_write = kSmbusWrite;
  std::uint8_t command = 0;
  std::uint32_t size = kSmbusQuick;
  SmbusData data{};
  const I2cMessage* reply = nullptr;
  std::size_t consumed = 1;  // messages it stands for
};

bool has(std::uint64_t functions, std::uint64_t function) { return (functions & function) == function; }

// A write of a command byte and `payload` (1..32 bytes) as an I2C block write.
SmbusCall block_write(std::uint8_t command, std::span<const std::uint8_t> payload) {
  SmbusCall call{.function = kFuncSmbusWriteI2cBlock, .command = command, .size = kSmbusI2cBlockData};
  call.data[0] = static_cast<std::uint8_t>(payload.size());
  std::copy(payload.begin(), payload.end(), call.data.begin() + 1);
  return call;
}

// The SMBus transfer for the shape starting at messages[0] (one message, or a command-byte write
// followed by a read), preferring the plain SMBus command and falling back to the I2C block form when
// the adapter lacks it; nullopt for a shape SMBus cannot express.
std::optional<SmbusCall> smbus_shape(std::span<const I2cMessage> messages, std::uint64_t functions) {
  const I2cMessage& first = messages.front();
  const std::size_t length = first.data.size();
  if (!first.read && length == 1 && messages.size() > 1 && messages[1].read) {
    // A command byte, a repeated START, a read: read byte / word data or I2C block read. Never split
    // into two transfers (the target would see a STOP where the guest put a repeated START).
    const I2cMessage& read = messages[1];
    const std::size_t count = read.data.size();
    if (read.address != first.address || count == 0 || count > kSmbusBlockMax) return std::nullopt;
    SmbusCall call{.read_write = kSmbusRead, .command = first.data[0], .reply = &read, .consumed = 2};
    if (count == 1 && has(functions, kFuncSmbusReadByteData)) {
      call.function = kFuncSmbusReadByteData;
      call.size = kSmbusByteData;
    } else if (count == 2 && has(functions, kFuncSmbusReadWordData)) {
      call.function = kFuncSmbusReadWordData;
      call.size = kSmbusWordData;
    } else {
      call.function = kFuncSmbusReadI2cBlock;
      call.size = kSmbusI2cBlockData;
      call.data[0] = static_cast<std::uint8_t>(count);
    }
    return call;
  }
  if (first.read) {
    if (length != 1) return std::nullopt;
    return SmbusCall{.function = kFuncSmbusReadByte, .read_write = kSmbusRead, .size = kSmbusByte, .reply = &first};
  }
  if (length == 0) return SmbusCall{.function = kFuncSmbusQuick};
  const std::span<const std::uint8_t> payload = std::span<const std::uint8_t>(first.data).subspan(1);
  const std::uint8_t command = first.data[0];
  if (length == 1) return SmbusCall{.function = kFuncSmbusWriteByte, .command = command, .size = kSmbusByte};
  if (length == 2 && has(functions, kFuncSmbusWriteByteData)) {
    SmbusCall call{.function = kFuncSmbusWriteByteData, .command = command, .size = kSmbusByteData};
    call.data[0] = payload[0];
    return call;
  }
  if (length == 3 && has(functions, kFuncSmbusWriteWordData)) {
    SmbusCall call{.function = kFuncSmbusWriteWordData, .command = command, .size = kSmbusWordData};
    // SMBus sends the word low byte first; the union holds it as a host-endian __u16.
    const auto word = static_cast<std::uint16_t>(payload[0] | (payload[1] << 8));
    std::memcpy(call.data.data(), &word, sizeof(word));
    return call;
  }
  if (payload.size() <= kSmbusBlockMax) return block_write(command, payload);
  return std::nullopt;
}

// Copies an SMBus answer into the read message it answers.
void deliver(const SmbusCall& call, SmbusData& data) {
  const std::span<std::uint8_t> out = call.reply->data;
  if (call.size == kSmbusWordData) {
    std::uint16_t word = 0;
    std::memcpy(&word, data.data(), sizeof(word));
    out[0] = static_cast<std::uint8_t>(word & 0xff);
    out[1] = static_cast<std::uint8_t>(word >> 8);
  } else if (call.size == kSmbusI2cBlockData) {
    // block[0] is the length asked for; the kernel fills block[1..length].
    std::copy_n(data.begin() + 1, out.size(), out.begin());
  } else {
    out[0] = data[0];
  }
}

}  // namespace

Result<std::shared_ptr<HostI2cBus>> HostI2cBus::create(std::unique_ptr<I2cDevPort> port,
                                                       std::vector<std::uint8_t> clients, std::string name) {
  const std::string op = "host I2C bus " + name;
  if (!port) return fail(ErrorKind::InvalidArgument, op, "no i2c-dev port");
  if (clients.empty()) return fail(ErrorKind::InvalidArgument, op, "no client addresses");
  std::array<bool, kI2cMaxAddress + 1> seen{};
  for (const std::uint8_t address : clients) {
    if (address > kI2cMaxAddress) {
      return fail(ErrorKind::InvalidArgument, op, "client address " + hex(address) + " is above 0x77");
    }
    if (seen.at(address)) return fail(ErrorKind::InvalidArgument, op, "client address " + hex(address) + " twice");
    seen.at(address) = true;
  }
  auto functions = port->functionality();
  if (!functions) return tl::unexpected(functions.error());
  if ((*functions & (kFuncI2c | kFuncSmbusUsed)) == 0) {
    return fail(ErrorKind::Unsupported, op, "the adapter has neither I2C_FUNC_I2C nor an SMBus function hvkit uses");
  }
  std::shared_ptr<HostI2cBus> bus(new HostI2cBus());
  bus->port_ = std::move(port);
  bus->clients_ = std::move(clients);
  bus->functions_ = *functions;
  bus->name_ = std::move(name);
  return bus;
}

bool HostI2cBus::serves(std::uint8_t address) const {
  return std::find(clients_.begin(), clients_.end(), address) != clients_.end();
}

std::size_t HostI2cBus::transfer(std::span<const I2cMessage> messages) {
  std::lock_guard lock(mutex_);
  // The leading messages a bus may put on the wire: to a listed client, within i2c-dev's bounds. The
  // first that is not fails, and nothing after it is executed.
  const std::size_t bound = std::min(messages.size(), kI2cMaxTransactionMessages);
  std::size_t allowed = 0;
  while (allowed < bound && serves(messages[allowed].address) && messages[allowed].data.size() <= kI2cMaxMessageBytes) {
    ++allowed;
  }
  if (allowed == 0) return 0;
  const std::span<const I2cMessage> wire = messages.first(allowed);
  if (plain_i2c()) {
    // One I2C_RDWR: all of it or, as far as anyone can tell, none of it.
    return port_->read_write(wire) ? allowed : 0;
  }
  // Shapes are read from all the messages, so a command byte whose read may not go on the wire fails
  // whole rather than becoming a lone send byte.
  const std::span<const I2cMessage> bounded = messages.first(bound);
  std::size_t done = 0;
  while (done < allowed) {
    auto call = smbus_shape(bounded.subspan(done), functions_);
    if (!call || !has(functions_, call->function) || done + call->consumed > allowed) return done;
    if (!port_->set_target(wire[done].address)) return done;
    if (!port_->smbus(call->read_write, call->command, call->size, call->data)) return done;
    if (call->reply != nullptr) deliver(*call, call->data);
    done += call->consumed;
  }
  return done;
}

}  // namespace hv::dev
