"""The leaderboard's arithmetic (leaderboard.py) against results computed by other means."""
from __future__ import annotations

import itertools
import math

import pytest

from jupyterlab_fanout import leaderboard as L


def games(i, j, wins, losses, ties=0):
    return [(i, j, 1.0)] * wins + [(i, j, 0.0)] * losses + [(i, j, 0.5)] * ties


def loglik(comparisons, p):
    return sum(s * math.log(p[i] / (p[i] + p[j])) + (1 - s) * math.log(p[j] / (p[i] + p[j]))
               for i, j, s in comparisons)


def brute_force(comparisons, names):
    """Maximise the log-likelihood directly: a grid over log-strengths (first player fixed at
    0), then a shrinking pattern search; independent of the MM iteration."""
    free = names[1:]

    def ll(x):
        return loglik(comparisons, {names[0]: 1.0, **{n: math.exp(v) for n, v in zip(free, x)}})

    grid = [k / 4 for k in range(-16, 17)]
    best = max(itertools.product(grid, repeat=len(free)), key=ll)
    x, step = list(best), 0.25
    while step > 1e-9:
        moved = False
        for k in range(len(x)):
            for d in (step, -step):
                y = x[:]
                y[k] += d
                if ll(y) > ll(x):
                    x, moved = y, True
        if not moved:
            step /= 2
    p = {names[0]: 1.0, **{n: math.exp(v) for n, v in zip(free, x)}}
    g = math.exp(sum(math.log(v) for v in p.values()) / len(p))
    return {n: v / g for n, v in p.items()}


def test_two_models_three_wins_of_four_is_a_strength_ratio_of_three():
    p = L.fit(games("A", "B", 3, 1), prior=0)
    assert p["A"] / p["B"] == pytest.approx(3.0, rel=1e-9)
    assert p["A"] * p["B"] == pytest.approx(1.0)  # geometric mean 1
    assert L.score(p["A"]) - L.score(p["B"]) == pytest.approx(400 * math.log10(3))


def test_ties_count_as_half_a_win_each():
    # 2 wins, 0 losses, 2 ties: A scored 3 of 4, as in 3 wins of 4.
    p = L.fit(games("A", "B", 2, 0, ties=2), prior=0)
    assert p["A"] / p["B"] == pytest.approx(3.0, rel=1e-9)
    even = L.fit(games("A", "B", 0, 0, ties=5), prior=0)
    assert even["A"] == pytest.approx(even["B"])


def test_three_models_match_brute_force_likelihood_maximisation():
    comparisons = (games("A", "B", 5, 2, ties=1) + games("B", "C", 4, 3)
                   + games("A", "C", 6, 1, ties=2) + games("C", "A", 1, 0))
    mm = L.fit(comparisons, prior=0)
    ref = brute_force(comparisons, ["A", "B", "C"])
    for name in "ABC":
        assert mm[name] == pytest.approx(ref[name], rel=1e-5)
    assert mm["A"] > mm["B"] > mm["C"]
    # The MLE's gradient is zero: each model's expected score equals its actual score.
    for x in "ABC":
        actual = sum(s if i == x else 1 - s for i, j, s in comparisons if x in (i, j))
        expected = sum(mm[x] / (mm[x] + mm[j if i == x else i]) for i, j, s in comparisons if x in (i, j))
        assert expected == pytest.approx(actual, rel=1e-8)


def test_the_prior_matches_brute_force_with_a_virtual_reference():
    comparisons = games("A", "B", 3, 1) + games("B", "C", 2, 2)
    with_prior = L.fit(comparisons, prior=1.0)
    # The prior is one tie game of each model against a reference "R" of strength 1.
    virtual = comparisons + [(x, "R", 0.5) for x in "ABC"]
    ref = brute_force(virtual, ["R", "A", "B", "C"])
    ratio = {x: ref[x] / ref["A"] for x in "ABC"}
    for x in "ABC":
        assert with_prior[x] / with_prior["A"] == pytest.approx(ratio[x], rel=1e-5)


def test_a_model_with_all_wins_has_no_mle_and_stays_finite_with_the_prior():
    comparisons = games("A", "B", 4, 0) + games("B", "C", 2, 1)
    with pytest.raises(ValueError, match="do not exist"):
        L.fit(comparisons, prior=0)
    p = L.fit(comparisons)
    assert all(math.isfinite(v) and v > 0 for v in p.values())
    assert p["A"] > p["B"] > p["C"]
    # More wins, more strength, never infinite.
    more = L.fit(games("A", "B", 40, 0) + games("B", "C", 2, 1))
    assert p["A"] / p["B"] < more["A"] / more["B"] < 1e6


def test_models_that_never_met_need_the_prior():
    comparisons = games("A", "B", 2, 1) + games("C", "D", 2, 1)
    with pytest.raises(ValueError):
        L.fit(comparisons, prior=0)
    p = L.fit(comparisons)
    assert p["A"] == pytest.approx(p["C"]) and p["B"] == pytest.approx(p["D"])


def test_rate_counts_orders_and_bootstraps_deterministically():
    comparisons = games("A", "B", 6, 2, ties=2) + games("B", "C", 5, 3) + games("A", "C", 7, 1)
    rows = L.rate(comparisons, bootstrap=100, seed=3)
    assert [r["player"] for r in rows] == ["A", "B", "C"] and [r["rank"] for r in rows] == [1, 2, 3]
    a = rows[0]
    assert (a["votes"], a["wins"], a["losses"], a["ties"]) == (18, 13, 3, 2)
    for r in rows:
        assert r["ci_low"] <= r["score"] <= r["ci_high"]
        assert r["ci_high"] - r["ci_low"] > 10  # a real spread from 26 votes
    assert L.rate(comparisons, bootstrap=100, seed=3) == rows
    assert L.rate(comparisons, bootstrap=100, seed=4) != rows


def test_more_votes_give_a_narrower_interval():
    few = L.rate(games("A", "B", 3, 1), bootstrap=200)
    many = L.rate(games("A", "B", 30, 10), bootstrap=200)
    width = [r[0]["ci_high"] - r[0]["ci_low"] for r in (few, many)]
    assert width[1] < width[0] / 2


def test_bootstrap_resamples_a_ranking_as_one_group():
    # One ranking A > B > C gives three pairs of one group: every resample keeps or drops all
    # three together, so A is never below B.
    comparisons = [("A", "B", 1.0), ("A", "C", 1.0), ("B", "C", 1.0)]
    rows = L.rate(comparisons * 3, groups=["r1"] * 3 + ["r2"] * 3 + ["r3"] * 3, bootstrap=50)
    by = {r["player"]: r for r in rows}
    assert by["A"]["ci_low"] >= 1000 - 1e-6 and by["C"]["ci_high"] <= 1000 + 1e-6


def test_a_single_vote_has_no_interval():
    # One vote (here one ranking's three pairs) resamples to itself: no width, so no interval
    # rather than a zero-width one; a second vote brings it back.
    one = L.rate([("A", "B", 1.0), ("A", "C", 1.0), ("B", "C", 1.0)], groups=["r1"] * 3)
    assert [(r["ci_low"], r["ci_high"]) for r in one] == [(None, None)] * 3
    assert one[0]["player"] == "A" and one[0]["score"] > one[1]["score"] > one[2]["score"]
    assert all(r["ci_low"] is None for r in L.rate([("A", "B", 1.0)]))
    two = L.rate([("A", "B", 1.0), ("A", "B", 0.0)])
    assert all(r["ci_low"] is not None and r["ci_low"] <= r["score"] <= r["ci_high"] for r in two)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="itself"):
        L.fit([("A", "A", 1.0)])
    with pytest.raises(ValueError, match="score"):
        L.fit([("A", "B", 2.0)])
    assert L.fit([]) == {} and L.rate([]) == []
