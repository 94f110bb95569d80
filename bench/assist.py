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
from freshforce.assist.semantic import load_embedder

# Each run twice: with the semantic layer (the ai extra) and without it.
RUNS = {
    "all layers": Layers(),
    "without names": Layers(names=False),
    "without type gates": Layers(types=False),
    "without value profiles": Layers(values=False),
    "semantic only": Layers(names=False, types=False, values=False),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="list the pairs each run misses")
    args = parser.parse_args()
    pairs = load_pairs()
    start = time.perf_counter()
    embedder = load_embedder()
    loaded = (time.perf_counter() - start) * 1000
    if embedder is None:
        print("the ai extra is not installed: every run is without the semantic layer")
    else:
        print(f"semantic layer: all-MiniLM-L6-v2 int8 ONNX, loaded and checked in {loaded:.0f} ms")
    positives = sum(1 for p in pairs if p.expect)
    print(
        f"{len(pairs)} labelled fields: {positives} with a right target, "
        f"{len(pairs) - positives} without"
    )
    print(
        f"{'run':<36}{'precision@1':>12}{'recall@3':>10}{'picks':>7}"
        f"{'negatives refused':>19}{'ms':>7}"
    )
    runs = [
        (f"{name}{suffix}", layers, given)
        for name, layers in RUNS.items()
        for suffix, given in ((", semantic", embedder), (", no semantic", None))
        if given is not None or suffix == ", no semantic"
    ]
    for name, layers, given in runs:
        start = time.perf_counter()
        m = measure(layers, given)
        ms = (time.perf_counter() - start) * 1000
        refused = f"{m.refused}/{m.negatives}"
        print(
            f"{name:<36}{m.precision_at_1:>12.3f}{m.recall_at_3:>10.3f}{m.proposed:>7}"
            f"{refused:>19}{ms:>7.0f}"
        )
        if args.misses:
            for miss in m.misses:
                print(f"    {miss}")


if __name__ == "__main__":
    main()
