"""Figures of the paper: Fig. 3 (mean trajectory), Fig. 4 (density contours), Fig. 5 (mean ± std).

Every function takes ``ax``/``axes=None``, returns what it drew and never calls ``plt.show()``.
Densities are (theta, phi) densities (they carry sin theta, Eq. 16), plotted in radians.
"""

from __future__ import annotations

import numpy as np

from ..sphere.grid import SphereGrid

__all__ = ["plot_density", "plot_fig4", "plot_fig5", "plot_components", "plot_sweep", "plot_wer",
           "mass_window", "add_note"]

COMPONENTS = ("$n_x$", "$n_y$", "$n_z$")
UNITS = {"n_e": "electrons per $t_n$", "T": "K", "B": "T", "B_theta": "rad", "B_phi": "rad",
         "lam": "J m", "lambda0": "J m", "k_F": "1/m", "t_n": "s", "current_A": "A",
         "B_k": "T", "alpha": "Gilbert", "easy_theta": "rad", "easy_phi": "rad",
         "B_d": "T", "hard_theta": "rad", "hard_phi": "rad", "field_like_ratio": "",
         "width": "$t_n$", "rise": "$t_n$", "fall": "$t_n$"}


def mass_window(grid: SphereGrid, p, fraction: float = 0.9995, pad: float = 0.25):
    """(theta_lo, theta_hi, phi_lo, phi_hi) holding ``fraction`` of the mass, padded.

    phi limits are centred on the densest phi cell and may exceed [0, 2 pi) (periodic).
    """
    th_marg = p.sum(axis=1) * grid.dphi * grid.dtheta
    cum = np.cumsum(th_marg) / th_marg.sum()
    lo = grid.theta_edges[np.searchsorted(cum, (1 - fraction) / 2)]
    hi = grid.theta_edges[min(np.searchsorted(cum, 1 - (1 - fraction) / 2) + 1, grid.n_theta)]
    ph_marg = (p * grid.dtheta[:, None]).sum(axis=0)
    centre = grid.phi[np.argmax(ph_marg)]
    rel = (grid.phi - centre + np.pi) % (2 * np.pi) - np.pi
    order = np.argsort(rel)
    cum = np.cumsum(ph_marg[order]) / ph_marg.sum()
    f_lo = rel[order][np.searchsorted(cum, (1 - fraction) / 2)] - grid.dphi
    f_hi = rel[order][min(np.searchsorted(cum, 1 - (1 - fraction) / 2), grid.n_phi - 1)] + grid.dphi
    dt, df = hi - lo, f_hi - f_lo
    phi_lo, phi_hi = centre + f_lo - pad * df, centre + f_hi + pad * df
    if phi_hi - phi_lo >= 1.5 * np.pi:            # a broad state: show the whole circle once
        phi_lo, phi_hi = 0.0, 2 * np.pi
    return max(0.0, lo - pad * dt), min(np.pi, hi + pad * dt), phi_lo, phi_hi


def _unwrapped(grid, p, phi_lo, phi_hi):
    """phi centres and columns of p covering [phi_lo, phi_hi] (periodic copies)."""
    reps = np.arange(int(np.floor(phi_lo / (2 * np.pi))) - 1, int(np.ceil(phi_hi / (2 * np.pi))) + 1)
    phi = np.concatenate([grid.phi + 2 * np.pi * k for k in reps])
    cols = np.concatenate([p] * reps.size, axis=1)
    keep = (phi >= phi_lo - grid.dphi) & (phi <= phi_hi + grid.dphi)
    return phi[keep], cols[:, keep]


def plot_density(grid: SphereGrid, p, *, reference=None, ax=None, window=None, levels=12,
                 title=None):
    """Filled contours of a (theta, phi) density and, optionally, line contours of a
    reference on the same levels (every other one), so that identical densities look
    identical.  Round-off below zero is drawn as zero; phi ticks are wrapped to [0, 2 pi).

    Returns (filled contour set, line contour set or None).
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter
    ax = plt.gca() if ax is None else ax
    th_lo, th_hi, ph_lo, ph_hi = mass_window(grid, p) if window is None else window
    rows = (grid.theta >= th_lo - grid.dtheta) & (grid.theta <= th_hi + grid.dtheta)
    phi, cols = _unwrapped(grid, np.clip(p[rows], 0, None), ph_lo, ph_hi)
    ref = None
    if reference is not None:
        _, ref = _unwrapped(grid, np.clip(reference[rows], 0, None), ph_lo, ph_hi)
    top = max(float(cols.max()), 0.0 if ref is None else float(ref.max()))
    lev = np.linspace(0, top, levels + 1) if top > 0 else levels
    filled = ax.contourf(phi, grid.theta[rows], cols, levels=lev, cmap="viridis")
    lines = None
    if ref is not None and top > 0:
        lines = ax.contour(phi, grid.theta[rows], ref, levels=lev[2::2], colors="white",
                           linewidths=0.8)
    ax.set_xlim(ph_lo, ph_hi)
    ax.set_ylim(th_lo, th_hi)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x % (2 * np.pi):.2f}"))
    sub = "_c" if grid.chart is not None else ""          # chart coordinates, say so
    ax.set_xlabel(rf"$\phi{sub}$ (rad, mod $2\pi$)")
    ax.set_ylabel(rf"$\theta{sub}$ (rad)")
    if title:
        ax.set_title(title)
    return filled, lines


def plot_fig4(solution, references=None, axes=None, note=None):
    """Fig. 4: p(theta, phi) at each output time of ``solution`` (filled, FP with noise) and
    the Jacobian pushforward of Eq. (16) (white lines, every other filled level), with an
    optional footnote ``note`` (e.g. the model).  Returns the figure."""
    from matplotlib.ticker import MaxNLocator
    import matplotlib.pyplot as plt
    n = len(solution.times)
    if axes is None:
        ncol = 2 if n > 1 else 1
        fig, axes = plt.subplots((n + 1) // 2 if n > 1 else 1, ncol, figsize=(10, 4.2 * ((n + 1) // 2)),
                                 squeeze=False, constrained_layout=True)
        axes = axes.ravel()
    fig = axes[0].figure
    for k, ax in enumerate(axes):
        if k >= n:
            ax.set_visible(False)
            continue
        ref = None if references is None else references[k]
        filled, _ = plot_density(solution.grid, solution.p[k], reference=ref, ax=ax,
                                 title=f"t = {solution.times[k]:.3g} $t_n$")
        bar = fig.colorbar(filled, ax=ax, label=r"$p(\theta,\phi)$ (rad$^{-2}$)")
        bar.locator = MaxNLocator(6)
        bar.update_ticks()
    fig.suptitle("Fokker-Planck density with noise (filled) and noiseless pushforward, "
                 "Eq. 16 (white lines, on the same levels)" if references is not None
                 else "Fokker-Planck density")
    if note:
        add_note(fig, note)
    return fig


def add_note(fig, note: str) -> None:
    """Add a line (e.g. the model shown) under the figure's title, or as its title."""
    title = fig._suptitle
    if title is None:
        fig.suptitle(note, fontsize=9)
    elif note not in title.get_text():
        title.set_text(f"{title.get_text()}\n{note}")


def plot_components(times, curves, *, axes=None, title=None):
    """Components of n = J/J against t (Figs. 3 and 5).

    ``curves`` maps a label to (mean, std or None), arrays of shape (n_times, 3); std is
    drawn as a ± band.  Returns the figure.
    """
    import matplotlib.pyplot as plt
    if axes is None:
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), constrained_layout=True)
    fig = axes[0].figure
    styles = ["-", "--", ":", "-."]
    for c, ax in enumerate(axes):
        for s, (label, (mean, std)) in enumerate(curves.items()):
            t = np.asarray(times if not isinstance(times, dict) else times[label])
            line, = ax.plot(t, mean[:, c], styles[s % 4], label=label)
            if std is not None:
                ax.fill_between(t, mean[:, c] - std[:, c], mean[:, c] + std[:, c],
                                color=line.get_color(), alpha=0.2)
        ax.set_xlabel(r"$t$ ($t_n$)")
        ax.set_ylabel(COMPONENTS[c])
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def plot_fig5(times, fp, mc, *, noiseless_std=None, n_samples=None):
    """Fig. 5 in three rows: the mean of each component of n = J/J (FP line, MC dashed, each
    with its ± std band: the bands overlap where the two agree); the standard deviation (FP,
    MC and, if given, the noiseless pushforward's, which shows where the noise matters); and
    the residual (FP - MC) / MC standard error with the ±4 band.

    ``fp`` is (mean, std), ``mc`` a :class:`~fpstt.runs.montecarlo.MonteCarloResult`.  Returns the
    figure.
    """
    import matplotlib.pyplot as plt
    (mean, std), t = fp, np.asarray(times)
    fig, axes = plt.subplots(3, 3, figsize=(13, 9), sharex=True, constrained_layout=True)
    label = "Monte Carlo" + (f", N = {n_samples:g}" if n_samples else "")
    for c in range(3):
        top, mid, low = axes[:, c]
        line, = top.plot(t, mean[:, c], "-", label="Fokker-Planck (band ± std)")
        top.fill_between(t, mean[:, c] - std[:, c], mean[:, c] + std[:, c],
                         color=line.get_color(), alpha=0.2)
        dash, = top.plot(t, mc.mean[:, c], "--", label=label + " (band ± std; overlap: brown)")
        top.fill_between(t, mc.mean[:, c] - mc.std[:, c], mc.mean[:, c] + mc.std[:, c],
                         color=dash.get_color(), alpha=0.2)
        mid.plot(t, std[:, c], "-", label="Fokker-Planck")
        mid.plot(t, mc.std[:, c], "--", label=label)
        if noiseless_std is not None:
            mid.plot(t, noiseless_std[:, c], ":", color="k", label="noiseless (Eq. 16)")
        z = (mean[:, c] - mc.mean[:, c]) / np.maximum(mc.stderr[:, c], 1e-300)
        low.plot(t, z, "o-", ms=3)
        low.axhspan(-4, 4, color="0.9")
        low.axhline(0, color="0.5", lw=0.8)
        top.set_ylabel(f"mean {COMPONENTS[c]}")
        mid.set_ylabel(f"std {COMPONENTS[c]}")
        low.set_ylabel("(FP - MC) / s.e.")
        low.set_xlabel(r"$t$ ($t_n$)")
        for ax in (top, mid, low):
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    axes[1, 0].legend(fontsize=7)
    fig.suptitle(r"Fig. 5: mean, standard deviation and residual of $\vec J/J$ with noise")
    return fig


def plot_sweep(rows, parameters, times, *, axes=None):
    """P_sw (linear axis) and WER (log axis) at the last requested time against the first
    swept parameter, one curve per value of the second; colour maps (log10 WER) when both
    have three or more values.  Returns the figure."""
    import matplotlib.pyplot as plt
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    ok = [r for r in rows if r["status"] == "ok"]
    t_end = f"{float(times[-1]):g}"
    for ax, name in zip(axes, ("P_sw", "WER")):
        table = {_point(r, parameters): float(r.get(f"{name}(t={t_end})") or "nan") for r in ok}
        _draw_sweep(ax, table, parameters, name, t_end)
    return axes[0].figure


def _point(row, parameters):
    return tuple(float(row[p]) for p in parameters[:2]) + (None,) * (2 - len(parameters[:2]))


def _draw_sweep(ax, table, parameters, name, t_end):
    """One panel of :func:`plot_sweep`: ``table`` maps (x, group) to P_sw or WER."""
    x_name, group = parameters[0], (parameters[1] if len(parameters) > 1 else None)
    xs = sorted({x for x, _ in table})
    gs = sorted({g for _, g in table}) if group else [None]
    label = f"${name.replace('_sw', '_{sw}')}$ at t = {t_end} $t_n$"
    log = name == "WER"
    if group and len(xs) >= 3 and len(gs) >= 3:
        z = np.array([[table.get((x, g), np.nan) for x in xs] for g in gs])
        if log:
            z = np.log10(np.where(z > 0, z, np.nan))
        mesh = ax.pcolormesh(xs, gs, z, shading="nearest", cmap="viridis",
                             **({} if log else dict(vmin=0, vmax=1)))
        ax.figure.colorbar(mesh, ax=ax, label=("log10 " if log else "") + label)
        ax.set_ylabel(f"{group} ({UNITS.get(group, '')})")
    else:
        for g in gs:
            ax.plot(xs, [table.get((x, g), np.nan) for x in xs], "o-",
                    label=f"{group} = {g:g} {UNITS.get(group, '')}" if group else None)
        ax.set_ylabel(label)
        if log:
            ax.set_yscale("log")
        else:
            ax.set_ylim(-0.02, 1.02)
        if group:
            ax.legend(fontsize=8)
    ax.set_xlabel(f"{x_name} ({UNITS.get(x_name, '')})")
    ax.grid(alpha=0.3, which="both")


def plot_wer(curve, axes=None):
    """Write-error rate on a log axis and the switching-time density.

    ``curve`` is a :class:`~fpstt.runs.wer.SwitchingCurve` (the solver's step lattice; values
    below its floor are not drawn, the floor is) or a Monte Carlo result dict of
    ``fpstt switching --method montecarlo`` (points with standard errors).  Returns the
    figure.
    """
    import matplotlib.pyplot as plt
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    log_ax, density_ax = axes
    if isinstance(curve, dict):
        t, wer, se = map(np.asarray, (curve["times"], curve["wer"], curve["stderr"]))
        shown = wer > 0
        log_ax.errorbar(t[shown], wer[shown], yerr=se[shown], fmt="o", ms=3,
                        label="Monte Carlo ± s.e.")
        log_ax.axhline(curve["wer_floor"], ls=":", c="gray", label="1 / N")
        density_ax.stairs(-np.diff(wer) / np.diff(t), t, label="Monte Carlo, between the "
                          "printed times")
        density_ax.legend(fontsize=8)
        span = (float(t[0]), float(t[-1]))
    else:
        shown = curve.wer >= curve.floor
        log_ax.semilogy(curve.t[shown], curve.wer[shown], label="Fokker-Planck")
        log_ax.axhline(curve.floor, ls=":", c="gray", label="floor")
        mid, density = curve.first_passage_density()
        density_ax.plot(mid, density)
        span = (float(curve.t[0]), float(curve.t[-1]))
    density_ax.set_xlabel("t ($t_n$)")
    density_ax.set_ylabel(r"switching-time density $-dWER/dt$ (per $t_n$)")
    density_ax.grid(alpha=0.3)
    for ax in axes:                                 # the whole run, also where WER is 0
        ax.set_xlim(*span)
    log_ax.set_yscale("log")
    log_ax.set_xlabel("t ($t_n$)")
    log_ax.set_ylabel(r"WER = Prob($n\cdot z' \leq$ threshold)")
    log_ax.grid(alpha=0.3, which="both")
    log_ax.legend(fontsize=8)
    log_ax.figure.suptitle("write-error rate and switching time")
    return log_ax.figure
