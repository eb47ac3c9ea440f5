"""Cost of the field-on Table I problem (Eq. 11 with gamma B x J kept on) relative to the
field-off default, measured side by side in one run (medians of 3), with peak memory of each
solve measured in a child process.  Writes validation/results/bench_field_on.json.

    python validation/bench_field_on.py
"""

import json
import statistics
import subprocess
import sys
import time

import fpstt

TIMES = [0, 1 / 3, 2 / 3, 1]
CHILD = """
import resource, sys, fpstt
micro = fpstt.table_i()
model = fpstt.SpinTorqueModel.from_microscopic(micro, field_on=sys.argv[1] == 'on')
gibbs = fpstt.GibbsState.from_microscopic(micro)
grid = fpstt.default_grid(model, [0, 1/3, 2/3, 1], initial=gibbs)
fpstt.solve(model, grid, gibbs.cell_averages(grid), [0, 1/3, 2/3, 1])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def solve_time(field_on: bool) -> tuple[float, tuple]:
    micro = fpstt.table_i()
    model = fpstt.SpinTorqueModel.from_microscopic(micro, field_on=field_on)
    gibbs = fpstt.GibbsState.from_microscopic(micro)
    grid = fpstt.default_grid(model, TIMES, initial=gibbs)
    p0 = gibbs.cell_averages(grid)
    start = time.perf_counter()
    fpstt.solve(model, grid, p0, TIMES)
    return time.perf_counter() - start, grid.shape


def main():
    rows = {"off": [], "on": []}
    # children first: a child forked from a grown parent reports the parent's pages
    peak = {key: int(subprocess.run([sys.executable, "-c", CHILD, key], capture_output=True,
                                    text=True, check=True).stdout.split()[-1]) / 1024
            for key in rows}
    for _ in range(3):                     # interleaved: both see the same machine load
        for key in rows:
            seconds, _ = solve_time(key == "on")
            rows[key].append(seconds)
    result = {key: dict(median_s=statistics.median(v), runs_s=v, peak_rss_mb=peak[key])
              for key, v in rows.items()}
    result["ratio_on_over_off"] = result["on"]["median_s"] / result["off"]["median_s"]
    print(json.dumps(result, indent=1))
    with open("validation/results/bench_field_on.json", "w") as fh:
        json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
