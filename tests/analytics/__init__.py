"""Tests of leadsync.analytics: hand-computed examples, bad input, and hypothesis invariants."""
