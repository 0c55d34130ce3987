#include "hv/dev/i2c_device_list.hpp"

#include <gtest/gtest.h>

namespace {

using hv::dev::parse_i2c_device_list;

TEST(I2cDeviceList, ParsesBusesAndAddressesInDecimalAndHex) {
  const auto list = parse_i2c_device_list("1:0x50:0x51,3:32");
  ASSERT_TRUE(list.has_value()) << list.error().to_string();
  ASSERT_EQ(list->size(), 2U);
  EXPECT_EQ((*list)[0].bus, 1U);
  EXPECT_EQ((*list)[0].addresses, (std::vector<std::uint8_t>{0x50, 0x51}));
  EXPECT_EQ((*list)[1].bus, 3U);
  EXPECT_EQ((*list)[1].addresses, (std::vector<std::uint8_t>{0x20}));
}

TEST(I2cDeviceList, AcceptsTheEdgesOfTheRanges) {
  const auto list = parse_i2c_device_list("0:0,1023:0x77:0X0a:0x0B:007");
  ASSERT_TRUE(list.has_value()) << list.error().to_string();
  ASSERT_EQ(list->size(), 2U);
  EXPECT_EQ((*list)[0].bus, 0U);
  EXPECT_EQ((*list)[0].addresses, (std::vector<std::uint8_t>{0x00}));
  EXPECT_EQ((*list)[1].bus, 1023U);
  EXPECT_EQ((*list)[1].addresses, (std::vector<std::uint8_t>{0x77, 0x0a, 0x0b, 7}));
}

struct Refusal {
  const char* list;
  const char* names;  // what the message must mention
};

TEST(I2cDeviceList, RefusesEachMalformedListNamingTheOffendingPart) {
  const Refusal refusals[] = {
      {"", "empty"},
      {",", "empty entry"},
      {"1:0x50,", "empty entry"},
      {",1:0x50", "empty entry"},
      {"1:0x50,,2:0x51", "empty entry"},
      {"1", "no addresses"},
      {"1:", "no addresses"},
      {":0x50", "bus \"\""},
      {"x:0x50", "bus \"x\""},
      {"-1:0x50", "bus \"-1\""},
      {"+1:0x50", "bus \"+1\""},
      {" 1:0x50", "bus \" 1\""},
      {"1024:0x50", "bus \"1024\""},
      {"99999999999999999999:0x50", "bus \"99999999999999999999\""},
      {"0x:0x50", "bus \"0x\""},
      {"1::0x50", "address \"\""},
      {"1:0x50:", "address \"\""},
      {"1:0x78", "address \"0x78\""},
      {"1:120", "address \"120\""},
      {"1:0x", "address \"0x\""},
      {"1:0xg1", "address \"0xg1\""},
      {"1:5a", "address \"5a\""},
      {"1:0x50 ", "address \"0x50 \""},
      {"1:0x-5", "address \"0x-5\""},
      {"1:0x50,1:0x51", "bus 1 is listed twice"},
      {"1:0x50,01:0x51", "bus 1 is listed twice"},
      {"1:0x50:80", "address 0x50 is listed twice"},
      {"1:0x50,2:0x50", "address 0x50 is listed twice"},
  };
  for (const auto& r : refusals) {
    const auto list = parse_i2c_device_list(r.list);
    ASSERT_FALSE(list.has_value()) << '"' << r.list << '"';
    EXPECT_EQ(list.error().kind(), hv::ErrorKind::InvalidArgument) << r.list;
    EXPECT_NE(list.error().message().find(r.names), std::string_view::npos)
        << '"' << r.list << "\": " << list.error().to_string();
  }
}

}  // namespace

TEST(I2cDeviceList, OneAddressParsesAsInTheList) {
  EXPECT_EQ(hv::dev::parse_i2c_address("80"), 0x50);
  EXPECT_EQ(hv::dev::parse_i2c_address("0x50"), 0x50);
  EXPECT_EQ(hv::dev::parse_i2c_address("0X77"), 0x77);
  EXPECT_EQ(hv::dev::parse_i2c_address("0"), 0);
  for (const char* bad : {"", "0x", "0x78", "120", "-1", "+5", " 5", "5 ", "0x5g", "5a", "99999999999"}) {
    EXPECT_EQ(hv::dev::parse_i2c_address(bad), std::nullopt) << '"' << bad << '"';
  }
}
