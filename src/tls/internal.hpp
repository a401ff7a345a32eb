// Private to the tls module: the callbacks the configurations register.
#pragma once

#include <mbedtls/ssl.h>

#include <cstddef>

namespace rg::tls {

// f_rng for every configuration: this thread's CTR-DRBG, seeded once on first use.
int thread_rng(void*, unsigned char* out, size_t len);
// Server SNI callback: records the name on the session whose handshake is running.
int sni_callback(void*, mbedtls_ssl_context* ssl, const unsigned char* name, size_t len);

}  // namespace rg::tls
