"""The book's figure style: one look for every chapter.

Colours are the Okabe–Ito palette, which stays distinguishable under the
common forms of colour-vision deficiency. Figures get an opaque white
background so that they stay readable when the site is in dark mode.
"""

from __future__ import annotations

from cycler import cycler

#: Okabe & Ito (2008), "Color Universal Design": blue, vermillion, bluish green,
#: orange, reddish purple, sky blue, yellow, black.
PALETTE = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#E69F00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
)

#: rcParams applied by :func:`use_book_style`.
BOOK_STYLE = {
    "axes.prop_cycle": cycler(color=PALETTE),
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 100,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.transparent": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "font.size": 11,
    "legend.frameon": False,
    "lines.linewidth": 2.0,
    "svg.fonttype": "none",
}


def use_book_style() -> None:
    """Apply :data:`BOOK_STYLE` to matplotlib's global rcParams."""
    import matplotlib as mpl

    mpl.rcParams.update(BOOK_STYLE)
