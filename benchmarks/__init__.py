"""leadsync's benchmarks: each module writes ``benchmarks/results/<name>.json``.

``python -m benchmarks [--size tiny|small|full]`` runs them all (see ``__main__``).
"""
