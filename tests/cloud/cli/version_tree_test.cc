// `bt-cloud versions` draws the branch as a tree: a straight branch stays flat, a window that started from an older
// version (the version zoo) forks it under that version.
#include "cloud/cli/admin_commands.h"

#include <gtest/gtest.h>

namespace bt {
namespace {

std::vector<std::string> Draw(const std::vector<std::pair<uint64_t, uint64_t>>& versions) {
  std::vector<std::string> lines;
  for (const auto& [i, prefix] : VersionTree(versions)) lines.push_back(prefix + "v" + std::to_string(versions[i].first));
  return lines;
}

TEST(VersionTree, AStraightBranchIsFlat) {
  EXPECT_EQ(Draw({{0, 0}, {1, 0}, {2, 1}}), (std::vector<std::string>{"v0", "v1", "v2"}));
}

TEST(VersionTree, AnOlderStartForksTheBranch) {
  // v3 started from v1 (fog again), v4 from v3, v5 from v2.
  EXPECT_EQ(Draw({{0, 0}, {1, 0}, {2, 1}, {3, 1}, {4, 3}, {5, 2}}),
            (std::vector<std::string>{"v0", "v1", "|- v2", "|  v5", "`- v3", "   v4"}));
  // Out of order input and a parent that is not listed: every version is drawn once.
  const auto lines = Draw({{4, 3}, {0, 0}, {3, 0}, {7, 6}});
  EXPECT_EQ(lines, (std::vector<std::string>{"v0", "v3", "v4", "v7"}));
}

}  // namespace
}  // namespace bt
