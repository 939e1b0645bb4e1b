"""The local results store: measurements, fine-tune results and latency profiles, keyed by design hash."""
