// Negative tests of the gateway's gRPC `model_name` scanner (gateway/grpc_scan.h): what a hostile client can
// put in front of, around or instead of field 1. Each case says what protobuf's own parser makes of the same
// bytes where that matters, so the scanner never routes a message the replica would read differently.
#include <gtest/gtest.h>

#include <climits>
#include <string>

#include "gateway/grpc_scan.h"
#include "inference.pb.h"

namespace inferd::gateway {
namespace {

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

// Field 1, wire type 2, with `name` as its value.
std::string Name(const std::string& name) { return Bytes({0x0a, static_cast<int>(name.size())}) + name; }

TEST(GrpcScanTest, TruncatedVarints) {
  // A tag whose varint never ends.
  EXPECT_EQ(ReadField1String(Bytes({0x80})), std::nullopt);
  EXPECT_EQ(ReadField1String(Bytes({0xff, 0xff, 0xff})), std::nullopt);
  // Field 1's length varint cut off.
  EXPECT_EQ(ReadField1String(Bytes({0x0a})), std::nullopt);
  EXPECT_EQ(ReadField1String(Bytes({0x0a, 0x80})), std::nullopt);
  // A varint field (field 3) in front whose value is cut off.
  EXPECT_EQ(ReadField1String(Bytes({0x18, 0x80, 0x80})), std::nullopt);
  // A varint longer than 10 bytes is not a varint.
  std::string overlong = Bytes({0x18}) + std::string(11, '\x80') + Bytes({0x01}) + Name("m");
  EXPECT_EQ(ReadField1String(overlong), std::nullopt);
}

TEST(GrpcScanTest, WrongWireTypes) {
  // Field 1 as a varint, fixed64 or fixed32 is not a name: skipped, and the message has none.
  EXPECT_EQ(ReadField1String(Bytes({0x08, 0x05})), "");
  EXPECT_EQ(ReadField1String(Bytes({0x09, 1, 2, 3, 4, 5, 6, 7, 8})), "");
  EXPECT_EQ(ReadField1String(Bytes({0x0d, 1, 2, 3, 4})), "");
  // ... and a real field 1 after it is still found.
  EXPECT_EQ(ReadField1String(Bytes({0x08, 0x05}) + Name("iris")), "iris");
  // Wire types 6 and 7 do not exist.
  EXPECT_EQ(ReadField1String(Bytes({0x0e}) + Name("iris")), std::nullopt);
  EXPECT_EQ(ReadField1String(Bytes({0x0f}) + Name("iris")), std::nullopt);
  // An end-group tag with no group open, and an unterminated group.
  EXPECT_EQ(ReadField1String(Bytes({0x1c}) + Name("iris")), std::nullopt);
  EXPECT_EQ(ReadField1String(Bytes({0x1b, 0x18, 0x01})), std::nullopt);
  // A group is skipped whole (field 1 inside it is not the message's field 1).
  EXPECT_EQ(ReadField1String(Bytes({0x1b}) + Name("inner") + Bytes({0x1c}) + Name("outer")), "outer");
  // Field number 0 is invalid.
  EXPECT_EQ(ReadField1String(Bytes({0x02, 0x00}) + Name("iris")), std::nullopt);
}

TEST(GrpcScanTest, NestedGroupsAreBounded) {
  // 100,000 nested start-group tags: refused (protobuf's recursion limit), not a stack overflow.
  std::string deep(100000, '\x1b');
  EXPECT_EQ(ReadField1String(deep + Name("iris")), std::nullopt);
}

TEST(GrpcScanTest, HugeLengths) {
  // Lengths past the end of the input, up to the largest varint32 (negative as an int).
  EXPECT_EQ(ReadField1String(Bytes({0x0a, 0x7f}) + "abc"), std::nullopt);
  EXPECT_EQ(ReadField1String(Bytes({0x0a, 0xff, 0xff, 0xff, 0xff, 0x07}) + "abc"), std::nullopt);
  EXPECT_EQ(ReadField1String(Bytes({0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}) + "abc"), std::nullopt);
  EXPECT_EQ(ReadField1String(Bytes({0x0a, 0x80, 0x80, 0x80, 0x80, 0x08}) + "abc"), std::nullopt);
  // A field in front (field 4, length-delimited) that claims more than there is.
  EXPECT_EQ(ReadField1String(Bytes({0x22, 0xff, 0xff, 0xff, 0xff, 0x07}) + Name("iris")), std::nullopt);
  // A length of 0 is an empty name, not an error.
  EXPECT_EQ(ReadField1String(Bytes({0x0a, 0x00})), "");
  // Field 1 with a length just right reads exactly that many bytes.
  EXPECT_EQ(ReadField1String(Name("iris") + Bytes({0xff})), "iris");
}

TEST(GrpcScanTest, MissingField) {
  EXPECT_EQ(ReadField1String(""), "");
  inference::ModelInferRequest req;
  req.set_model_version("2");
  req.set_id("x");
  req.add_raw_input_contents(std::string(100, 'a'));
  EXPECT_EQ(ReadField1String(req.SerializeAsString()), "");
  // A stray zero byte where a tag should be is malformed (tag 0), not the end of the message.
  EXPECT_EQ(ReadField1String(req.SerializeAsString() + Bytes({0x00})), std::nullopt);
  EXPECT_EQ(ReadField1String(Bytes({0x00}) + Name("iris")), std::nullopt);
}

TEST(GrpcScanTest, AgreesWithProtobufOnCanonicalMessages) {
  // Whatever a client library sends (one field 1, anywhere, other fields around it) reads as protobuf reads it.
  inference::ModelInferRequest req;
  req.set_model_name(std::string("m\0odel", 6));  // any bytes: routing rejects odd names later
  req.set_id("42");
  req.mutable_parameters()->operator[]("k").set_int64_param(7);
  auto* in = req.add_inputs();
  in->set_name("x");
  in->set_datatype("BYTES");
  in->add_shape(1);
  in->mutable_contents()->add_bytes_contents(Name("not me"));
  std::string bytes = req.SerializeAsString();
  inference::ModelInferRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  EXPECT_EQ(ReadField1String(bytes), parsed.model_name());
}

TEST(GrpcScanTest, ScanField1ReportsWhy) {
  std::string out = "stale";
  EXPECT_EQ(ScanField1("", 0, &out), Field1::kAbsent);
  std::string n = Name("abc");
  EXPECT_EQ(ScanField1(n.data(), n.size(), &out), Field1::kFound);
  EXPECT_EQ(out, "abc");
  std::string bad = Bytes({0x0a, 0x05, 'a'});
  EXPECT_EQ(ScanField1(bad.data(), bad.size(), &out), Field1::kMalformed);
  // Sizes past INT_MAX are refused before anything is read.
  EXPECT_EQ(ScanField1(n.data(), static_cast<size_t>(INT_MAX) + 1, &out), Field1::kMalformed);
}

}  // namespace
}  // namespace inferd::gateway
