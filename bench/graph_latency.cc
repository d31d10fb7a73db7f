// bench/graph_latency.cc: closed-loop, one-at-a-time latency of an InferenceGraph against the same calls made
// by the client itself (bench/graph_bench.sh, docs/benchmarks.md "InferenceGraph").
//
//   graph_latency --port N --body_file F --graph_host G --step_host A --step_path P [--step_host B --step_path Q]
//                 [--rounds 5] [--requests 2000] [--warmup 200]
// Each round sends `requests` graph requests (POST / with Host G), then `requests` times the direct sequence
// (POST P with Host A, then Q with Host B, one after the other: the client doing the graph's work), on two
// keep-alive connections, one request in flight at a time; graph and direct blocks alternate, so both see the
// same machine. A direct sample is the sum of its calls. Prints, per round and over all rounds:
//   graph_p50_us=... direct_p50_us=... added_p50_us=... ratio=...
// Exit status 1 on a connection error or a non-200 answer.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct Conn {
  asio::io_context ctx;
  tcp::socket socket{ctx};
  beast::flat_buffer buffer;

  void Open(int port) {
    tcp::resolver r(ctx);
    asio::connect(socket, r.resolve("127.0.0.1", std::to_string(port)));
    socket.set_option(tcp::no_delay(true));
  }
  // One POST; returns its latency in microseconds (exits on an error).
  double Post(const std::string& host, const std::string& path, const std::string& body) {
    http::request<http::string_body> req{http::verb::post, path, 11};
    req.set(http::field::host, host);
    req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    http::response<http::string_body> res;
    auto t0 = std::chrono::steady_clock::now();
    http::write(socket, req);
    http::read(socket, buffer, res);
    auto t1 = std::chrono::steady_clock::now();
    if (res.result_int() != 200) {
      std::fprintf(stderr, "graph_latency: %s%s answered %u: %s\n", host.c_str(), path.c_str(), res.result_int(),
                   res.body().c_str());
      std::exit(1);
    }
    return std::chrono::duration<double, std::micro>(t1 - t0).count();
  }
};

double P50(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0, rounds = 5, requests = 2000, warmup = 200;
  std::string body_file, graph_host;
  std::vector<std::string> step_hosts, step_paths;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--port") port = std::atoi(v.c_str());
    else if (k == "--body_file") body_file = v;
    else if (k == "--graph_host") graph_host = v;
    else if (k == "--step_host") step_hosts.push_back(v);
    else if (k == "--step_path") step_paths.push_back(v);
    else if (k == "--rounds") rounds = std::atoi(v.c_str());
    else if (k == "--requests") requests = std::atoi(v.c_str());
    else if (k == "--warmup") warmup = std::atoi(v.c_str());
    else {
      std::fprintf(stderr, "graph_latency: unknown flag %s\n", k.c_str());
      return 1;
    }
  }
  if (port <= 0 || body_file.empty() || graph_host.empty() || step_hosts.empty() ||
      step_hosts.size() != step_paths.size() || rounds <= 0 || requests <= 0) {
    std::fprintf(stderr, "usage: see bench/graph_latency.cc\n");
    return 1;
  }
  std::ifstream f(body_file);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string body = ss.str();
  try {
    Conn graph, direct;
    graph.Open(port);
    direct.Open(port);
    auto direct_once = [&] {
      double t = 0;
      for (size_t s = 0; s < step_hosts.size(); ++s) t += direct.Post(step_hosts[s], step_paths[s], body);
      return t;
    };
    for (int i = 0; i < warmup; ++i) {
      graph.Post(graph_host, "/", body);
      direct_once();
    }
    std::vector<double> all_g, all_d;
    for (int r = 0; r < rounds; ++r) {
      std::vector<double> g, d;
      for (int i = 0; i < requests; ++i) g.push_back(graph.Post(graph_host, "/", body));
      for (int i = 0; i < requests; ++i) d.push_back(direct_once());
      std::printf("round %d: graph_p50_us=%.1f direct_p50_us=%.1f added_p50_us=%.1f ratio=%.3f\n", r + 1, P50(g),
                  P50(d), P50(g) - P50(d), P50(g) / P50(d));
      all_g.insert(all_g.end(), g.begin(), g.end());
      all_d.insert(all_d.end(), d.begin(), d.end());
    }
    std::printf("all: graph_p50_us=%.1f direct_p50_us=%.1f added_p50_us=%.1f ratio=%.3f\n", P50(all_g), P50(all_d),
                P50(all_g) - P50(all_d), P50(all_g) / P50(all_d));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "graph_latency: %s\n", e.what());
    return 1;
  }
  return 0;
}
