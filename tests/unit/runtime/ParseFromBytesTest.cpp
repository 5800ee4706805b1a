// Regression tests for the in-memory readers the fuzz targets drive (tests/fuzz): hostile
// safetensors headers, tokenizer.json texts and artifacts are errors with a message.
#include "runtime/core/Artifact.h"
#include "runtime/io/Npy.h"
#include "runtime/io/Safetensors.h"
#include "runtime/schema/ArtifactVersion.h"
#include "runtime/text/Tokenizer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

std::vector<uint8_t> safetensors(const std::string &header, size_t dataBytes = 0) {
  std::vector<uint8_t> out(8 + header.size() + dataBytes, 0);
  uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

std::string parseError(const std::vector<uint8_t> &bytes) {
  auto views = sl::io::parseSafetensors(bytes.data(), bytes.size(), "t.safetensors");
  return views.ok() ? "" : views.status().message();
}

TEST(ParseSafetensors, ValidHeader) {
  auto bytes = safetensors(R"({"a": {"dtype": "F16", "shape": [2, 3], "data_offsets": [0, 12]},)"
                           R"( "__metadata__": {"format": "pt"}})", 12);
  auto views = sl::io::parseSafetensors(bytes.data(), bytes.size(), "t.safetensors");
  ASSERT_TRUE(views.ok()) << views.status().message();
  ASSERT_EQ(views->size(), 1u);
  EXPECT_EQ((*views)[0].name, "a");
  EXPECT_EQ((*views)[0].nbytes, 12u);
  EXPECT_EQ((*views)[0].data, bytes.data() + bytes.size() - 12);
}

TEST(ParseSafetensors, DeepHeaderIsAnError) {
  // A shape nested 100000 deep used to reach the recursive dump() of the error message.
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  std::string error = parseError(safetensors(R"({"a": {"dtype": "F32", "shape": )" + deep +
                                             R"(, "data_offsets": [0, 0]}})"));
  EXPECT_NE(error.find("nesting deeper than"), std::string::npos) << error;
}

TEST(ParseSafetensors, DuplicateTensorNameIsAnError) {
  std::string error = parseError(safetensors(
      R"({"a": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]},)"
      R"( "a": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}})", 4));
  EXPECT_NE(error.find("duplicate key 'a'"), std::string::npos) << error;
}

TEST(ParseSafetensors, TruncatedAndOversized) {
  EXPECT_NE(parseError({1, 2, 3}).find("truncated"), std::string::npos);
  std::vector<uint8_t> huge(16, 0xFF);  // header length 2^64-1
  EXPECT_NE(parseError(huge).find("exceeds"), std::string::npos);
  EXPECT_NE(parseError(safetensors(R"({"a": {"dtype": "F32", "shape": [4294967296, 4294967296],)"
                                   R"( "data_offsets": [0, 0]}})")).find("too large"),
            std::string::npos);
}

std::string tokenizerError(const std::string &text) {
  auto tok = sl::text::Tokenizer::fromJson(text, "t/tokenizer.json");
  return tok.ok() ? "" : tok.status().message();
}

TEST(TokenizerFromJson, DeepJsonIsAnError) {
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  std::string error = tokenizerError(R"({"model": {"vocab": {}, "merges": )" + deep + "}}");
  EXPECT_NE(error.find("nesting deeper than"), std::string::npos) << error;
}

TEST(TokenizerFromJson, SparseVocabularyIdIsAnError) {
  // One token with id 2^31-1 used to size the id -> token table to 2^31 strings.
  std::string error =
      tokenizerError(R"({"model": {"type": "BPE", "vocab": {"a": 2147483647}, "merges": []}})");
  EXPECT_NE(error.find("ids of the 1-token vocabulary unused"), std::string::npos) << error;
  // Small gaps stay accepted.
  auto tok = sl::text::Tokenizer::fromJson(
      R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1000}, "merges": []}})", "t");
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  EXPECT_EQ(tok->tokenText(1000), "b");
}

TEST(TokenizerFromJson, WrongTypesAreErrors) {
  for (const char *text : {R"([])", R"({"model": 1})", R"({"model": {"vocab": []}})",
                           R"({"model": {"vocab": {"a": "x"}, "merges": []}})",
                           R"({"model": {"vocab": {"a": 0}, "merges": [1]}})",
                           R"({"model": {"vocab": {}, "merges": []}, "added_tokens": {}})",
                           R"({"model": {"vocab": {}, "merges": []}, "normalizer": []})"})
    EXPECT_NE(tokenizerError(text), "") << text;
}

TEST(TokenizerFromJson, PostProcessorIdsAreInTheVocabulary) {
  // Ids outside the vocabulary (or negative after a 32-bit truncation) used to come out of
  // encode(text, addSpecial=true).
  const std::string model = R"("model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []})";
  for (const char *processor :
       {R"({"type": "RobertaProcessing", "cls": ["<s>", 5], "sep": ["</s>", 1]})",
        R"({"type": "BertProcessing", "cls": ["<s>", -1], "sep": ["</s>", 1]})",
        R"({"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "x"}}],)"
        R"( "special_tokens": {"x": {"ids": [4294967295]}}})"})
    EXPECT_NE(tokenizerError("{" + model + R"(, "post_processor": )" + processor + "}"), "")
        << processor;
  auto tok = sl::text::Tokenizer::fromJson(
      "{" + model + R"(, "post_processor": {"type": "BertProcessing", "cls": ["a", 0], "sep": ["b", 1]}})",
      "t");
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  auto ids = tok->encode("ab", true);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(ids.value(), (std::vector<int32_t>{0, 0, 1, 1}));
}

std::string npyError(const std::string &bytes) {
  auto array = sl::io::parseNpy(std::vector<uint8_t>(bytes.begin(), bytes.end()), "t.npy");
  return array.ok() ? "" : array.status().message();
}

TEST(ParseNpy, HostileHeaders) {
  const std::string magic("\x93NUMPY\x01\x00", 8);
  auto npy = [&](const std::string &dict) {
    std::string header = dict + "\n";
    return magic + std::string(1, char(header.size() & 0xFF)) +
           std::string(1, char(header.size() >> 8)) + header;
  };
  EXPECT_EQ(npyError(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0,)}")), "");
  EXPECT_NE(npyError(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776, "
                         "1099511627776)}")).find("too large"),
            std::string::npos);
  EXPECT_NE(npyError(npy("{'descr': '<f4', 'fortran_order': False, 'shape': "
                         "(99999999999999999999,)}")).find("too large"),
            std::string::npos);
  EXPECT_NE(npyError(magic.substr(0, 7)).find("not a .npy"), std::string::npos);
}

// A minimal artifact: one function with one launch of one kernel, one buffer and one weight.
std::vector<uint8_t> artifact(int32_t argIndex, uint32_t kernel, int64_t divisor,
                              bool withFunctions = true) {
  namespace fs = sl::schema;
  flatbuffers::FlatBufferBuilder b;
  std::vector<flatbuffers::Offset<flatbuffers::String>> noStrings;
  std::vector<flatbuffers::Offset<fs::Cubin>> noCubins;
  auto k = fs::CreateKernel(b, b.CreateString("k"), b.CreateString("tmpl"), b.CreateVector(noStrings),
                       b.CreateString("source"), 32, 0, b.CreateVector(noCubins));
  std::vector<int64_t> shape{4};
  auto w = fs::CreateWeightBindingDirect(b, "w", fs::DType::f32, &shape);
  std::vector<fs::Extent> grid{{1, 0, divisor}, {0, 1, 1}, {0, 1, 1}};
  std::vector<flatbuffers::Offset<fs::Arg>> args{
      fs::CreateArg(b, fs::ArgKind::buffer, argIndex),
      fs::CreateArg(b, fs::ArgKind::weight, 0)};
  std::vector<flatbuffers::Offset<fs::Launch>> launches{
      fs::CreateLaunchDirect(b, kernel, &grid, &args, "loc", false)};
  std::vector<fs::Buffer> buffers{{0, 64}};
  std::vector<flatbuffers::Offset<fs::Tensor>> inputs, outputs{fs::CreateTensorDirect(b, fs::DType::f32, &shape)};
  std::vector<uint32_t> states, outputBuffers{0};
  std::vector<flatbuffers::Offset<fs::Function>> functions{fs::CreateFunctionDirect(
      b, "decode", "decode", 1, 64, &buffers, &inputs, &states, &outputs, &outputBuffers, &launches)};
  std::vector<flatbuffers::Offset<fs::Kernel>> kernels{k};
  std::vector<flatbuffers::Offset<fs::WeightBinding>> weights{w};
  std::vector<flatbuffers::Offset<fs::LibraryHeader>> headers;
  std::vector<flatbuffers::Offset<fs::StateSlot>> slots;
  std::vector<flatbuffers::Offset<fs::Plan>> plans{
      fs::CreatePlanDirect(b, "sm_90a", withFunctions ? &functions : nullptr)};
  auto root = fs::CreateArtifactDirect(b, sl::schema::kSchemaVersion, "test", "t.mlir", "{}",
                                       &headers, &kernels, &weights, &slots, &plans);
  fs::FinishArtifactBuffer(b, root);
  return std::vector<uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

std::string artifactError(const std::vector<uint8_t> &bytes) {
  auto loaded = sl::runtime::Artifact::fromBytes(bytes, "t.slpkg");
  return loaded.ok() ? "" : loaded.status().message();
}

TEST(ArtifactFromBytes, StructureIsChecked) {
  EXPECT_EQ(artifactError(artifact(0, 0, 1)), "");
  auto loaded = sl::runtime::Artifact::fromBytes(artifact(0, 0, 1), "t.slpkg");
  ASSERT_TRUE(loaded.ok());
  EXPECT_NE(loaded->function("decode"), nullptr);
  EXPECT_EQ(loaded->function("prefill"), nullptr);
  // Absent functions used to be dereferenced by Artifact::function.
  EXPECT_NE(artifactError(artifact(0, 0, 1, false)).find("a plan without target or functions"),
            std::string::npos);
  EXPECT_NE(artifactError(artifact(1, 0, 1)).find("refers to nothing"), std::string::npos);
  EXPECT_NE(artifactError(artifact(-1, 0, 1)).find("refers to nothing"), std::string::npos);
  EXPECT_NE(artifactError(artifact(0, 1, 1)).find("kernel 1 out of range"), std::string::npos);
  EXPECT_NE(artifactError(artifact(0, 0, 0)).find("divisor"), std::string::npos);
  // A [int64] vector whose elements are not 8-byte aligned passes the flatbuffer verifier (it
  // checks the length field's alignment only), and reading it was undefined behaviour. Move the
  // weight shape's vector 4 bytes on (one element shorter): its offset field and length change.
  std::vector<uint8_t> misaligned = artifact(0, 0, 1);
  {
    const auto *table = reinterpret_cast<const uint8_t *>(
        sl::schema::GetArtifact(misaligned.data())->weights()->Get(0));
    int32_t toVtable;  // the table's first field: table - vtable
    std::memcpy(&toVtable, table, 4);
    uint16_t fieldOffset;
    std::memcpy(&fieldOffset, table - toVtable + sl::schema::WeightBinding::VT_SHAPE, 2);
    ASSERT_NE(fieldOffset, 0);
    const uint8_t *field = table + fieldOffset;
    size_t at = size_t(field - misaligned.data());
    uint32_t offset;
    std::memcpy(&offset, field, 4);
    size_t vector = at + offset;
    uint32_t length;
    std::memcpy(&length, &misaligned[vector], 4);
    ASSERT_GE(length, 1u);
    offset += 4;
    length -= 1;
    std::memcpy(&misaligned[at], &offset, 4);
    std::memcpy(&misaligned[vector + 4], &length, 4);
  }
  EXPECT_NE(artifactError(misaligned).find("misaligned"), std::string::npos)
      << artifactError(misaligned);
  std::vector<uint8_t> truncated = artifact(0, 0, 1);
  truncated.resize(truncated.size() / 2);
  EXPECT_NE(artifactError(truncated), "");
}

}  // namespace
