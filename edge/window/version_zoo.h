// Where a window starts: the version zoo. Every version a window of this edge produced is kept with the drift
// signature of the samples it was trained on (edge/window/start_choice.h computes it: input statistics, the same
// for every model). A window scores, on its labeled samples, the branch head, the foundation and the `nearest`
// stored versions whose signature is closest to now, and starts from the best: fog on Thursday starts where fog
// ended on Monday, not where the night left the model. The push names that start as the new version's parent.
//
// The daemon persists the zoo in <data_dir>/zoo.json (VersionZoo); the benchmark keeps ZooVersions in memory. A
// version enters pending (the window deployed it) and becomes a candidate once the cloud has accepted it and named
// its version (Confirm). Nothing here deletes a version from the cloud's registry.
//
// Torch-free. VersionZoo is not thread-safe (the window thread owns it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/format/manifest.h"

namespace bt {

inline constexpr int kZooNearest = 2;          // stored versions scored per window besides the head and foundation
inline constexpr size_t kMaxZooVersions = 256;  // the zoo index keeps the newest this many (the registry keeps all)

struct ZooVersion {
  uint64_t version = 0;           // the branch version (the cloud's number); meaningful once confirmed
  uint64_t parent = 0;            // the version its window started from
  std::string window_id;
  bool confirmed = true;          // the cloud accepted it (pending versions are never candidates)
  std::vector<double> signature;  // drift signature of its window's samples (empty: unknown)
  BlockDigests blocks;            // the daemon builds it from its block store with these
};

// Euclidean distance; +inf when either is empty or their lengths differ (signatures of another kind).
double SignatureDistance(const std::vector<double>& a, const std::vector<double>& b);

// Indexes into `zoo` of the `nearest` confirmed versions closest to `now`, closest first, leaving out the versions
// in `exclude` (the head and the foundation, scored anyway) and those without a signature. Ties: the newer first.
std::vector<size_t> NearestVersions(const std::vector<ZooVersion>& zoo, const std::vector<double>& now,
                                    const std::vector<uint64_t>& exclude, int nearest = kZooNearest);

// The daemon's zoo, in a JSON file rewritten atomically after every change.
class VersionZoo {
 public:
  // Reads `path` if it exists (a first start has none); a file that does not parse is an error naming it.
  static absl::StatusOr<VersionZoo> Load(const std::string& path);

  const std::vector<ZooVersion>& versions() const { return versions_; }
  // Adds a version (pending when !v.confirmed) and saves; the oldest beyond kMaxZooVersions leave the index.
  absl::Status Add(ZooVersion v);
  // The pending version of `window_id` becomes `version`; NotFound when no pending version has that window.
  absl::Status Confirm(const std::string& window_id, uint64_t version);
  // Drops a confirmed version (the cloud no longer has it: an operator pruned it).
  absl::Status Forget(uint64_t version);

 private:
  absl::Status Save() const;
  std::string path_;
  std::vector<ZooVersion> versions_;
};

}  // namespace bt
