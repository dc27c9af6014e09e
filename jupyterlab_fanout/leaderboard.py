"""The leaderboard's arithmetic: Bradley-Terry strengths from pairwise votes (pure Python).

A comparison is `(i, j, s)`: player `i` against player `j` with `s` the score of `i` (1 a win,
0 a loss, 0.5 a tie; "both bad" is read as a tie, as Chatbot Arena does). Under Bradley-Terry
`P(i beats j) = p_i / (p_i + p_j)`; a tie counts as half a win to each side, so the
log-likelihood is `sum s * log(p_i / (p_i + p_j)) + (1 - s) * log(p_j / (p_i + p_j))`.

`fit` maximises it by Newton's method on the log-strengths (the log-likelihood is concave in
them, strictly so with the prior; a step is halved until the likelihood does not fall): a few
iterations where Hunter's MM iteration (Hunter 2004) needed thousands when strengths differ a
lot, which made the bootstrap take minutes. The strengths are reported with a geometric mean
of 1.

**The prior.** When a player won every game (or lost every one), or the players fall into
groups that never met, the MLE does not exist (a strength runs off to infinity or zero). Each
player therefore plays `prior` virtual games, scored as ties, against a virtual reference of
strength 1 (default `PRIOR` = 1 game). It keeps every strength finite and pulls players with few
votes towards the middle; with many votes its weight vanishes. `prior=0` gives the plain MLE
and raises `ValueError` when it does not exist.

**Scores and intervals.** `score = ELO_BASE + 400 * log10(p)` (the Elo scale: 400 points is
odds of 10 to 1). The confidence interval is a percentile bootstrap: the votes are resampled
with replacement (a ranking's pairs move together: they share a group), `bootstrap` times with
a fixed `seed`, so the same votes always give the same interval.
"""
from __future__ import annotations

import math
import random
from collections import defaultdict
from typing import Hashable, Iterable, Optional, Sequence

#: Virtual tie games each player plays against a reference of strength 1 (see the module note).
PRIOR = 1.0
#: Score of strength 1 (the geometric mean of the players when there is no prior to anchor).
ELO_BASE = 1000.0
#: Bootstrap resamples and the seed of their generator.
BOOTSTRAP = 200
SEED = 17
#: Two-sided level of the interval.
LEVEL = 0.95

Comparison = tuple[Hashable, Hashable, float]


def _totals(comparisons: Iterable[Comparison], weights: Optional[Sequence[float]] = None
            ) -> tuple[dict[tuple[Hashable, Hashable], float], dict[Hashable, float]]:
    """Games per unordered pair (`n[(i, j)]` with i, j as given, both orders summed) and wins."""
    games: dict[tuple[Hashable, Hashable], float] = defaultdict(float)
    wins: dict[Hashable, float] = defaultdict(float)
    for k, (i, j, s) in enumerate(comparisons):
        if i == j:
            raise ValueError(f"a comparison of {i!r} with itself")
        if not 0 <= s <= 1:
            raise ValueError(f"a score must be in [0, 1], not {s!r}")
        w = 1.0 if weights is None else weights[k]
        if w == 0:
            continue
        key = (j, i) if (j, i) in games else (i, j)
        games[key] += w
        wins[i] += w * s
        wins[j] += w * (1 - s)
    return games, wins


def fit(comparisons: Sequence[Comparison], *, prior: float = PRIOR, players: Optional[Iterable[Hashable]] = None,
        weights: Optional[Sequence[float]] = None, tol: float = 1e-10, max_iter: int = 200,
        start: Optional[dict[Hashable, float]] = None) -> dict[Hashable, float]:
    """Bradley-Terry strengths (see the module note), normalised to a geometric mean of 1
    over the players. `players` adds players with no comparison (strength 1 with a prior);
    `start`: strengths to start from (the bootstrap starts from the full fit)."""
    games, wins = _totals(comparisons, weights)
    names: list[Hashable] = []
    for p in list(players or []) + [x for pair in games for x in pair]:
        if p not in names:
            names.append(p)
    if not names:
        return {}
    if prior < 0:
        raise ValueError("the prior must be 0 or more")
    if prior == 0:
        _require_mle(names, comparisons, weights)
    index = {x: k for k, x in enumerate(names)}
    pairs = [(index[i], index[j], n) for (i, j), n in games.items()]
    score_of = [wins.get(x, 0.0) + prior / 2 for x in names]
    # Without a prior only ratios are identified: the last player is held at log-strength 0.
    free = len(names) if prior > 0 else len(names) - 1
    theta = [0.0] * len(names)
    if start and prior > 0:
        theta = [math.log(start[x]) if start.get(x, 0) > 0 else 0.0 for x in names]

    def loglik(t: list[float]) -> float:
        total = sum(score_of[k] * t[k] for k in range(len(t)))
        total -= sum(n * _logaddexp(t[i], t[j]) for i, j, n in pairs)
        return total - sum(prior * _logaddexp(v, 0.0) for v in t)

    current = loglik(theta)
    for _ in range(max_iter):
        gradient = score_of[:]
        hessian = [[0.0] * len(names) for _ in names]  # of the negative log-likelihood
        for i, j, n in pairs:
            q = _sigmoid(theta[i] - theta[j])
            gradient[i] -= n * q
            gradient[j] -= n * (1 - q)
            h = n * q * (1 - q)
            hessian[i][i] += h
            hessian[j][j] += h
            hessian[i][j] -= h
            hessian[j][i] -= h
        for k in range(len(names)):
            q = _sigmoid(theta[k])
            gradient[k] -= prior * q
            hessian[k][k] += prior * q * (1 - q)
        if max(abs(g) for g in gradient[:free]) < tol:
            break
        step = _solve([row[:free] for row in hessian[:free]], gradient[:free])
        # Newton's step on a concave function; halved until the likelihood does not fall.
        scale = 1.0
        while True:
            trial = [theta[k] + scale * step[k] for k in range(free)] + theta[free:]
            value = loglik(trial)
            if value >= current - 1e-12 or scale < 1e-6:
                break
            scale /= 2
        moved = max((abs(scale * d) for d in step), default=0.0)
        theta, current = trial, value
        if moved < tol:
            break
    mean = sum(theta) / len(theta)
    return {x: math.exp(theta[k] - mean) for x, k in index.items()}


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _logaddexp(a: float, b: float) -> float:
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """`matrix x = vector` by Gaussian elimination with partial pivoting (a small, positive
    definite system: the players' count)."""
    n = len(vector)
    a = [row[:] + [vector[k]] for k, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        if abs(a[pivot][col]) < 1e-300:
            raise ValueError("the strengths are not identified (a singular system)")
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(col + 1, n):
            f = a[r][col] / a[col][col]
            if f:
                for c in range(col, n + 1):
                    a[r][c] -= f * a[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (a[r][n] - sum(a[r][c] * x[c] for c in range(r + 1, n))) / a[r][r]
    return x


def _require_mle(names: list[Hashable], comparisons: Sequence[Comparison],
                 weights: Optional[Sequence[float]]) -> None:
    """Raise ValueError unless the plain MLE exists (every player reaches every other one by
    "scored against" edges: Hunter's condition)."""
    edges: dict[Hashable, set[Hashable]] = {x: set() for x in names}
    for k, (i, j, s) in enumerate(comparisons):
        if weights is not None and weights[k] == 0:
            continue
        if s > 0:
            edges[i].add(j)  # i scored against j
        if s < 1:
            edges[j].add(i)

    def reach(start: Hashable, graph: dict[Hashable, set[Hashable]]) -> set[Hashable]:
        seen, todo = {start}, [start]
        while todo:
            for y in graph[todo.pop()]:
                if y not in seen:
                    seen.add(y)
                    todo.append(y)
        return seen

    reverse: dict[Hashable, set[Hashable]] = {x: set() for x in names}
    for x, ys in edges.items():
        for y in ys:
            reverse[y].add(x)
    if len(reach(names[0], edges)) < len(names) or len(reach(names[0], reverse)) < len(names):
        raise ValueError("the maximum-likelihood strengths do not exist (a player won or lost"
                         " every game, or some players never met): use a prior > 0")


def score(strength: float) -> float:
    """A strength on the Elo scale."""
    return ELO_BASE + 400.0 * math.log10(strength)


def _percentile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def rate(comparisons: Sequence[Comparison], groups: Optional[Sequence[Hashable]] = None, *,
         prior: float = PRIOR, bootstrap: int = BOOTSTRAP, seed: int = SEED, level: float = LEVEL
         ) -> list[dict]:
    """Rows, best first: `{player, strength, score, ci_low, ci_high, votes, wins, losses,
    ties}`. `groups[k]` names the vote comparison k came from (a ranking gives several pairs of
    one group): the bootstrap resamples groups. `votes` counts comparisons the player was in."""
    if groups is None:
        groups = list(range(len(comparisons)))
    if len(groups) != len(comparisons):
        raise ValueError("one group per comparison")
    strengths = fit(comparisons, prior=prior)
    players = list(strengths)
    counts = {x: {"votes": 0, "wins": 0, "losses": 0, "ties": 0} for x in players}
    for i, j, s in comparisons:
        for x, own in ((i, s), (j, 1 - s)):
            c = counts[x]
            c["votes"] += 1
            c["wins" if own == 1 else "losses" if own == 0 else "ties"] += 1
    samples: dict[Hashable, list[float]] = {x: [] for x in players}
    # The resamples are fitted over player numbers (cheap to hash), in groups of their counts.
    number = {x: k for k, x in enumerate(players)}
    cells: dict[tuple[int, int, float], int] = {}
    cell_of = []
    for i, j, s in comparisons:
        cell_of.append(cells.setdefault((number[i], number[j], s), len(cells)))
    cell_list = list(cells)
    warm = {number[x]: v for x, v in strengths.items()}
    order = list(dict.fromkeys(groups))
    members: dict[Hashable, list[int]] = defaultdict(list)
    for k, g in enumerate(groups):
        members[g].append(k)
    rng = random.Random(seed)
    # One vote (one pair, or one ranking's pairs, which move together) resamples to itself every
    # time: its interval would have no width, claiming a certainty one vote cannot give. No
    # interval then (None, shown as "–"), until a second vote.
    if players and bootstrap > 0 and len(order) >= 2:
        for _ in range(bootstrap):
            weights = [0.0] * len(cell_list)
            for _ in order:
                for k in members[order[rng.randrange(len(order))]]:
                    weights[cell_of[k]] += 1
            try:
                fitted = fit(cell_list, prior=prior, players=range(len(players)), weights=weights,
                             start=warm)
            except ValueError:  # prior 0 and a resample without an MLE: skipped
                continue
            for x in players:
                samples[x].append(score(fitted[number[x]]))
    rows = []
    alpha = (1 - level) / 2
    for x in players:
        values = sorted(samples[x])
        rows.append({
            "player": x, "strength": strengths[x], "score": score(strengths[x]),
            "ci_low": _percentile(values, alpha) if values else None,
            "ci_high": _percentile(values, 1 - alpha) if values else None,
            **counts[x],
        })
    rows.sort(key=lambda r: (-r["score"], repr(r["player"])))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return rows
