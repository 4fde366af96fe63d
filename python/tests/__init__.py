"""The SDK's unit tests: each serves a provider on a real unix socket and calls it with a real gRPC client."""
