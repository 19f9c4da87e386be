#!/usr/bin/python3
"""Reference values for the drift statistics, computed with Debian's python3-scipy.

Run with Debian's interpreter (the one that has scipy):
    /usr/bin/python3 tools/drift-fixtures/generate.py
Writes JSON into tests/Pipeline.Drift.Tests/Fixtures/. Deterministic (fixed seeds).

Definitions (docs/drift.md):
  ks            scipy.stats.ks_2samp(ref, cur)  (method='auto', two-sided)
  wasserstein   scipy.stats.wasserstein_distance(ref, cur)
  edges         np.unique(np.quantile(ref, [k/10 for k in 1..9]))   (method='linear')
  bins          right-closed: index = np.searchsorted(edges, x, side='left')
  psi           sum((c - r) * ln(c / r)), r, c = bin proportions floored at 1e-4
  jensen_shannon scipy.spatial.distance.jensenshannon(ref_props, cur_props, base=2)
                on the raw (unfloored) bin proportions
  chi2          scipy.stats.chi2_contingency([ref_counts, cur_counts]) over the union of
                categories (Yates correction only when dof == 1, scipy's default)
"""
import json
import os
import sys

import numpy as np
import scipy
from scipy import stats
from scipy.spatial import distance

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                   "tests", "Pipeline.Drift.Tests", "Fixtures")
FLOOR = 1e-4


def edges_of(ref):
    q = np.quantile(ref, [k / 10.0 for k in range(1, 10)])
    return np.unique(q)


def props(edges, x):
    idx = np.searchsorted(edges, x, side="left")
    counts = np.bincount(idx, minlength=len(edges) + 1).astype(np.float64)
    return counts / counts.sum()


def psi(r, c):
    r = np.maximum(r, FLOOR)
    c = np.maximum(c, FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def numeric_case(name, ref, cur):
    ref = np.asarray(ref, dtype=np.float64)
    cur = np.asarray(cur, dtype=np.float64)
    ks = stats.ks_2samp(ref, cur)
    e = edges_of(ref)
    rp, cp = props(e, ref), props(e, cur)
    return {
        "name": name,
        "reference": ref.tolist(),
        "current": cur.tolist(),
        "ks_statistic": float(ks.statistic),
        "ks_p_value": float(ks.pvalue),
        "wasserstein": float(stats.wasserstein_distance(ref, cur)),
        "edges": e.tolist(),
        "reference_proportions": rp.tolist(),
        "current_proportions": cp.tolist(),
        "psi": psi(rp, cp),
        "jensen_shannon": float(distance.jensenshannon(rp, cp, base=2)),
    }


def numeric_cases():
    rng = np.random.default_rng(20261122)
    r6 = lambda x: np.round(x, 6)
    cases = [
        numeric_case("tiny_5_vs_4", r6(rng.normal(0, 1, 5)), r6(rng.normal(0.5, 1, 4))),
        numeric_case("tiny_separated_6_vs_6", [1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]),
        numeric_case("identical_samples", [1.5, 2.5, 2.5, 3.0, 4.0], [1.5, 2.5, 2.5, 3.0, 4.0]),
        numeric_case("ties_integers_40_vs_55", rng.integers(0, 5, 40), rng.integers(0, 6, 55)),
        numeric_case("ties_heavy_300_vs_200", rng.integers(0, 3, 300), rng.integers(1, 4, 200)),
        numeric_case("constant_reference", np.full(50, 2.0), r6(rng.normal(2, 1, 60))),
        numeric_case("equal_sizes_100", r6(rng.normal(0, 1, 100)), r6(rng.normal(0.3, 1, 100))),
        numeric_case("equal_sizes_1000_null", r6(rng.normal(0, 1, 1000)), r6(rng.normal(0, 1, 1000))),
        numeric_case("different_sizes_50_vs_73", r6(rng.exponential(1, 50)), r6(rng.exponential(1.3, 73))),
        numeric_case("exact_3000_vs_5000", r6(rng.normal(0, 1, 3000)), r6(rng.normal(0.05, 1, 5000))),
        numeric_case("exact_boundary_10000_vs_7000", r6(rng.normal(0, 1, 10000)), r6(rng.normal(0, 1.03, 7000))),
        numeric_case("asymp_12000_vs_300", r6(rng.normal(0, 1, 12000)), r6(rng.normal(0.1, 1, 300))),
        numeric_case("asymp_15000_vs_11000", r6(rng.lognormal(0, 1, 15000)), r6(rng.lognormal(0.02, 1, 11000))),
        numeric_case("asymp_small_n_20000_vs_7", r6(rng.normal(0, 1, 20000)), r6(rng.normal(0.5, 1, 7))),
        numeric_case("negative_and_zero", r6(np.concatenate([rng.normal(-3, 1, 80), np.zeros(20)])),
                     r6(np.concatenate([rng.normal(-2.5, 1, 70), np.zeros(40)]))),
    ]
    # Many small random pairs exercise the exact two-sample distribution (n1 != n2 and n1 == n2).
    for k in range(40):
        n1 = int(rng.integers(1, 60))
        n2 = n1 if k % 4 == 0 else int(rng.integers(1, 60))
        a = rng.integers(0, 12, n1) if k % 3 == 0 else r6(rng.normal(0, 1, n1))
        b = rng.integers(0, 12, n2) if k % 3 == 0 else r6(rng.normal(rng.uniform(-1, 1), 1, n2))
        cases.append(numeric_case(f"random_small_{k}_{n1}_vs_{n2}", a, b))
    return cases


def kstwo_cases():
    out = []
    for n in [1, 2, 3, 5, 10, 37, 100, 140, 141, 300, 500, 501, 1000, 5000, 90909, 1000000]:
        for z in [0.05, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.36, 1.6, 2.0, 3.0]:
            d = z / np.sqrt(n)
            if d >= 1.0:
                continue
            out.append({"n": n, "d": float(d), "sf": float(stats.kstwo.sf(d, n))})
        for d in [0.3, 0.55, 0.9]:
            out.append({"n": n, "d": d, "sf": float(stats.kstwo.sf(d, n))})
    return out


def categorical_case(name, ref_counts, cur_counts):
    ref_counts = np.asarray(ref_counts, dtype=np.int64)
    cur_counts = np.asarray(cur_counts, dtype=np.int64)
    keep = (ref_counts + cur_counts) > 0
    table = np.vstack([ref_counts[keep], cur_counts[keep]])
    if table.shape[1] >= 2:
        res = stats.chi2_contingency(table)
        chi2, p, dof = float(res[0]), float(res[1]), int(res[2])
    else:
        chi2, p, dof = 0.0, 1.0, 0
    rp = ref_counts / ref_counts.sum()
    cp = cur_counts / cur_counts.sum()
    return {
        "name": name,
        "reference_counts": ref_counts.tolist(),
        "current_counts": cur_counts.tolist(),
        "chi2_statistic": chi2,
        "chi2_p_value": p,
        "chi2_dof": dof,
        "psi": psi(rp, cp),
        "jensen_shannon": float(distance.jensenshannon(rp, cp, base=2)),
    }


def categorical_cases():
    rng = np.random.default_rng(7)
    cases = [
        categorical_case("two_by_two_yates", [30, 20], [18, 32]),
        categorical_case("two_by_two_small_diff", [50, 50], [50, 51]),
        categorical_case("two_by_two_identical", [40, 60], [40, 60]),
        categorical_case("three_categories", [100, 200, 300], [120, 180, 320]),
        categorical_case("unseen_category_in_current", [500, 300, 200, 0], [450, 310, 190, 50]),
        categorical_case("category_missing_in_current", [100, 100, 5], [90, 110, 0]),
        categorical_case("single_category", [10], [25]),
        categorical_case("large_counts", [100000, 250000, 400000, 250000], [101000, 248000, 405000, 246000]),
    ]
    for k in range(10):
        kcat = int(rng.integers(2, 9))
        a = rng.integers(0, 40, kcat)
        b = rng.integers(0, 40, kcat)
        a[0] += 1
        b[0] += 1
        cases.append(categorical_case(f"random_{k}_{kcat}", a, b))
    return cases


def main():
    os.makedirs(OUT, exist_ok=True)
    meta = {"scipy": scipy.__version__, "numpy": np.__version__, "python": sys.version.split()[0]}
    for name, payload in [("numeric.json", numeric_cases()),
                          ("kstwo.json", kstwo_cases()),
                          ("categorical.json", categorical_cases())]:
        with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
            json.dump({"generator": "tools/drift-fixtures/generate.py", "versions": meta, "cases": payload},
                      f, separators=(",", ":"))
        print(f"wrote {name}: {len(payload)} cases")


if __name__ == "__main__":
    main()
