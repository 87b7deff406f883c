#include "common/text/corpus.h"

#include <fnmatch.h>
#include <glob.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/file_util.h"
#include "common/base/sha256.h"

namespace bt {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<std::string> ReadMaybeGzip(const std::string& path, size_t max_bytes) {
  if (!absl::EndsWith(path, ".gz")) {
    ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
    if (text.size() > max_bytes) text.resize(max_bytes);
    return text;
  }
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) return absl::NotFoundError(absl::StrCat("cannot open '", path, "'"));
  std::string out;
  char buffer[1 << 16];
  while (out.size() < max_bytes) {
    const int n = gzread(file, buffer, sizeof(buffer));
    if (n < 0) {
      gzclose(file);
      return absl::DataLossError(absl::StrCat("'", path, "' is corrupt (gzip read failed)"));
    }
    if (n == 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  gzclose(file);
  if (out.size() > max_bytes) out.resize(max_bytes);
  return out;
}

std::string StripHtml(const std::string& html) {
  std::string out;
  out.reserve(html.size());
  for (size_t i = 0; i < html.size();) {
    if (html[i] == '<') {
      // Drop scripts and styles with their content, and every tag.
      for (const char* block : {"script", "style"}) {
        if (html.compare(i + 1, std::char_traits<char>::length(block), block) == 0) {
          const size_t end = html.find(absl::StrCat("</", block), i);
          i = end == std::string::npos ? html.size() : end;
          break;
        }
      }
      const size_t close = html.find('>', i);
      i = close == std::string::npos ? html.size() : close + 1;
      continue;
    }
    if (html[i] == '&') {
      static const std::pair<const char*, char> kEntities[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'},
                                                               {"&quot;", '"'}, {"&#39;", '\''}, {"&nbsp;", ' '}};
      bool matched = false;
      for (const auto& [name, c] : kEntities) {
        if (html.compare(i, std::char_traits<char>::length(name), name) == 0) {
          out.push_back(c);
          i += std::char_traits<char>::length(name);
          matched = true;
          break;
        }
      }
      if (matched) continue;
    }
    out.push_back(html[i++]);
  }
  // Collapse the blank lines markup leaves behind.
  std::string collapsed;
  int newlines = 0;
  for (char c : out) {
    newlines = c == '\n' ? newlines + 1 : (c == ' ' || c == '\t' ? newlines : 0);
    if (newlines <= 2) collapsed.push_back(c);
  }
  return collapsed;
}

std::string StripRoff(const std::string& roff) {
  std::string out;
  size_t start = 0;
  while (start < roff.size()) {
    size_t end = roff.find('\n', start);
    if (end == std::string::npos) end = roff.size();
    std::string line = roff.substr(start, end - start);
    start = end + 1;
    if (absl::StartsWith(line, ".\\\"") || absl::StartsWith(line, "'\\\"")) continue;  // comments
    if (!line.empty() && (line[0] == '.' || line[0] == '\'')) {
      // A request: keep the text of font/section macros (".B text", ".SH NAME"), drop the rest.
      const size_t space = line.find(' ');
      const std::string request = line.substr(1, space == std::string::npos ? std::string::npos : space - 1);
      static const std::set<std::string> kText = {"B", "I", "BR", "BI", "IR", "IB", "RB", "RI", "SH", "SS", "TP", "IP", "TH"};
      if (space == std::string::npos || !kText.count(request)) continue;
      line = line.substr(space + 1);
    }
    std::string clean;
    for (size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '\\' && i + 1 < line.size()) {
        const char e = line[i + 1];
        if (e == 'f' && i + 2 < line.size()) {  // \fB, \fI, \fR, \fP, \f(CW
          i += line[i + 2] == '(' ? 4 : 2;
          continue;
        }
        if (e == '-' || e == 'e' || e == '\\') {
          clean.push_back(e == 'e' ? '\\' : e);
          ++i;
          continue;
        }
        if (e == '&' || e == ' ') {
          if (e == ' ') clean.push_back(' ');
          ++i;
          continue;
        }
        if (e == '(' && i + 3 < line.size()) {  // \(em and other two-letter glyphs
          clean.push_back(' ');
          i += 3;
          continue;
        }
      }
      clean.push_back(line[i]);
    }
    absl::StrAppend(&out, clean, "\n");
  }
  return out;
}

// Replaces bytes that are not part of valid UTF-8 with '?'.
std::string ValidUtf8(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = n > 0 && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (!ok || (n == 1 && c == 0)) {
      out.push_back('?');
      ++i;
      continue;
    }
    out.append(s, i, n);
    i += n;
  }
  return out;
}

bool IsManPage(const std::string& path) {
  const std::string name = absl::EndsWith(path, ".gz") ? path.substr(0, path.size() - 3) : path;
  if (path.find("/man/man") != std::string::npos) return true;
  return name.size() > 2 && name[name.size() - 2] == '.' && name.back() >= '1' && name.back() <= '9';
}

uint64_t Hash64(const std::string& text) {
  const std::string hex = Sha256Hex(text);
  return std::stoull(hex.substr(0, 16), nullptr, 16);
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ExpandGlobs(const std::vector<std::string>& globs, size_t max_files) {
  std::set<std::string> found;
  for (const std::string& pattern : globs) {
    if (pattern.empty()) continue;
    const size_t recursive = pattern.find("**");
    if (recursive == std::string::npos) {
      glob_t g{};
      const int rc = glob(pattern.c_str(), GLOB_NOSORT | GLOB_BRACE, nullptr, &g);
      if (rc == 0) {
        for (size_t i = 0; i < g.gl_pathc; ++i) {
          std::error_code ec;
          if (fs::is_regular_file(g.gl_pathv[i], ec)) found.insert(g.gl_pathv[i]);
        }
      }
      globfree(&g);
      continue;
    }
    // "**": walk from the directory before it; without FNM_PATHNAME, '*' also crosses '/'.
    const std::string root = pattern.substr(0, pattern.rfind('/', recursive) == std::string::npos ? 0 : pattern.rfind('/', recursive));
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root.empty() ? "." : root, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      const std::string path = it->path().string();
      if (fnmatch(pattern.c_str(), path.c_str(), 0) == 0) found.insert(path);
    }
  }
  std::vector<std::string> out(found.begin(), found.end());
  if (out.size() > max_files) out.resize(max_files);
  return out;
}

absl::Status EachGlobMatches(const std::vector<std::string>& globs, const std::string& key) {
  for (size_t i = 0; i < globs.size(); ++i) {
    if (globs[i].empty()) continue;
    ASSIGN_OR_RETURN(std::vector<std::string> files, ExpandGlobs({globs[i]}, 1));
    if (files.empty()) return absl::NotFoundError(absl::StrCat(key, "[", i, "]: '", globs[i], "' matches no file"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadCorpusFile(const std::string& path, size_t max_bytes) {
  // Markup shrinks when stripped: read more than the limit before it.
  ASSIGN_OR_RETURN(std::string raw, ReadMaybeGzip(path, max_bytes * 4));
  std::string text = raw;
  const std::string plain = absl::EndsWith(path, ".gz") ? path.substr(0, path.size() - 3) : path;
  if (absl::EndsWith(plain, ".html") || absl::EndsWith(plain, ".htm")) {
    text = StripHtml(raw);
  } else if (IsManPage(path)) {
    text = StripRoff(raw);
  }
  text = ValidUtf8(text);
  if (text.size() > max_bytes) text.resize(max_bytes);
  return text;
}

CorpusSplit SplitByFile(const std::vector<std::string>& files, double share, uint64_t seed) {
  CorpusSplit split;
  std::vector<std::pair<uint64_t, std::string>> ranked;
  for (const std::string& f : files) {
    const uint64_t h = Hash64(absl::StrCat(seed, ":", f));
    ranked.push_back({h, f});
    const double u = static_cast<double>(h >> 11) / static_cast<double>(uint64_t{1} << 53);
    (u < share ? split.heldout : split.train).push_back(f);
  }
  if (files.size() >= 2 && share > 0 && share < 1) {
    // Each side at least one file: move the file whose hash is most extreme.
    std::sort(ranked.begin(), ranked.end());
    if (split.heldout.empty()) {
      split.heldout.push_back(ranked.front().second);
      split.train.erase(std::find(split.train.begin(), split.train.end(), ranked.front().second));
    } else if (split.train.empty()) {
      split.train.push_back(ranked.back().second);
      split.heldout.erase(std::find(split.heldout.begin(), split.heldout.end(), ranked.back().second));
    }
  }
  std::mt19937_64 rng(seed);
  std::shuffle(split.train.begin(), split.train.end(), rng);
  std::shuffle(split.heldout.begin(), split.heldout.end(), rng);
  return split;
}

}  // namespace bt
