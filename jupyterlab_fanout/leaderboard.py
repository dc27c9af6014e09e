"""The leaderboard's arithmetic: Bradley-Terry strengths from pairwise votes (pure Python).

A comparison is `(i, j, s)`: player `i` against player `j` with `s` the score of `i` (1 a win,
0 a loss, 0.5 a tie; "both bad" is read as a tie, as Chatbot Arena does). Under Bradley-Terry
`P(i beats j) = p_i / (p_i + p_j)`; a tie counts as half a win to each side, so the
log-likelihood is `sum s * log(p_i / (p_i + p_j)) + (1 - s) * log(p_j / (p_i + p_j))`.

`fit` maximises it with Hunter's MM iteration (Hunter 2004, "MM algorithms for generalized
Bradley-Terry models"): `p_i <- W_i / sum_j n_ij / (p_i + p_j)`, renormalised each step so the
geometric mean of the strengths is 1.

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
        key = (i, j) if repr(i) <= repr(j) else (j, i)
        games[key] += w
        wins[i] += w * s
        wins[j] += w * (1 - s)
    return games, wins


def fit(comparisons: Sequence[Comparison], *, prior: float = PRIOR, players: Optional[Iterable[Hashable]] = None,
        weights: Optional[Sequence[float]] = None, tol: float = 1e-12, max_iter: int = 100_000
        ) -> dict[Hashable, float]:
    """Bradley-Terry strengths (see the module note), normalised to a geometric mean of 1
    over the players. `players` adds players with no comparison (strength 1 with a prior)."""
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
    opponents: dict[Hashable, list[tuple[Hashable, float]]] = {p: [] for p in names}
    for (i, j), n in games.items():
        opponents[i].append((j, n))
        opponents[j].append((i, n))
    p = {x: 1.0 for x in names}
    for _ in range(max_iter):
        new = {}
        for x in names:
            w = wins.get(x, 0.0) + prior / 2
            denom = sum(n / (p[x] + p[y]) for y, n in opponents[x]) + prior / (p[x] + 1.0)
            new[x] = w / denom if denom > 0 else p[x]
        if prior == 0:  # only ratios are identified: fix the geometric mean at 1
            g = math.exp(sum(math.log(v) for v in new.values()) / len(new))
            new = {x: v / g for x, v in new.items()}
        change = max(abs(math.log(new[x] / p[x])) for x in names)
        p = new
        if change < tol:
            break
    g = math.exp(sum(math.log(v) for v in p.values()) / len(p))
    return {x: v / g for x, v in p.items()}


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
    order = list(dict.fromkeys(groups))
    members: dict[Hashable, list[int]] = defaultdict(list)
    for k, g in enumerate(groups):
        members[g].append(k)
    rng = random.Random(seed)
    if players and bootstrap > 0:
        for _ in range(bootstrap):
            weights = [0.0] * len(comparisons)
            for _ in order:
                for k in members[order[rng.randrange(len(order))]]:
                    weights[k] += 1
            try:
                fitted = fit(comparisons, prior=prior, players=players, weights=weights, tol=1e-9)
            except ValueError:  # prior 0 and a resample without an MLE: skipped
                continue
            for x in players:
                samples[x].append(score(fitted[x]))
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
