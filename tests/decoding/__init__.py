"""The vectorised decoders against today's, frozen as an oracle."""
