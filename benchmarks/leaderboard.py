"""How long the leaderboard takes (jupyterlab_fanout/leaderboard.py: the fit and its 200-resample
bootstrap), for votes drawn from known strengths. Prints the median of `--repeats` runs per
size; pure Python, so the numbers are what a request to `GET fanout/leaderboard` costs the
store's reader thread (it never runs on the event loop).

    python benchmarks/leaderboard.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import math
import random
import statistics
import time

from jupyterlab_fanout import leaderboard

SIZES = ((2, 100), (5, 500), (10, 1000), (20, 5000))


def votes(models: int, count: int, seed: int = 1) -> list[tuple[int, int, float]]:
    rng = random.Random(seed)
    true = [rng.gauss(0, 1) for _ in range(models)]
    out = []
    for _ in range(count):
        i, j = rng.sample(range(models), 2)
        p = 1 / (1 + math.exp(true[j] - true[i]))
        r = rng.random()
        out.append((i, j, 1.0 if r < p * 0.9 else 0.5 if r < p * 0.9 + 0.1 else 0.0))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for models, count in SIZES:
        comparisons = votes(models, count)
        fits, rates = [], []
        for _ in range(args.repeats):  # alternated: a fit, then the whole leaderboard
            t = time.perf_counter()
            leaderboard.fit(comparisons)
            fits.append(time.perf_counter() - t)
            t = time.perf_counter()
            leaderboard.rate(comparisons)
            rates.append(time.perf_counter() - t)
        print(f"{models:3d} models {count:5d} votes: fit {statistics.median(fits) * 1000:8.1f} ms,"
              f" leaderboard with {leaderboard.BOOTSTRAP} resamples"
              f" {statistics.median(rates) * 1000:8.1f} ms (median of {args.repeats})")


if __name__ == "__main__":
    main()
