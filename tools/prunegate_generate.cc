// prunegate-generate: run a Hugging Face checkpoint and print its continuation of a prompt.
//
//   prunegate-generate --model DIR (--prompt TEXT | --ids 1,2,3) [--max-new-tokens N]
//       [--temperature T] [--top-k K] [--top-p P] [--seed S] [--device D] [--dtype D]
//       [--threads N] [--logits-out FILE] [--json] [--ignore-eos]
//
// --logits-out writes raw little-endian float32 [n_positions, vocab]: row t = logits after
// ids[0..t] of prompt + generated, so the numbers can be diffed against another implementation.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "server/model/device.h"
#include "server/model/generate.h"
#include "server/model/model.h"
#include "server/model/tokenizer.h"
#include "tools/cli_flags.h"
#include "torch/torch.h"

ABSL_FLAG(std::string, model, "", "checkpoint directory (config.json, *.safetensors, tokenizer)");
ABSL_FLAG(std::string, prompt, "", "prompt text (tokenized with the checkpoint's tokenizer)");
ABSL_FLAG(std::string, ids, "", "prompt token ids, comma-separated (instead of --prompt)");
ABSL_FLAG(int64_t, max_new_tokens, 64, "tokens to generate");
ABSL_FLAG(double, temperature, 0.0, "sampling temperature; 0 = greedy");
ABSL_FLAG(int64_t, top_k, 0, "top-k filter; 0 = off");
ABSL_FLAG(double, top_p, 1.0, "top-p (nucleus) filter; 1 = off");
ABSL_FLAG(uint64_t, seed, 0, "sampling seed");
ABSL_FLAG(std::string, device, "cpu", "cpu | cuda | cuda:N");
ABSL_FLAG(std::string, dtype, "float32", "float32 | bfloat16 | float16");
ABSL_FLAG(int, threads, 0, "compute threads (libtorch and OpenBLAS); 0 = library default");
ABSL_FLAG(std::string, logits_out, "", "write float32 [n_positions, vocab] logits here");
ABSL_FLAG(bool, json, false, "print {\"prompt_ids\",\"generated_ids\",\"text\"} as JSON");
ABSL_FLAG(bool, ignore_eos, false, "keep generating after the end-of-sequence token");

namespace {

int Fail(const std::string& message) {
  std::cerr << "prunegate-generate: " << message << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  prunegate::ReexecWithPassiveOpenMpWait(argv);
  absl::SetProgramUsageMessage(
      "Generate with a Hugging Face checkpoint.\n  prunegate-generate --model DIR "
      "(--prompt TEXT | --ids 1,2,3) [--max_new_tokens N] [--temperature T] ...\n"
      "Flags accept dashes or underscores (--max-new-tokens).");
  std::vector<char*> args = prunegate::cli::DashesToUnderscores(argc, argv);
  absl::ParseCommandLine(static_cast<int>(args.size()), args.data());

  const std::string dir = absl::GetFlag(FLAGS_model);
  if (dir.empty()) return Fail("--model DIR is required");
  const std::string prompt = absl::GetFlag(FLAGS_prompt);
  const std::string ids_flag = absl::GetFlag(FLAGS_ids);
  if (prompt.empty() == ids_flag.empty()) return Fail("give exactly one of --prompt or --ids");
  prunegate::SetComputeThreads(absl::GetFlag(FLAGS_threads));

  auto model =
      prunegate::Model::Load(dir, {absl::GetFlag(FLAGS_device), absl::GetFlag(FLAGS_dtype)});
  if (!model.ok()) return Fail(model.status().ToString());
  auto tokenizer = prunegate::LoadTokenizer(dir);
  if (!tokenizer.ok() && !prompt.empty()) return Fail(tokenizer.status().ToString());

  std::vector<int64_t> ids;
  if (!prompt.empty()) {
    auto encoded = (*tokenizer)->Encode(prompt, /*add_special_tokens=*/true);
    if (!encoded.ok()) return Fail(encoded.status().ToString());
    ids = *std::move(encoded);
  } else {
    for (absl::string_view part : absl::StrSplit(ids_flag, ',', absl::SkipWhitespace())) {
      int64_t id;
      if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(part), &id)) {
        return Fail("--ids: '" + std::string(part) + "' is not an integer");
      }
      ids.push_back(id);
    }
  }

  prunegate::GenerateOptions options;
  options.max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens);
  options.sampling.temperature = absl::GetFlag(FLAGS_temperature);
  options.sampling.top_k = absl::GetFlag(FLAGS_top_k);
  options.sampling.top_p = absl::GetFlag(FLAGS_top_p);
  options.sampling.seed = absl::GetFlag(FLAGS_seed);
  options.keep_logits = !absl::GetFlag(FLAGS_logits_out).empty();
  if (!absl::GetFlag(FLAGS_ignore_eos)) {
    options.stop_ids = (*model)->config().eos_token_ids;
    if (tokenizer.ok() && (*tokenizer)->eos_id() &&
        std::find(options.stop_ids.begin(), options.stop_ids.end(), *(*tokenizer)->eos_id()) ==
            options.stop_ids.end()) {
      options.stop_ids.push_back(*(*tokenizer)->eos_id());
    }
  }
  const bool json = absl::GetFlag(FLAGS_json);
  auto result = prunegate::Generate(*model, ids, options);
  if (!result.ok()) return Fail(result.status().ToString());

  if (options.keep_logits) {
    const std::string path = absl::GetFlag(FLAGS_logits_out);
    std::ofstream out(path, std::ios::binary);
    at::Tensor l = result->logits.contiguous();
    out.write(reinterpret_cast<const char*>(l.data_ptr<float>()),
              static_cast<std::streamsize>(l.numel() * sizeof(float)));
    if (!out) return Fail("cannot write --logits-out " + path);
  }

  // The continuation's text: decode(prompt + generated) minus decode(prompt) when that is a
  // prefix (keeps SentencePiece's word-initial spaces right), else decode(generated).
  std::string text;
  if (tokenizer.ok()) {
    std::vector<int64_t> all = result->prompt_ids;
    all.insert(all.end(), result->generated_ids.begin(), result->generated_ids.end());
    auto full = (*tokenizer)->Decode(all);
    auto head = (*tokenizer)->Decode(result->prompt_ids);
    if (!full.ok()) return Fail(full.status().ToString());
    if (head.ok() && full->rfind(*head, 0) == 0) {
      text = full->substr(head->size());
    } else {
      auto tail = (*tokenizer)->Decode(result->generated_ids);
      if (!tail.ok()) return Fail(tail.status().ToString());
      text = *tail;
    }
  }
  if (json) {
    nlohmann::json j = {{"prompt_ids", result->prompt_ids},
                        {"generated_ids", result->generated_ids},
                        {"text", text}};
    std::cout << j.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace)
              << "\n";
  } else if (tokenizer.ok()) {
    std::cout << text << "\n";
  } else {
    for (size_t i = 0; i < result->generated_ids.size(); ++i) {
      std::cout << (i ? "," : "") << result->generated_ids[i];
    }
    std::cout << "\n";
  }
  return 0;
}
