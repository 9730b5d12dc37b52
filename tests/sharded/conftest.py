"""The tests in this folder split arrays over eight CPU devices; they run in a process of their
own, started with ``XLA_FLAGS=--xla_force_host_platform_device_count=8`` (``make test`` does)."""
