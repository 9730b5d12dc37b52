"""Benchmark scripts: each prints medians and ratios against the peers, measured side by side."""
