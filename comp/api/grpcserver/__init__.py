"""The IPC gRPC server; services are contributed by other components."""
