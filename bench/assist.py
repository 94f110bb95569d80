"""Measure the mapping-suggestion scorer on the labelled field pairs, with and without each layer.

    uv run python bench/assist.py           # the table
    uv run python bench/assist.py --misses  # and the pairs each run gets wrong

precision@1: of the fields given a pick, how many picks are right; recall@3: of the fields that
have a right target, how many find it among the top three; negatives refused: fields with no right
target (read-only or calculated look-alikes) given no pick.
"""

import argparse
import time

from freshforce.assist.labelled import load_pairs, measure
from freshforce.assist.scoring import Layers

RUNS = {
    "all layers": Layers(),
    "without names": Layers(names=False),
    "without type gates": Layers(types=False),
    "without value profiles": Layers(values=False),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="list the pairs each run misses")
    args = parser.parse_args()
    pairs = load_pairs()
    positives = sum(1 for p in pairs if p.expect)
    print(
        f"{len(pairs)} labelled fields: {positives} with a right target, "
        f"{len(pairs) - positives} without"
    )
    print(
        f"{'run':<24}{'precision@1':>12}{'recall@3':>10}{'picks':>7}"
        f"{'negatives refused':>19}{'ms':>7}"
    )
    for name, layers in RUNS.items():
        start = time.perf_counter()
        m = measure(layers)
        ms = (time.perf_counter() - start) * 1000
        refused = f"{m.refused}/{m.negatives}"
        print(
            f"{name:<24}{m.precision_at_1:>12.3f}{m.recall_at_3:>10.3f}{m.proposed:>7}"
            f"{refused:>19}{ms:>7.0f}"
        )
        if args.misses:
            for miss in m.misses:
                print(f"    {miss}")


if __name__ == "__main__":
    main()
