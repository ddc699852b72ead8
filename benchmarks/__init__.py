"""Benchmarks: training throughput against the chapter's pipeline, time to accuracy, classify latency."""
