// The system's trusted certificate authorities, loaded once per process.
//
// Every TLS client context of a run (each worker's HTTP client, the Python
// side's client and WebSocket hub) verifies servers against the same CA
// store. OpenSSL reads the whole bundle when a context is told to use the
// default paths, which costs tens of milliseconds (and much more under a
// sanitizer); done per context, inside the run, that cost landed on the
// first requests' latency. Here it is read once, before the run starts
// (load_system_roots from the run's setup), and shared by reference
// (X509_STORE is reference-counted and safe to share between threads).
// docs/protocols.md#certificates
#pragma once

#include <boost/asio/ssl/context.hpp>

namespace loadpilot::http {

// Reads the system's CA store if it has not been read yet. Thread-safe;
// later calls return at once. A missing or unreadable store is not an
// error here: verification then fails per connection, naming the cause.
void load_system_roots();

// Makes `context` verify peers against the shared system CA store (loading
// it first if needed) instead of reading the bundle again.
void trust_system_roots(boost::asio::ssl::context& context);

}  // namespace loadpilot::http
