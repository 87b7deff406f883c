// Text corpora from files on disk: what a text drift domain is made of (package files by glob: the Python standard
// library, C headers, man pages, Debian changelogs, shell scripts, prose), read as plain text, split into training
// and held-out files by file (no file in both), deterministically for a seed. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/status.h"

namespace bt {

// Regular files matching any of `globs`, sorted and without duplicates. A glob is a path with *, ? and [...]
// (fnmatch) and {a,b} alternatives; "**" matches any number of directories. At most `max_files` (the rest are dropped, in sorted order).
absl::StatusOr<std::vector<std::string>> ExpandGlobs(const std::vector<std::string>& globs, size_t max_files = 100000);

// An error naming the first of `globs` that matches no regular file, as "<key>[i]: '<glob>' matches no file": a
// corpus missing one of its parts (an uninstalled package, a directory not extracted) would otherwise train or
// measure on less text than configured without a word.
absl::Status EachGlobMatches(const std::vector<std::string>& globs, const std::string& key);

// A file's text: gzip-decompressed when it ends in .gz; HTML with its tags, scripts and styles removed and entities
// decoded (.html); roff (man pages: under a man*/ directory, or .[1-9] suffixes) with requests, comments and font
// escapes removed. Invalid UTF-8 bytes are replaced by '?' so tokenizers see valid text. At most `max_bytes`.
absl::StatusOr<std::string> ReadCorpusFile(const std::string& path, size_t max_bytes = 8u << 20);

struct CorpusSplit {
  std::vector<std::string> train, heldout;
};

// Each file goes to held-out with probability `heldout_share`, decided by a hash of (seed, path) — the same files
// whatever else the glob matches; with two or more files each side gets at least one. Both lists are then in a
// seed-shuffled order (so a prefix of them is a sample across the corpus).
CorpusSplit SplitByFile(const std::vector<std::string>& files, double heldout_share, uint64_t seed);

}  // namespace bt
