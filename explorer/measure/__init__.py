"""Latency measured on this host: the timing protocol and its quality verdict, the torch and ONNX Runtime backends,
per-layer timing, host facts, the host lock, and the child process the app measures in."""
