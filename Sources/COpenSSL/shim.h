// The system's OpenSSL 3 (libssl and libcrypto) for Swift: hashing, key derivation (PBKDF2,
// scrypt), MACs, randomness and constant-time comparison today; TLS (libssl) for the transports
// later. Nothing cryptographic is written by hand in Disco: it all comes from here.
#ifndef DISCO_COPENSSL_SHIM_H
#define DISCO_COPENSSL_SHIM_H

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/opensslv.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#endif
