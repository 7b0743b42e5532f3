"""PNG for supervisors: rolling 60-minute abandon rate and occupancy over the shift, per policy.
(The only module of pacing/ that writes a file; the policies never import it.)"""
from __future__ import annotations

import os


def compare_figure(results: dict, title: str = ""):
    """The matplotlib figure of plot_compare: policy -> its runs. The legend gives each policy's run
    abandon % and occupancy (the table's seed means, from summarize), so the plot reads on its own."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from pacing.simulate import summarize

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    top = 10.0
    for policy, runs in results.items():
        row = summarize(runs)
        label = f"{policy}: {row['abandon_%']:.1f} % abandoned, occupancy {row['occupancy']:.2f}"
        live = np.sum([r.minute_live for r in runs], axis=0).astype(float)
        ab = np.sum([r.minute_abandons for r in runs], axis=0).astype(float)
        occ = np.mean([r.minute_occupancy for r in runs], axis=0)
        k = np.ones(60)
        lv = np.convolve(live, k)[: len(live)]
        abr = np.convolve(ab, k)[: len(ab)]
        rate = np.divide(abr, lv, out=np.zeros_like(abr), where=lv > 0) * 100
        hours = np.arange(len(live)) / 60.0
        ax1.plot(hours, rate, label=label)
        if len(rate) > 60:
            top = max(top, float(np.max(rate[60:])) * 1.1)  # after the first hour
        c = np.concatenate([[0.0], np.cumsum(occ)])
        idx = np.arange(1, len(occ) + 1)
        occ10 = (c[idx] - c[np.maximum(idx - 10, 0)]) / np.minimum(idx, 10)  # trailing 10-minute mean
        ax2.plot(hours, occ10)  # same colours as above; the legend is ax1's
    ax1.axhline(3.0, color="red", linestyle="--", linewidth=1, label="3 % limit")
    ax1.set_ylabel("abandon rate, last 60 min (%)")
    # 0-5 % (where a compliant policy lives) linear and readable; the baselines' 20-40 % compressed above
    ax1.set_yscale("symlog", linthresh=5.0, linscale=2.0)
    ticks = (0, 1, 2, 3, 4, 5, 10, 20, 30, 50)
    top = next(t for t in ticks if t >= min(top, 50.0))
    ax1.set_ylim(0, top)
    ax1.set_yticks([t for t in ticks if t <= top])
    ax1.set_yticklabels([str(t) for t in ticks if t <= top])
    ax2.legend(*ax1.get_legend_handles_labels(), fontsize=8, ncol=2, loc="lower center")  # below 0.4: no data there
    ax1.set_title(title)
    ax2.set_ylabel("occupancy (10-min mean)")
    ax2.set_xlabel("hours into the shift")
    ax2.set_ylim(0, 1)
    ax1.grid(alpha=0.3)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_compare(results: dict, path: str, title: str = "") -> str:
    import matplotlib.pyplot as plt

    fig = compare_figure(results, title)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
