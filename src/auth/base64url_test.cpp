#include "auth/base64url.hpp"

#include <gtest/gtest.h>

#include <random>

#include "auth/signature.hpp"

namespace streamer::auth {
namespace {

TEST(Base64Url, EncodesRfc4648VectorsWithoutPadding) {
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("foob"), "Zm9vYg");
  EXPECT_EQ(base64url_encode("fooba"), "Zm9vYmE");
  EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64url_encode("\xfb\xff\xbf"), "-_-_");
}

TEST(Base64Url, DecodesTheUnpaddedForm) {
  EXPECT_EQ(base64url_decode("Zm9vYmFy"), "foobar");
  EXPECT_EQ(base64url_decode("Zm9vYg"), "foob");
  EXPECT_EQ(base64url_decode("Zm9vYmE"), "fooba");
  EXPECT_EQ(base64url_decode("-_-_"), "\xfb\xff\xbf");
  EXPECT_EQ(base64url_decode(""), "");
}

TEST(Base64Url, RefusesPaddingSoEachValueHasOneSpelling) {
  for (const char* padded : {"Zm9vYg==", "Zm9vYmE=", "Zg==", "Zm8=", "Zm9vYmFy====", "Zg=", "="}) {
    EXPECT_FALSE(base64url_decode(padded).has_value()) << padded;
  }
}

TEST(Base64Url, RefusesSetTrailingBitsSoEachValueHasOneSpelling) {
  // "Zg" is "f"; "Zh".."Zv" differ from it only in the 4 unused bits.
  for (const char* spelling : {"Zh", "Zi", "Zp", "Zv"}) {
    EXPECT_FALSE(base64url_decode(spelling).has_value()) << spelling;
  }
  // "Zm8" is "fo"; "Zm9".."Zm_" differ only in the 2 unused bits.
  for (const char* spelling : {"Zm9", "Zm-", "Zm_"}) {
    EXPECT_FALSE(base64url_decode(spelling).has_value()) << spelling;
  }
  // Exhaustively: a last character is accepted only when its unused bits are zero, so
  // 4 of 64 after "Z" (4 unused bits) and 16 of 64 after "Zm" (2 unused bits).
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (std::string prefix : {"Z", "Zm"}) {
    int accepted = 0;
    for (char c : alphabet) accepted += base64url_decode(prefix + c).has_value() ? 1 : 0;
    EXPECT_EQ(accepted, 64 / (prefix.size() == 1 ? 16 : 4)) << prefix;
  }
}

TEST(Base64Url, RejectsInvalidInput) {
  for (const char* bad :
       {"Zm9v+g", "Zm9v/g", "Zm9v Yg", "Zm9v\nYg", "Zm9vY", "Z", "=Zg", "Zg=a", "====", "Zm9v*"}) {
    EXPECT_FALSE(base64url_decode(bad).has_value()) << bad;
  }
  EXPECT_FALSE(base64url_decode(std::string_view("Zm\0v", 4)).has_value());
}

TEST(Base64Url, RoundTripsRandomBytes) {
  std::mt19937 rng(42);
  for (size_t len = 0; len < 70; ++len) {
    std::string bytes(len, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() & 0xFF);
    const std::string encoded = base64url_encode(bytes);
    EXPECT_EQ(encoded.find_first_of("+/="), std::string::npos);
    EXPECT_EQ(base64url_decode(encoded), bytes);
  }
}

TEST(EcdsaFormat, ConvertsJoseToDerAndBack) {
  std::string jose(64, '\0');
  jose[0] = '\x80';  // high bit set: DER needs a leading zero
  jose[31] = 1;
  jose[63] = 7;  // s = 7, mostly leading zeros
  const auto der = ecdsa_jose_to_der(jose, 32);
  ASSERT_TRUE(der.has_value());
  EXPECT_EQ(static_cast<unsigned char>((*der)[0]), 0x30);
  EXPECT_EQ(ecdsa_der_to_jose(*der, 32), jose);
  EXPECT_FALSE(ecdsa_jose_to_der(jose, 48).has_value());
  EXPECT_FALSE(ecdsa_jose_to_der(jose.substr(1), 32).has_value());
  EXPECT_FALSE(ecdsa_der_to_jose("not der", 32).has_value());
}

}  // namespace
}  // namespace streamer::auth
