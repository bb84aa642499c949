#include "jobs/parsed_handover.hpp"

#include <gtest/gtest.h>

namespace streamer {
namespace {

ParsedRequest parsed_int(int value) {
  return ParsedRequest(std::make_shared<const int>(value), nullptr);
}
int value_of(const ParsedRequest& p) { return p.as<int>(nullptr); }

TEST(ParsedHandover, KeepsAnEntryUntilDroppedAndTellsKeysApart) {
  ParsedHandover h(1000);
  h.put({"t", "u", "r1"}, parsed_int(1), 10);
  h.put({"t", "u2", "r1"}, parsed_int(2), 10);
  EXPECT_EQ(value_of(h.find({"t", "u", "r1"})), 1);
  EXPECT_EQ(value_of(h.find({"t", "u", "r1"})), 1);  // a retry finds it again
  EXPECT_EQ(value_of(h.find({"t", "u2", "r1"})), 2);
  EXPECT_FALSE(h.find({"t", "u", "r2"}));
  EXPECT_FALSE(h.find({"tu", "", "r1"}));
  h.drop({"t", "u", "r1"});
  EXPECT_FALSE(h.find({"t", "u", "r1"}));
  EXPECT_EQ(h.size(), 1u);
  EXPECT_EQ(h.bytes(), 10u);
}

TEST(ParsedHandover, DropsTheOldestBeyondItsByteBound) {
  ParsedHandover h(25);
  h.put({"t", "u", "a"}, parsed_int(1), 10);
  h.put({"t", "u", "b"}, parsed_int(2), 10);
  h.put({"t", "u", "c"}, parsed_int(3), 10);  // 30 > 25: "a" goes
  EXPECT_FALSE(h.find({"t", "u", "a"}));
  EXPECT_EQ(value_of(h.find({"t", "u", "b"})), 2);
  EXPECT_EQ(value_of(h.find({"t", "u", "c"})), 3);
  EXPECT_EQ(h.bytes(), 20u);
  h.put({"t", "u", "big"}, parsed_int(4), 26);  // larger than the bound: not kept
  EXPECT_FALSE(h.find({"t", "u", "big"}));
  EXPECT_EQ(h.size(), 2u);
}

TEST(ParsedHandover, ReplacingAKeyKeepsTheCountRight) {
  ParsedHandover h(100);
  h.put({"t", "u", "a"}, parsed_int(1), 40);
  h.put({"t", "u", "a"}, parsed_int(2), 30);
  EXPECT_EQ(value_of(h.find({"t", "u", "a"})), 2);
  EXPECT_EQ(h.bytes(), 30u);
  h.put({"t", "u", "a"}, ParsedRequest{}, 5);  // nothing to keep: the entry goes
  EXPECT_EQ(h.size(), 0u);
  EXPECT_EQ(h.bytes(), 0u);
}

}  // namespace
}  // namespace streamer
