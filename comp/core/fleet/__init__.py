"""The fleet source: fleet configuration watched in etcd, applied at source ``remote-config``."""
