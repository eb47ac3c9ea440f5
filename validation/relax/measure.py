"""L1 of `fpstt solve --config relax.toml` against exp(-E/k_BT) (issue 23)."""
import sys, time
import fpstt
from fpstt.cli.commands import main
from fpstt.runs.config import load_config
from fpstt.physics.initial import BoltzmannState
from fpstt.analysis.observables import l1_distance

cfg = sys.argv[1] if len(sys.argv) > 1 else "validation/relax/relax.toml"
out = "/tmp/relax_out.npz"
t0 = time.perf_counter()
rc = main(["solve", "--config", cfg, "--out", out, "--quiet", "--no-error-estimate"])
wall = time.perf_counter() - t0
sol = fpstt.load(out)
micro = load_config(cfg).micro
exact = BoltzmannState.from_microscopic(micro).cell_averages(sol.grid)
for t, p in zip(sol.times, sol.p):
    print(f"t = {t:g}: L1 = {l1_distance(sol.grid, p, exact):.3e}")
d = sol.diagnostics
print("grid", sol.grid.shape, "steps", d["n_steps"], "dt", d["dt"], "scheme", d["scheme"],
      "solver", round(d["wall_time_s"], 2), "wall", round(wall, 2))
