// Text corpora and scenarios: globs, markup stripped, split by file (no file in both), token sequences with their
// next tokens, deterministic windows, and a clear error when a corpus is too small.
#include "common/data/text_data.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <zlib.h>

#include "common/text/corpus.h"

namespace bt {
namespace {

namespace fs = std::filesystem;

std::string Corpus() {
  const std::string dir = ::testing::TempDir() + "/corpus";
  fs::create_directories(dir + "/prose/deep");
  fs::create_directories(dir + "/code");
  for (int i = 0; i < 6; ++i) {
    std::ofstream(dir + "/prose/" + std::to_string(i) + ".txt")
        << "In the beginning the light of day fell upon the waters, file " << i << ". And it was good.\n";
    std::ofstream(dir + "/code/m" + std::to_string(i) + ".py") << "def f" << i << "(x):\n    return x * " << i << "\n";
  }
  std::ofstream(dir + "/prose/deep/page.html") << "<html><style>p{}</style><p>Tom &amp; Jerry</p></html>";
  std::ofstream(dir + "/prose/deep/tool.1") << ".TH TOOL 1\n.SH NAME\ntool \\- does \\fBthings\\fR\n.\\\" a comment\n";
  gzFile gz = gzopen((dir + "/prose/deep/notes.txt.gz").c_str(), "wb");
  gzputs(gz, "compressed prose\n");
  gzclose(gz);
  return dir;
}

std::unique_ptr<Tokenizer> TrainOn(const std::string& dir) {
  std::vector<std::string> lines;
  const std::vector<std::string> files = *ExpandGlobs({dir + "/**"});
  for (const std::string& f : files) lines.push_back(*ReadCorpusFile(f));
  TokenizerTraining options;
  options.vocab_size = 400;
  return *Tokenizer::FromBytes(*TrainTokenizer(lines, options), "test");
}

TEST(Corpus, GlobsMarkupAndSplitByFile) {
  const std::string dir = Corpus();
  auto all = ExpandGlobs({dir + "/prose/**"});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 9u);  // six .txt, page.html, tool.1, notes.txt.gz
  EXPECT_EQ(ExpandGlobs({dir + "/code/*.py", dir + "/code/m1.py"})->size(), 6u);  // no duplicates
  EXPECT_TRUE(ExpandGlobs({dir + "/nothing/*"})->empty());
  // A part of a corpus that matches nothing is named, not silently left out.
  EXPECT_TRUE(EachGlobMatches({dir + "/prose/*.txt", dir + "/code/*.py"}, "pretrain.corpus").ok());
  const absl::Status missing = EachGlobMatches({dir + "/prose/*.txt", "", dir + "/nothing/*"}, "pretrain.corpus");
  EXPECT_EQ(missing.message(), absl::StrCat("pretrain.corpus[2]: '", dir, "/nothing/*' matches no file"));
  EXPECT_EQ(*ReadCorpusFile(dir + "/prose/deep/page.html"), "Tom & Jerry");
  const std::string man = *ReadCorpusFile(dir + "/prose/deep/tool.1");
  EXPECT_NE(man.find("tool - does things"), std::string::npos) << man;
  EXPECT_EQ(man.find("comment"), std::string::npos) << man;
  EXPECT_EQ(*ReadCorpusFile(dir + "/prose/deep/notes.txt.gz"), "compressed prose\n");

  const CorpusSplit split = SplitByFile(*all, 0.3, 5);
  EXPECT_FALSE(split.train.empty());
  EXPECT_FALSE(split.heldout.empty());
  EXPECT_EQ(split.train.size() + split.heldout.size(), all->size());
  for (const std::string& f : split.heldout) EXPECT_EQ(std::count(split.train.begin(), split.train.end(), f), 0);
  // A file's side does not depend on the other files.
  std::vector<std::string> fewer(all->begin(), all->begin() + 5);
  const CorpusSplit again = SplitByFile(fewer, 0.3, 5);
  for (const std::string& f : again.heldout) {
    if (std::find(split.train.begin(), split.train.end(), f) != split.train.end()) {
      // only the at-least-one rule may move a file
      EXPECT_EQ(again.heldout.size(), 1u);
    }
  }
}

TEST(TextData, SequencesAreNextTokensAndWindowsAreDeterministic) {
  const std::string dir = Corpus();
  auto tok = TrainOn(dir);
  auto seq = TokenSequences(*ExpandGlobs({dir + "/prose/*.txt"}), *tok, 8, 10, "prose");
  ASSERT_TRUE(seq.ok()) << seq.status();
  EXPECT_EQ(seq->images.sizes(), (std::vector<int64_t>{10, 8}));
  EXPECT_TRUE(seq->images.slice(1, 1, 8).equal(seq->labels.slice(1, 0, 7)));  // labels are the next tokens
  auto too_many = TokenSequences(*ExpandGlobs({dir + "/prose/*.txt"}), *tok, 8, 100000, "prose");
  ASSERT_FALSE(too_many.ok());
  EXPECT_NE(too_many.status().message().find("prose"), std::string::npos);

  auto scenario = ParseScenario(absl::StrCat(R"(scenario:
  name: tiny-text
  seed: 3
  dataset: text
  sequence: 6
  eval_samples: 2
  domains:
    - {name: prose, files: [")", dir, R"(/prose/*.txt"], samples: 4, heldout_share: 0.3}
    - {name: code, files: [")", dir, R"(/code/*.py"], samples: 3}
    - {name: prose, files: [")", dir, R"(/prose/*.txt"], samples: 2}
)"), "tiny.yaml");
  ASSERT_TRUE(scenario.ok()) << scenario.status();
  auto data = MaterializeTextScenario(*scenario, *tok);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->windows.size(), 3u);
  EXPECT_EQ(data->eval_domains, (std::vector<std::string>{"prose", "code"}));
  EXPECT_EQ(data->windows[0].stream.size(), 4);
  EXPECT_EQ(data->windows[2].domain_index, 0u);
  // The recurring domain continues its stream rather than repeating it.
  EXPECT_FALSE(data->windows[2].stream.images.equal(data->windows[0].stream.images.slice(0, 0, 2)));
  auto part_missing = ParseScenario(absl::StrCat(R"(scenario:
  name: tiny-text
  dataset: text
  sequence: 6
  eval_samples: 2
  domains:
    - {name: code, files: [")", dir, R"(/code/*.py", ")", dir, R"(/code/*.rs"], samples: 3}
)"), "tiny.yaml");
  ASSERT_TRUE(part_missing.ok()) << part_missing.status();
  auto refused = MaterializeTextScenario(*part_missing, *tok);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("domain 'code': files[1]"), std::string::npos) << refused.status();
  auto again = MaterializeTextScenario(*scenario, *tok);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->windows[1].stream.images.equal(data->windows[1].stream.images));
  EXPECT_TRUE(again->eval[1].labels.equal(data->eval[1].labels));
}

TEST(TextData, ScenarioErrorsNameTheKey) {
  auto no_files = ParseScenario("scenario: {name: x, dataset: text, domains: [{name: a, samples: 3}]}", "t.yaml");
  ASSERT_FALSE(no_files.ok());
  EXPECT_NE(no_files.status().message().find("files"), std::string::npos) << no_files.status();
  auto corrupt = ParseScenario("scenario: {name: x, dataset: text, domains: [{name: a, samples: 3, files: [x], "
                               "corruptions: []}]}", "t.yaml");
  ASSERT_FALSE(corrupt.ok());
  EXPECT_NE(corrupt.status().message().find("corruptions"), std::string::npos) << corrupt.status();
  auto image_seq = ParseScenario("scenario: {name: x, sequence: 8, domains: [{name: a, samples: 3}]}", "t.yaml");
  ASSERT_FALSE(image_seq.ok());
  EXPECT_NE(image_seq.status().message().find("scenario.sequence"), std::string::npos) << image_seq.status();
}

}  // namespace
}  // namespace bt
