"""certs: the one home of TLS (SSLContext factory, profiles, checks, test PKI)."""
