"""PNG figures of an evaluation report: ROC curves and attention hit rates per task.

matplotlib draws off-screen (Agg); the figures have a fixed size in pixels
(`FIGURE_INCHES` at `DPI`, one panel per task) so that a reader, a page or a
test knows what to expect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_curve

from service.domain import PLANES

DPI: Final = 100
PANEL_INCHES: Final = (4.0, 4.0)  # width, height of one task's panel
HIT_KINDS: Final = (*PLANES, "fused", "leading_plane")


def figure_pixels(panels: int) -> tuple[int, int]:
    """(width, height) in pixels of a figure with `panels` task panels side by side."""
    return round(PANEL_INCHES[0] * panels * DPI), round(PANEL_INCHES[1] * DPI)


def _figure(panels: int) -> tuple[Any, list[Any]]:
    width, height = PANEL_INCHES[0] * panels, PANEL_INCHES[1]
    figure, axes = plt.subplots(1, panels, figsize=(width, height), dpi=DPI, squeeze=False)
    return figure, list(axes[0])


def _save(figure: Any, path: Path) -> Path:
    # No bbox "tight": the size stays what figure_pixels says.
    figure.tight_layout()
    figure.savefig(path, dpi=DPI, format="png")
    plt.close(figure)
    return path


def plot_roc(report: dict[str, Any], path: Path) -> Path:
    """ROC curves per task: fused probability and each plane's logit, AUC in the legend."""
    tasks = report["tasks"]
    figure, axes = _figure(len(tasks))
    for axis, (task, metrics) in zip(axes, tasks.items(), strict=True):
        rows = report["scores"][task]
        labels = np.array([row["label"] for row in rows])
        series = [("fused", "probability", metrics["auc"])] + [
            (plane, f"{plane}_logit", metrics["planes"][plane]["auc"]) for plane in PLANES
        ]
        for name, key, auc in series:
            if auc is None:
                continue
            fpr, tpr, _ = roc_curve(labels, np.array([row[key] for row in rows]))
            width = 2.2 if name == "fused" else 1.2
            axis.plot(fpr, tpr, linewidth=width, label=f"{name} {auc:.3f}")
        axis.plot([0, 1], [0, 1], color="0.7", linestyle=":", linewidth=1)
        axis.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="1 - specificity", ylabel="sensitivity")
        axis.set_title(f"{task} ({metrics['positives']} of {metrics['cases']} positive)")
        axis.legend(loc="lower right", fontsize="small", title="AUC")
    return _save(figure, path)


def plot_hit_rates(report: dict[str, Any], path: Path) -> Path:
    """Attention hit rates per task: each plane, the fused top slice and the leading plane."""
    tasks = report["tasks"]
    figure, axes = _figure(len(tasks))
    for axis, (task, metrics) in zip(axes, tasks.items(), strict=True):
        values = [metrics["planes"][plane].get("attention_hit_rate") for plane in PLANES] + [
            metrics.get("attention_hit_rate"),
            metrics.get("leading_plane_hit_rate"),
        ]
        heights = [np.nan if v is None else v for v in values]
        bars = axis.bar(range(len(HIT_KINDS)), heights, color=["C0", "C0", "C0", "C1", "C2"])
        for bar, value in zip(bars, values, strict=True):
            text = "n/a" if value is None else f"{value:.2f}"
            top = 0.02 if value is None else value + 0.02
            axis.text(bar.get_x() + bar.get_width() / 2, top, text, ha="center", fontsize=8)
        axis.set_xticks(range(len(HIT_KINDS)), ["axial", "coronal", "sagittal", "fused", "leading"])
        axis.set(ylim=(0, 1.1), ylabel="top slice on the finding, share of positives")
        axis.set_title(f"{task}: attention hit rate")
    return _save(figure, path)


def write_plots(report: dict[str, Any], json_path: Path) -> list[Path]:
    """`<stem>-roc.png` and `<stem>-hit-rates.png` next to the report's JSON file."""
    stem = json_path.with_suffix("")
    return [
        plot_roc(report, stem.with_name(f"{stem.name}-roc.png")),
        plot_hit_rates(report, stem.with_name(f"{stem.name}-hit-rates.png")),
    ]
