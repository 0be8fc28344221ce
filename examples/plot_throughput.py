"""Redraw the throughput plot from saved results (no measurement, no live objects).

    python examples/plot_throughput.py results/throughput   # -> .../throughput.png
    python examples/plot_throughput.py results/throughput --png t.png
    python examples/plot_throughput.py results/throughput --table    # also print the table

The JSON files are the ones ``njscc bench --out DIR`` writes (schema ``njscc.result/1``).
"""

from __future__ import annotations

import argparse

from njscc.experiments.throughput import format_table, load_suite, plot_throughput


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", help="folder with the throughput JSON files")
    ap.add_argument("--png", default=None, help="output PNG (default FOLDER/throughput.png)")
    ap.add_argument("--table", action="store_true", help="print the text table too")
    args = ap.parse_args()
    if args.table:
        print(format_table(load_suite(args.folder)))
    print(plot_throughput(args.folder, args.png))


if __name__ == "__main__":
    main()
