// Text scenarios materialised into token sequences (the text counterpart of scenario_data.h). A sample is a
// sequence of `sequence` token ids and its label the same sequence shifted by one (the next tokens), so the image
// pipeline's ImageDataset carries it unchanged: `images` (N, T) int64 inputs, `labels` (N, T) int64 targets.
//
// Per distinct domain its files are split by file (SplitByFile: no file in both); the stream windows of that domain
// take consecutive sequences of its training files, its held-out set the first `eval_samples` sequences of its
// held-out files. Documents are joined with the tokenizer's end-of-sequence id. Deterministic for the seed.
#pragma once

#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/config/scenario.h"
#include "common/data/scenario_data.h"
#include "common/text/tokenizer.h"

namespace bt {

// `count` sequences of `sequence` tokens (and their next tokens) from `files` read in order; fails, naming
// `what`, when the files hold fewer tokens than that. `count` = kAllSequences: as many as all the files hold.
// `files_used` (optional) receives how many files were read.
inline constexpr int64_t kAllSequences = -1;
absl::StatusOr<ImageDataset> TokenSequences(const std::vector<std::string>& files, const Tokenizer& tokenizer,
                                            int64_t sequence, int64_t count, const std::string& what,
                                            size_t* files_used = nullptr);

// Windows and held-out sets of a `dataset: text` scenario. eval_clean stays empty (a text domain has no clean
// counterpart).
absl::StatusOr<ScenarioData> MaterializeTextScenario(const Scenario& scenario, const Tokenizer& tokenizer,
                                                     bool include_stream = true);

}  // namespace bt
