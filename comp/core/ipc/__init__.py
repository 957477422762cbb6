"""The IPC component: auth token, mTLS certificate, gRPC credentials."""
