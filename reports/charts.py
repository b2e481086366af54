"""The report's charts: matplotlib figures rendered to PNG bytes, each with a title and alt text.

Pure: frames in, :class:`~leadsync.reports.document.Chart` out; nothing is
shown or saved (matplotlib's Agg renderer, through :class:`matplotlib.figure.Figure`
without pyplot, so no display, no global state and no thread trouble). The
palette is Okabe and Ito's, which stays distinct under the common forms of
colour blindness; the heatmaps use ``cividis``, made for the same purpose.
Every chart has a title, labelled axes and an alt text that states what it
shows in numbers, for a screen reader or a page without images. Groups under
the minimum size arrive pooled (or left out) from the model, exactly as in
its tables; nothing here can un-pool them.

PNG files carry no timestamp or version, so the same report gives the same bytes.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Sequence
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from leadsync.reports.document import Chart
from leadsync.reports.model import TERCILES, ReportModel
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from leadsync.tables import SIGNAL_TYPES

__all__ = [
    "PALETTE",
    "project_leads_chart",
    "render_charts",
    "representation_chart",
    "score_distribution_chart",
    "signals_by_type_chart",
]

#: Okabe–Ito: blue, orange, bluish green, vermillion, sky blue, reddish purple, yellow.
PALETTE: tuple[str, ...] = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9",
                            "#CC79A7", "#F0E442")
INK = "#222222"
GRID = "#DDDDDD"
DPI = 128

_STYLE: dict[str, Any] = {
    "font.size": 10,
    "figure.titlesize": 11.5,
    "figure.titleweight": "bold",
    "axes.labelsize": 10,
    "axes.edgecolor": "#888888",
    "axes.labelcolor": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.color": INK,
    "ytick.color": INK,
    "legend.frameon": False,
    "legend.fontsize": 9.5,
}


@contextlib.contextmanager
def _styled() -> Iterator[None]:
    """The report's chart style, for the figures made inside (rcParams are read then)."""
    with matplotlib.rc_context(_STYLE):  # type: ignore[arg-type]  # keys are rcParams names
        yield


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _png(figure: Figure) -> tuple[bytes, int, int]:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None},
                   facecolor="white")
    width, height = (round(float(v) * DPI) for v in figure.get_size_inches())
    return buffer.getvalue(), width, height


def _chart(key: str, title: str, alt: str, figure: Figure) -> Chart:
    png, width, height = _png(figure)
    return Chart(key=key, title=title, alt=alt, png=png, width=width, height=height, dpi=DPI)


def _month_names(months: Sequence[str]) -> list[str]:
    return [pd.Period(m, freq="M").strftime("%b\n%Y" if i == 0 or m.endswith("-01") else "%b")
            for i, m in enumerate(months)]


def signals_by_type_chart(activity: pd.DataFrame) -> Chart:
    """Stacked bars: signals recorded per month, by signal type (the last 12 months)."""
    title = "Signals recorded per month, by type"
    with _styled():
        figure = _figure(7.2, 3.3)
        ax = figure.subplots()
        x = np.arange(len(activity))
        bottom = np.zeros(len(activity))
        for colour, kind in zip(PALETTE, SIGNAL_TYPES, strict=False):
            values = activity[kind].astype(float).to_numpy()
            ax.bar(x, values, bottom=bottom, color=colour, label=kind, width=0.72)
            bottom += values
        ax.set_xticks(x, _month_names(list(activity["month"])))
        ax.set_xlabel("Month")
        ax.set_ylabel("Signals")
        figure.suptitle(title, x=0.01, ha="left")
        ax.grid(axis="y", color=GRID, linewidth=0.8)
        ax.set_axisbelow(True)
        figure.legend(loc="outside upper right", ncols=3)
    if len(activity):
        first, last = activity.iloc[0], activity.iloc[-1]
        busiest = activity.iloc[int(activity["total"].astype(int).to_numpy().argmax())]
        mix = ", ".join(f"{kind} {int(last[kind])}" for kind in SIGNAL_TYPES)
        alt = (f"Stacked bar chart of signals recorded per month from "
               f"{pd.Period(first['month']).strftime('%B %Y')} to "
               f"{pd.Period(last['month']).strftime('%B %Y')}, by type. The last month has "
               f"{int(last['total'])} ({mix}); the busiest month is "
               f"{pd.Period(busiest['month']).strftime('%B %Y')} with {int(busiest['total'])}.")
    else:
        alt = "Signals per month: none recorded."
    return _chart("signals-by-type", title, alt, figure)


def score_distribution_chart(scores: pd.DataFrame) -> Chart:
    """Histogram of every member's score, with the team median marked."""
    title = "Score distribution"
    values = scores["score"].astype("Float64").dropna().astype(float).to_numpy()
    median = float(np.median(values)) if values.size else 0.0
    with _styled():
        figure = _figure(7.2, 3.0)
        ax = figure.subplots()
        ax.hist(values, bins=list(range(0, 105, 5)), color=PALETTE[0], edgecolor="white")
        ax.axvline(median, color=PALETTE[3], linewidth=2, linestyle="--",
                   label=f"team median {median:.1f}")
        ax.set_xlim(0, 100)
        ax.set_xlabel("Leadership score (0–100)")
        ax.set_ylabel("Members")
        figure.suptitle(title, x=0.01, ha="left")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(axis="y", color=GRID, linewidth=0.8)
        ax.set_axisbelow(True)
        ax.legend(loc="upper right")
    if values.size:
        q1, q3 = np.percentile(values, [25, 75])
        zero = int((values == 0).sum())
        alt = (f"Histogram of {values.size} members' leadership scores in bands of 5 points. "
               f"Team median {median:.1f}; half the team between {q1:.1f} and {q3:.1f}; "
               f"highest {values.max():.1f}; {zero} with no signals (score 0).")
    else:
        alt = "Score distribution: no members."
    return _chart("score-distribution", title, alt, figure)


def representation_chart(representation: pd.DataFrame) -> Chart:
    """Per region: share of the team against share of leaders, pipeline and top-scored.

    Rows whose numbers are withheld (a pool still under the minimum) are not drawn.
    """
    title = "Representation by region against team share"
    rows = representation[(representation["grouping"] == "region")
                          & representation["members"].notna()].reset_index(drop=True)
    series = (("team_share", "Team"), ("leaders_share", "Leaders"),
              ("pipeline_share", "Pipeline"), ("top_scored_share", "Top-scored"))
    height = 1.3 + 0.62 * max(len(rows), 1)
    with _styled():
        figure = _figure(7.2, height)
        ax = figure.subplots()
        y = np.arange(len(rows))
        bar = 0.8 / len(series)
        for i, (column, label) in enumerate(series):
            values = rows[column].astype("Float64").fillna(0.0).astype(float).to_numpy() * 100
            ax.barh(y + (i - 1.5) * bar, values, height=bar, color=PALETTE[i], label=label)
        ax.set_yticks(y, [str(g) for g in rows["group"]])
        ax.invert_yaxis()
        ax.set_xlabel("Share (%)")
        ax.set_ylabel("Region")
        figure.suptitle(title, x=0.01, ha="left")
        ax.grid(axis="x", color=GRID, linewidth=0.8)
        ax.set_axisbelow(True)
        figure.legend(loc="outside lower center", ncols=4)
    parts = []
    for row in rows.itertuples():
        def pct(value: Any) -> str:
            return "–" if pd.isna(value) else f"{float(value) * 100:.0f}%"
        parts.append(f"{row.group}: team {pct(row.team_share)}, leaders "
                     f"{pct(row.leaders_share)}, pipeline {pct(row.pipeline_share)}, "
                     f"top-scored {pct(row.top_scored_share)}")
    alt = ("Grouped bar chart per region of the share of the team, of its leaders, of its "
           "pipeline and of its top-scored members. " + "; ".join(parts) + "."
           if parts else "Representation: no region large enough to show.")
    return _chart("representation", title, alt, figure)


def project_leads_chart(fairness: pd.DataFrame) -> Chart:
    """Per region: share of the pipeline against share of pilot and improvement leads.

    Rows whose numbers are withheld (a pool still under the minimum) are not drawn.
    """
    title = "Pilot and improvement leads by region against pipeline share"
    rows = fairness[(fairness["grouping"] == "region")
                    & fairness["pipeline"].notna()].reset_index(drop=True)
    series = (("pipeline_share", "Pipeline"), ("pilot_leads_share", "Pilot leads"),
              ("improvement_leads_share", "Improvement leads"))
    height = 1.3 + 0.55 * max(len(rows), 1)
    with _styled():
        figure = _figure(7.2, height)
        ax = figure.subplots()
        y = np.arange(len(rows))
        bar = 0.8 / len(series)
        for i, (column, label) in enumerate(series):
            values = rows[column].astype("Float64").fillna(0.0).astype(float).to_numpy() * 100
            ax.barh(y + (i - 1) * bar, values, height=bar, color=PALETTE[i], label=label)
        ax.set_yticks(y, [str(g) for g in rows["group"]])
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("Share (%)")
        ax.set_ylabel("Region")
        figure.suptitle(title, x=0.01, ha="left")
        ax.grid(axis="x", color=GRID, linewidth=0.8)
        ax.set_axisbelow(True)
        figure.legend(loc="outside lower center", ncols=3)

    def pct(value: Any) -> str:
        return "–" if pd.isna(value) else f"{float(value) * 100:.0f}%"
    parts = [f"{row.group}: pipeline {pct(row.pipeline_share)}, pilot leads "
             f"{pct(row.pilot_leads_share)}, improvement leads "
             f"{pct(row.improvement_leads_share)}" for row in rows.itertuples()]
    alt = ("Grouped bar chart per region of the share of the development pipeline, of the "
           "pipeline members who led a pilot and of those who led an improvement, over the "
           "last 12 months. " + "; ".join(parts) + "."
           if parts else "Project leads: no region large enough to show.")
    return _chart("project-leads", title, alt, figure)


def overlap_chart(overlap: pd.DataFrame, day_label: str) -> Chart:
    """Heatmap: the share of each region's members in working hours, per UTC hour."""
    title = f"In working hours, by UTC hour ({day_label})"
    hours = [f"{h:02d}" for h in range(24)]
    counts = overlap[hours].astype(float).to_numpy() if len(overlap) else np.zeros((0, 24))
    sizes = overlap["members"].astype(float).to_numpy() if len(overlap) else np.zeros(0)
    share = counts / np.maximum(sizes, 1)[:, None] if len(overlap) else counts
    labels = [f"{r} ({int(n)})" for r, n in zip(overlap["region"], sizes, strict=True)]
    height = 1.5 + 0.42 * max(len(overlap), 1)
    with _styled():
        figure = _figure(7.2, height)
        ax = figure.subplots()
        image = ax.imshow(share if len(overlap) else np.zeros((1, 24)), aspect="auto",
                          cmap="cividis", vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks(np.arange(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
        ax.set_yticks(np.arange(len(labels)), labels)
        ax.set_xlabel("Hour of day (UTC)")
        ax.set_ylabel("Region (members)")
        figure.suptitle(title, x=0.01, ha="left")
        ax.spines[:].set_visible(False)
        bar = figure.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
        bar.set_label("Share in hours")
        bar.ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    parts = []
    for label, row, size in zip(overlap["region"], counts, sizes, strict=True):
        best = int(row.argmax()) if row.size else 0
        inside = [h for h in range(24) if size and row[h] >= size / 2]
        span = (f"at least half in hours {inside[0]:02d}:00–{inside[-1] + 1:02d}:00 UTC"
                if inside else "never half in hours at once")
        parts.append(f"{label}: most in hours at {best:02d}:00 UTC "
                     f"({int(row[best])} of {int(size)}), {span}")
    alt = (f"Heatmap of the share of each region's members inside working hours for each "
           f"UTC hour on {day_label}. " + "; ".join(parts) + "."
           if parts else "Overlap: no region large enough to show.")
    return _chart("overlap", title, alt, figure)


def ninebox_chart(ninebox: pd.DataFrame) -> Chart:
    """The 3 × 3 talent matrix: members per box (score tercile × trajectory tercile)."""
    title = "Talent matrix (9-box): score × trajectory"
    grid = np.zeros((3, 3), dtype=int)
    for row in ninebox.itertuples():
        grid[2 - TERCILES.index(str(row.trajectory_tercile)),
             TERCILES.index(str(row.score_tercile))] = int(row.members)  # type: ignore[arg-type]
    total = int(grid.sum())
    with _styled():
        figure = _figure(5.4, 4.2)
        ax = figure.subplots()
        ax.imshow(grid, cmap="cividis", vmin=0, vmax=max(int(grid.max()), 1))
        for r in range(3):
            for c in range(3):
                light = grid[r, c] > 0.55 * max(int(grid.max()), 1)
                ax.text(c, r, f"{grid[r, c]}", ha="center", va="center", fontsize=15,
                        fontweight="bold", color=INK if light else "white")
        ax.set_xticks(range(3), [t.replace(" third", "\nthird") for t in TERCILES])
        ax.set_yticks(range(3), [t.replace(" third", "\nthird") for t in reversed(TERCILES)])
        ax.set_xlabel("Score (tercile in the team)")
        ax.set_ylabel("Trajectory: change over 3 months")
        figure.suptitle(title, x=0.01, ha="left")
        ax.spines[:].set_visible(False)
        ax.tick_params(length=0)
    cells = "; ".join(
        f"score {s}, trajectory {t}: {grid[2 - TERCILES.index(t), TERCILES.index(s)]}"
        for t in reversed(TERCILES) for s in TERCILES)
    alt = (f"Three-by-three grid placing {total} members by score tercile (columns) and "
           f"three-month trajectory tercile (rows), with the count in each box. {cells}.")
    return _chart("ninebox", title, alt, figure)


def render_charts(report: ReportModel) -> dict[str, Chart]:
    """Every chart of the report, by key, in the order the report shows them."""
    day = f"{report.meeting_day:%a %-d %b %Y}"
    charts = [
        signals_by_type_chart(report.activity),
        score_distribution_chart(report.scores),
        ninebox_chart(report.ninebox),
        representation_chart(report.representation),
        overlap_chart(report.overlap_by_region, day),
    ]
    if "projects" not in report.untracked:
        charts.append(project_leads_chart(report.project_fairness))
    return {chart.key: chart for chart in charts}
