"""Generated protobuf and gRPC code for proto/ (regenerate with ``make proto``; never edit by hand)."""
