"""Benchmarks of fastapi-caching-route against 0.6.0, fastapi-cache2 and cashews (see README.md)."""
