// The shared SmolLM2-135M-Instruct Q4_1 GGUF built as a user builds it (ingotc build, f32 = its exact
// dequantization), once per test executable, for the SmolLM2 CLI tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "run_command.h"
#include "sample_container.h"
#include "shared_assets.h"

namespace ingot::test {

inline constexpr const char* kSmolGguf = "models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf";

struct SmolBuild {
  TempDir dir;
  std::string model;  // the .ingot path; "" when the build failed
  CommandResult build;
};

inline const SmolBuild& smol_f32() {
  static const std::unique_ptr<SmolBuild> b = [] {
    auto s = std::make_unique<SmolBuild>();
    const std::string out = s->dir.file("smol-f32.ingot");
    s->build = run_command(std::string(INGOTC_BIN) + " build " + shared_path(kSmolGguf) + " --dtype f32 -o " + out + " 2>&1");
    if (s->build.exit_code == 0) s->model = out;
    return s;
  }();
  return *b;
}

}  // namespace ingot::test

#define REQUIRE_SMOL_F32()                                                                        \
  INGOT_REQUIRE_SHARED(::ingot::test::kSmolGguf);                                                 \
  ASSERT_FALSE(::ingot::test::smol_f32().model.empty()) << ::ingot::test::smol_f32().build.out
