// BufferList, the buffers of a popped chain (issue 14): the first four inside the object, more on the
// heap, contents kept across the move to the heap, copies independent of their source, moves that
// leave an empty list still usable, clear() keeping the storage a reused chain relies on, equality.
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <utility>
#include <vector>

#include "hv/virtio/descriptor_chain.hpp"

namespace {

using hv::virtio::Buffer;
using hv::virtio::BufferList;

// Buffer i of a test sequence: every field differs from its neighbours'.
Buffer nth(std::size_t i, std::uint64_t salt = 0) {
  return {0x100000 + 0x1000 * i + salt, static_cast<std::uint32_t>(16 + i), i % 3 == 2};
}

std::vector<Buffer> sequence(std::size_t n, std::uint64_t salt = 0) {
  std::vector<Buffer> v;
  for (std::size_t i = 0; i < n; ++i) v.push_back(nth(i, salt));
  return v;
}

BufferList list_of(std::size_t n, std::uint64_t salt = 0) {
  BufferList list;
  for (std::size_t i = 0; i < n; ++i) list.push_back(nth(i, salt));
  return list;
}

// Whether the list's buffers live inside the list object itself.
bool stored_inline(const BufferList& list) {
  const auto object = std::bit_cast<std::uintptr_t>(&list);
  const auto data = std::bit_cast<std::uintptr_t>(list.begin());
  return data >= object && data < object + sizeof(BufferList);
}

TEST(BufferList, KeepsFourBuffersInlineThenMovesToTheHeapKeepingThem) {
  BufferList list;
  EXPECT_TRUE(list.empty());
  EXPECT_TRUE(stored_inline(list));
  for (std::size_t i = 0; i < BufferList::kInline; ++i) {
    list.emplace_back(nth(i).address, nth(i).length, nth(i).device_writable);
    EXPECT_TRUE(stored_inline(list)) << "after " << i + 1 << " buffers";
  }
  EXPECT_EQ(list, sequence(BufferList::kInline));
  list.push_back(nth(BufferList::kInline));
  EXPECT_FALSE(stored_inline(list)) << "a fifth buffer must move the list to the heap";
  EXPECT_EQ(list.size(), BufferList::kInline + 1);
  EXPECT_EQ(list, sequence(BufferList::kInline + 1)) << "the spill lost or reordered buffers";
  // Several doublings later, everything is still there, in order.
  for (std::size_t i = list.size(); i < 300; ++i) list.push_back(nth(i));
  EXPECT_EQ(list, sequence(300));
  EXPECT_EQ(list.span().size(), 300U);
  EXPECT_EQ(list[299], nth(299));
  std::size_t seen = 0;
  for (const Buffer& b : list) EXPECT_EQ(b, nth(seen++));
  EXPECT_EQ(seen, 300U);
}

TEST(BufferList, ElementsCanBeChangedInPlace) {
  for (const std::size_t n : {std::size_t{3}, std::size_t{9}}) {
    BufferList list = list_of(n);
    list[1].length = 7;
    list.span()[2].device_writable = !list.span()[2].device_writable;
    auto expected = sequence(n);
    expected[1].length = 7;
    expected[2].device_writable = !expected[2].device_writable;
    EXPECT_EQ(list, expected) << n << " buffers";
  }
}

TEST(BufferList, ACopyIsEqualAndIndependent) {
  for (const std::size_t n : {std::size_t{0}, std::size_t{3}, BufferList::kInline, std::size_t{5}, std::size_t{40}}) {
    const BufferList original = list_of(n);
    BufferList copy(original);
    EXPECT_EQ(copy, original) << n << " buffers";
    EXPECT_EQ(stored_inline(copy), n <= BufferList::kInline) << n << " buffers";
    if (n > 0) {
      EXPECT_NE(copy.begin(), original.begin()) << "a copy shares its source's storage";
      copy[0].length = 1;
    }
    copy.push_back(nth(99));
    EXPECT_EQ(original, sequence(n)) << "changing a copy changed its source (" << n << " buffers)";

    BufferList assigned = list_of(7, 0x55);  // on the heap, other contents
    assigned = original;
    EXPECT_EQ(assigned, original) << n << " buffers";
    BufferList shrunk = list_of(2, 0x55);
    shrunk = original;
    EXPECT_EQ(shrunk, original) << n << " buffers";
  }
}

TEST(BufferList, AMoveTakesTheBuffersAndLeavesAnEmptyUsableList) {
  for (const std::size_t n : {std::size_t{2}, BufferList::kInline, std::size_t{5}, std::size_t{33}}) {
    BufferList source = list_of(n);
    const Buffer* storage = source.begin();
    BufferList moved(std::move(source));
    EXPECT_EQ(moved, sequence(n)) << n << " buffers";
    if (n > BufferList::kInline) {
      EXPECT_EQ(moved.begin(), storage) << "a heap list moves its storage, not its buffers";
    } else {
      EXPECT_TRUE(stored_inline(moved)) << "an inline list's buffers stay in the new object";
    }
    // The moved-from list is empty and works as a new one.
    EXPECT_TRUE(source.empty());  // NOLINT(bugprone-use-after-move,clang-analyzer-cplusplus.Move): the point
    EXPECT_TRUE(stored_inline(source));
    for (std::size_t i = 0; i < 6; ++i) source.push_back(nth(i, 0x77));
    EXPECT_EQ(source, sequence(6, 0x77));
    EXPECT_EQ(moved, sequence(n)) << "refilling the moved-from list changed the new one";

    BufferList target = list_of(9, 0x33);  // a heap list, replaced by the move
    BufferList again = list_of(n);
    target = std::move(again);
    EXPECT_EQ(target, sequence(n)) << n << " buffers";
    EXPECT_TRUE(again.empty());  // NOLINT(bugprone-use-after-move,clang-analyzer-cplusplus.Move): the point
    again.push_back(nth(0));
    EXPECT_EQ(again, sequence(1));
  }
}

TEST(BufferList, AssigningAListToItselfChangesNothing) {
  for (const std::size_t n : {std::size_t{3}, std::size_t{12}}) {
    BufferList list = list_of(n);
    BufferList& alias = list;  // spelled through an alias: the compiler warns about `list = list`
    list = alias;
    EXPECT_EQ(list, sequence(n));
    list = std::move(alias);
    EXPECT_EQ(list, sequence(n));
  }
}

TEST(BufferList, ClearKeepsTheHeapStorageForTheNextFill) {
  BufferList list = list_of(20);
  const Buffer* storage = list.begin();
  list.clear();
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(list.size(), 0U);
  EXPECT_EQ(list.begin(), list.end());
  EXPECT_EQ(list, std::vector<Buffer>{});
  for (std::size_t i = 0; i < 20; ++i) list.push_back(nth(i, 0x9));
  EXPECT_EQ(list.begin(), storage) << "refilling to the same size after clear() allocated again";
  EXPECT_EQ(list, sequence(20, 0x9));
  list.clear();
  list.push_back(nth(0));
  EXPECT_EQ(list.begin(), storage) << "a short list after a long one keeps the long one's storage";
  EXPECT_EQ(list, sequence(1));

  BufferList small = list_of(3);
  const Buffer* inline_storage = small.begin();
  small.clear();
  for (std::size_t i = 0; i < BufferList::kInline; ++i) small.push_back(nth(i));
  EXPECT_EQ(small.begin(), inline_storage);
  EXPECT_TRUE(stored_inline(small));
}

TEST(BufferList, Equality) {
  const BufferList three = list_of(3);
  EXPECT_EQ(three, list_of(3));
  EXPECT_EQ(three, sequence(3));
  EXPECT_EQ(sequence(3), three) << "either side";
  EXPECT_FALSE(three == list_of(2)) << "a prefix";
  EXPECT_FALSE(three == list_of(4));
  EXPECT_FALSE(three == sequence(2));
  EXPECT_FALSE(three == list_of(3, 1)) << "another address";
  EXPECT_NE(three, sequence(4));
  for (const auto change : {0, 1, 2}) {
    auto other = sequence(3);
    if (change == 0) other[2].address += 1;
    if (change == 1) other[2].length += 1;
    if (change == 2) other[2].device_writable = !other[2].device_writable;
    EXPECT_FALSE(three == other) << "field " << change;
    EXPECT_FALSE(three == BufferList(other)) << "field " << change;
  }
  // Where the buffers live does not matter: a heap list cut back to three equals an inline one.
  BufferList spilled = list_of(10);
  spilled.clear();
  for (std::size_t i = 0; i < 3; ++i) spilled.push_back(nth(i));
  EXPECT_FALSE(stored_inline(spilled));
  EXPECT_EQ(spilled, three);
  EXPECT_EQ(BufferList{}, BufferList{});
  EXPECT_EQ(BufferList{}, std::vector<Buffer>{});
}

TEST(BufferList, BuildsFromAnInitializerListOrAVector) {
  const BufferList braced = {nth(0), nth(1), nth(2), nth(3), nth(4), nth(5)};
  EXPECT_EQ(braced, sequence(6));
  const BufferList from_vector = sequence(2);
  EXPECT_EQ(from_vector, sequence(2));
  EXPECT_TRUE(stored_inline(from_vector));
  BufferList assigned = list_of(8);
  assigned = sequence(3);
  EXPECT_EQ(assigned, sequence(3));
}

}  // namespace
