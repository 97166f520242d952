"""Local S3-compatible servers on loopback, for the tests, the demo and the benchmarks."""
