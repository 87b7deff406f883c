// Block transfer throughput on loopback: bt-cloud's PullBlocks (server-streaming 1 MiB chunks, written to the
// edge's block store, verified by SHA-256 and renamed into place) against raw TCP on the same machine in the same
// run (the same bytes written by one socket, read by another, into memory and into a file).
//
//   bt-bench-transfer [--gib 1] [--block-mib 64] [--rounds 3] [--dir /tmp]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "cloud/cloud_service.h"
#include "common/base/sha256.h"
#include "edge/cloud_client.h"

namespace {

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Sends every file over one TCP connection; the receiver reads into memory (or appends to a file).
double RawTcp(const std::vector<std::string>& paths, uint64_t total, const std::string& sink_file) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  listen(listener, 1);
  std::thread sender([&] {
    int conn = accept(listener, nullptr, nullptr);
    for (const std::string& p : paths) {
      auto file = bt::MappedFile::Open(p);
      size_t sent = 0;
      while (sent < (*file)->size()) {
        ssize_t n = send(conn, (*file)->data() + sent, (*file)->size() - sent, 0);
        if (n <= 0) break;
        sent += static_cast<size_t>(n);
      }
    }
    close(conn);
  });
  int client = socket(AF_INET, SOCK_STREAM, 0);
  const auto t0 = std::chrono::steady_clock::now();
  connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  std::vector<char> buffer(1 << 20);
  FILE* out = sink_file.empty() ? nullptr : std::fopen(sink_file.c_str(), "wb");
  uint64_t got = 0;
  while (got < total) {
    ssize_t n = recv(client, buffer.data(), buffer.size(), 0);
    if (n <= 0) break;
    if (out != nullptr) std::fwrite(buffer.data(), 1, static_cast<size_t>(n), out);
    got += static_cast<uint64_t>(n);
  }
  if (out != nullptr) {
    std::fflush(out);
    fsync(fileno(out));
    std::fclose(out);
  }
  const double s = Seconds(t0);
  sender.join();
  close(client);
  close(listener);
  if (!sink_file.empty()) std::filesystem::remove(sink_file);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"block transfer over gRPC vs raw TCP on loopback"};
  double gib = 1.0;
  int block_mib = 64;
  int rounds = 3;
  std::string base = "/tmp";
  app.add_option("--gib", gib, "total bytes of blocks to move, in GiB")->capture_default_str();
  app.add_option("--block-mib", block_mib, "size of each block in MiB")->capture_default_str();
  app.add_option("--rounds", rounds, "alternating rounds (median reported)")->capture_default_str();
  app.add_option("--dir", base, "where the temporary stores live")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);

  const std::string dir = base + "/bt-bench-transfer-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  auto blocks = *bt::BlockStore::Open(dir + "/cloud-blocks");
  auto registry = *bt::Registry::Open(dir + "/db.sqlite");
  bt::LawStore laws(dir + "/laws");
  const uint64_t block_bytes = static_cast<uint64_t>(block_mib) << 20;
  const int count = std::max(1, static_cast<int>(gib * 1024 / block_mib));
  const uint64_t total = block_bytes * static_cast<uint64_t>(count);
  std::printf("preparing %d blocks of %d MiB (%.2f GiB) in %s ...\n", count, block_mib, total / double(1 << 30),
              dir.c_str());
  std::mt19937_64 rng(1);
  bt::BlockDigests manifest;
  std::vector<std::string> digests, paths;
  for (int i = 0; i < count; ++i) {
    std::string bytes(block_bytes, '\0');
    for (size_t j = 0; j + 8 <= bytes.size(); j += 8) {
      const uint64_t v = rng();
      std::memcpy(&bytes[j], &v, 8);
    }
    digests.push_back(*blocks->Put(bytes));
    paths.push_back(blocks->PathFor(digests.back()));
    manifest.emplace_back("block_" + std::to_string(i), digests.back());
  }
  bt::EdgeRecord edge;
  edge.id = "bench";
  if (!registry->RegisterEdge(edge, manifest, 0).ok() || !registry->SetTokenHash("bench", bt::Sha256Hex("t")).ok()) {
    std::fprintf(stderr, "registry setup failed\n");
    return 1;
  }
  bt::CloudContext context;
  context.blocks = blocks.get();
  context.registry = registry.get();
  context.laws = &laws;
  auto server = bt::CloudServer::Start("127.0.0.1:0", "", &context);
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  const std::string address = "127.0.0.1:" + std::to_string((*server)->port());

  auto grpc_pull = [&] {
    const std::string edge_dir = dir + "/edge-blocks";
    std::filesystem::remove_all(edge_dir);
    bt::CloudClient client(*bt::MakeCloudChannel(address, {}), "bench", "t");
    client.set_deadline(std::chrono::minutes(5));
    bt::BlockStore store(edge_dir);
    const auto t0 = std::chrono::steady_clock::now();
    auto stats = client.PullBlocks(digests, store);
    const double s = Seconds(t0);
    if (!stats.ok() || stats->bytes != total) {
      std::fprintf(stderr, "pull failed: %s\n", std::string(stats.status().message()).c_str());
      std::exit(1);
    }
    std::filesystem::remove_all(edge_dir);
    return s;
  };
  std::vector<double> pull, tcp_mem, tcp_file;
  for (int r = 0; r < rounds; ++r) {
    pull.push_back(grpc_pull());
    tcp_mem.push_back(RawTcp(paths, total, ""));
    tcp_file.push_back(RawTcp(paths, total, dir + "/tcp-sink"));
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double gb = total / double(1 << 20);
  const double p = gb / median(pull), m = gb / median(tcp_mem), f = gb / median(tcp_file);
  std::printf("moved %.2f GiB per method, median of %d alternating rounds:\n", total / double(1 << 30), rounds);
  std::printf("  raw TCP, into memory              %8.0f MiB/s\n", m);
  std::printf("  raw TCP, into a file (fsync)      %8.0f MiB/s\n", f);
  std::printf("  gRPC PullBlocks, to the block store (file + fsync + SHA-256 verify + rename) %8.0f MiB/s\n", p);
  std::printf("  PullBlocks / raw TCP into memory: %.0f%%; / raw TCP into a file: %.0f%%\n", 100 * p / m, 100 * p / f);
  (*server)->Stop();
  std::filesystem::remove_all(dir);
  return 0;
}
