#include "http/tls_trust.h"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <mutex>

namespace loadpilot::http {
namespace {

std::once_flag loaded;
X509_STORE* roots = nullptr;  // kept for the process's lifetime

X509_STORE* system_roots() {
  std::call_once(loaded, [] {
    roots = X509_STORE_new();
    // The same places SSL_CTX_set_default_verify_paths uses: the bundle
    // file (read now) and the hashed directory (looked up per certificate).
    if (roots) X509_STORE_set_default_paths(roots);
  });
  return roots;
}

}  // namespace

void load_system_roots() { system_roots(); }

void trust_system_roots(boost::asio::ssl::context& context) {
  if (X509_STORE* store = system_roots()) {
    SSL_CTX_set1_cert_store(context.native_handle(), store);
    return;
  }
  boost::system::error_code ec;
  context.set_default_verify_paths(ec);  // a failure shows later as a verify error
}

}  // namespace loadpilot::http
