#include "demo/demo_api.h"

#include <fmt/format.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <iostream>
#include <optional>
#include <system_error>
#include <thread>
#include <vector>

#include "demo/connection.h"
#include "demo/http2_connection.h"

namespace loadpilot::demo {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

std::string host_port(const std::string& host, std::uint16_t port) {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

tcp::endpoint resolve(asio::io_context& io, const std::string& host, std::uint16_t port) {
  boost::system::error_code ec;
  asio::ip::address address = asio::ip::make_address(host, ec);
  if (!ec) return {address, port};
  tcp::resolver resolver(io);
  auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    throw std::system_error(ec ? ec : asio::error::host_not_found,
                            "resolve " + host_port(host, port));
  }
  return results.begin()->endpoint();
}

}  // namespace

struct DemoServer::Impl {
  explicit Impl(DemoOptions o) : options(std::move(o)) {}

  void accept() {
    Worker& target = *workers[next_worker];
    next_worker = (next_worker + 1) % workers.size();
    acceptor->async_accept(target.io,
                           [this, &target](boost::system::error_code ec, tcp::socket socket) {
                             if (ec == asio::error::operation_aborted) return;
                             if (!ec) {
                               if (tls) {
                                 serve_tls_connection(target, std::move(socket), *tls);
                               } else {
                                 serve_connection(target, std::move(socket));
                               }
                               return accept();
                             }
                             // Out of descriptors or similar: back off instead of spinning.
                             accept_retry->expires_after(std::chrono::milliseconds(50));
                             accept_retry->async_wait([this](boost::system::error_code wait_ec) {
                               if (!wait_ec) accept();
                             });
                           });
  }

  // Destroys in an order that keeps every pending handler's objects valid:
  // the acceptor before worker 0's context, and worker 0 (whose pending
  // accept may hold another worker's socket) before the others.
  void tear_down() {
    guards.clear();
    accept_retry.reset();
    acceptor.reset();
    for (auto& w : workers) w.reset();
    workers.clear();
  }

  DemoOptions options;
  SharedState shared;
  std::optional<StatsBoard> board;
  std::optional<CapacityPool> capacity;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> accept_retry;
  std::shared_ptr<asio::ssl::context> tls;  // with options.tls
  std::vector<std::thread> threads;
  std::size_t next_worker = 0;
  std::uint16_t port = 0;
  bool running = false;
};

DemoServer::DemoServer(DemoOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

DemoServer::~DemoServer() { stop(); }

void DemoServer::start() {
  Impl& s = *impl_;
  if (s.running) throw std::logic_error("DemoServer::start: already started");
  int threads = s.options.threads;
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  s.board.emplace();  // fresh counts on every start
  if (s.options.tls && !s.tls) s.tls = make_demo_tls_context();
  s.capacity.reset();
  if (s.options.capacity_rps > 0)
    s.capacity.emplace(s.options.capacity_rps, s.options.capacity_workers);
  auto start_time = Faults::Clock::now();
  for (int i = 0; i < threads; ++i) {
    s.workers.push_back(std::make_unique<Worker>(i, s.options, start_time, s.shared, *s.board,
                                                 s.capacity ? &*s.capacity : nullptr));
    s.board->add(&s.workers.back()->counters);
    s.board->add_tags(&s.workers.back()->tags);
  }
  asio::io_context& io0 = s.workers.front()->io;
  try {
    tcp::endpoint endpoint = resolve(io0, s.options.host, s.options.port);
    std::string where = host_port(s.options.host, s.options.port);
    s.acceptor.emplace(io0);
    boost::system::error_code ec;
    s.acceptor->open(endpoint.protocol(), ec);
    if (ec) throw std::system_error(ec, "open socket for " + where);
    s.acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    s.acceptor->bind(endpoint, ec);
    if (ec) throw std::system_error(ec, "bind " + where);
    s.acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw std::system_error(ec, "listen on " + where);
    s.port = s.acceptor->local_endpoint().port();
  } catch (...) {
    s.tear_down();
    throw;
  }
  s.accept_retry.emplace(io0);
  s.accept();
  for (auto& w : s.workers) {
    s.guards.push_back(asio::make_work_guard(w->io));
    s.threads.emplace_back([&io = w->io] { io.run(); });
  }
  s.running = true;
}

std::uint16_t DemoServer::port() const { return impl_->port; }

std::string DemoServer::url() const {
  return (impl_->options.tls ? "https://" : "http://") +
         host_port(impl_->options.host, impl_->port);
}

void DemoServer::stop() {
  Impl& s = *impl_;
  if (!s.running) return;
  for (auto& w : s.workers) w->io.stop();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
  s.tear_down();
  s.running = false;
}

int run_demo_api(const DemoOptions& options) {
  // Before any worker thread exists, so a signal during start-up is not lost
  // to the default action mid-way.
  asio::io_context signal_io(1);
  asio::signal_set signals(signal_io, SIGINT, SIGTERM);
  DemoServer server(options);
  try {
    server.start();
  } catch (const std::system_error& e) {
    std::cerr << "demo-api: cannot listen on " << host_port(options.host, options.port) << ": "
              << e.code().message() << " (" << e.what() << ")\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "demo-api: " << e.what() << "\n";
    return 1;
  }
  std::cout << "demo-api listening on " << server.url() << std::endl;
  if (options.capacity_rps > 0) {
    const CapacityPool pool(options.capacity_rps, options.capacity_workers);
    std::cout << fmt::format(
                     "demo-api capacity: {:g} requests/s ({} workers, {:.3f} ms service time)",
                     options.capacity_rps, pool.workers(),
                     std::chrono::duration<double, std::milli>(pool.service_time()).count())
              << std::endl;
  }
  signals.async_wait([](const boost::system::error_code&, int) {});
  signal_io.run();
  server.stop();
  return 0;
}

}  // namespace loadpilot::demo
