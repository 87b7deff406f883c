#!/usr/bin/env python3
"""Which checkpoint keep-best should keep, judged on the curves `bt-bench --curves` records.

Every held-out evaluation of a window's training run is in results.json: the iteration, the window's held-out slice
score (accuracy, loss, per-image hits) and the same model's accuracy on the domain's held-out set, which no window
sees. For each rule this replays keep-best over a run's evaluations (the first: before training, where the run
started fresh) and reports the held-out-set accuracy of what it would deploy: the kept checkpoint when it scores
above the model before training on the slice, else that model. Exact only for runs whose every evaluation is
recorded (a run that went on from the race's runs starts mid-way: `partial`).

Usage: scripts/keep_best_curves.py DIR/results.json [--method last-k]
"""
import argparse
import json
import math
import sys


def above(a, b):
    """ScoresAbove: higher accuracy, at equal accuracy the lower loss."""
    if a["slice_accuracy"] != b["slice_accuracy"]:
        return a["slice_accuracy"] > b["slice_accuracy"]
    return a["slice_loss"] < b["slice_loss"]


def paired_se(a, b):
    ha, hb = a["slice_hits"], b["slice_hits"]
    n = len(ha)
    if n < 2 or len(hb) != n:
        return 0.0
    d = [int(x) - int(y) for x, y in zip(ha, hb)]
    s, ss = sum(d), sum(x * x for x in d)
    var = max(0.0, (ss - s * s / n) / (n - 1))
    return math.sqrt(var / n)


def highest(curve):
    kept = curve[0]
    for e in curve[1:]:
        if above(e, kept):
            kept = e
    return kept


def latest_within(curve):
    start, best, kept = curve[0], curve[0], curve[0]
    for e in curve[1:]:
        if above(e, best):
            best = kept = e
        elif above(e, start) and 0 < paired_se(e, best) and best["slice_accuracy"] - e["slice_accuracy"] <= paired_se(e, best):
            kept = e
    return kept


def earliest_within(curve):
    """Offline (needs the whole run): the earliest checkpoint within one standard error of the highest."""
    best = highest(curve)
    for e in curve:
        if e is best:
            return e
        se = paired_se(e, best)
        if above(e, curve[0]) and se > 0 and best["slice_accuracy"] - e["slice_accuracy"] <= se:
            return e
    return best


def clearly_above(curve):
    """Online: a checkpoint replaces the kept one only when it scores above it by more than one paired error."""
    kept = curve[0]
    for e in curve[1:]:
        se = paired_se(e, kept)
        if above(e, kept) and (se == 0 or e["slice_accuracy"] - kept["slice_accuracy"] > se):
            kept = e
    return kept


def final(curve):
    return curve[-1]


RULES = [("highest", highest), ("latest within 1 SE", latest_within), ("earliest within 1 SE", earliest_within),
         ("clearly above (1 SE)", clearly_above), ("final", final)]


def deployed(curve, kept):
    start = curve[0]
    return kept if kept is not start and above(kept, start) else start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results")
    parser.add_argument("--method", action="append", help="only these methods (default: every one with curves)")
    args = parser.parse_args()
    with open(args.results) as f:
        results = json.load(f)
    print("| method | window | domain | evaluations | slice size | " + " | ".join(n for n, _ in RULES) +
          " | best on the set |")
    print("| --- " * (6 + len(RULES)) + "|")
    totals = {}
    for m in results["methods"]:
        if args.method and m["name"] not in args.method:
            continue
        for w, win in enumerate(m["windows"], 1):
            curve = win.get("curve", [])
            if len(curve) < 2:
                continue
            fresh = curve[0]["iteration"] == 0
            row = []
            for name, rule in RULES:
                got = deployed(curve, rule(curve)) if fresh else rule(curve)
                row.append(got["set_accuracy"])
                key = (m["name"], fresh)
                totals.setdefault(key, {}).setdefault(name, []).append(got["set_accuracy"])
            best = max(e["set_accuracy"] for e in curve)
            totals.setdefault((m["name"], fresh), {}).setdefault("best", []).append(best)
            print(f"| {m['name']} | {w} | {win['domain']} | {len(curve)}{'' if fresh else ' (partial)'} | "
                  f"{len(curve[0]['slice_hits'])} | " + " | ".join(f"{100 * a:.1f}" for a in row) +
                  f" | {100 * best:.1f} |")
    print()
    for (name, fresh), by_rule in totals.items():
        n = len(by_rule["best"])
        means = ", ".join(f"{r} {100 * sum(v) / n:.2f}%" for r, v in by_rule.items())
        print(f"{name}{'' if fresh else ' (partial runs)'}, {n} windows, mean held-out-set accuracy: {means}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
