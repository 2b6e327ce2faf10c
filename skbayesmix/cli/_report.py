"""The results that the ``skbayesmix`` command prints: criteria and diagnostics."""

import numpy as np


def _table_columns(results):
    """Return (title, key, format) of each column present in ``results``."""
    columns = [("K", "n_components", "{:d}")]
    columns += [(name.upper(), name, "{:.2f}") for name in ("bic", "aic", "icl")]
    for name in ("waic", "loo"):
        columns.append((f"elpd_{name}", f"elpd_{name}", "{:.2f}"))
        columns.append(("se", f"se_elpd_{name}", "{:.2f}"))
    columns += [("bad k", "n_bad_pareto_k", "{:.0f}"), ("fit s", "fit_time", "{:.1f}")]
    return [c for c in columns if c[1] in results]


def format_table(results):
    """Format one line per candidate with its criteria, right-aligned.

    Parameters
    ----------
    results : dict
        The selector's ``cv_results_``.

    Returns
    -------
    table : str
        Non-finite values show as ``-``.
    """
    columns = _table_columns(results)
    cells = [[title for title, _, _ in columns]]
    for i in range(len(results["n_components"])):
        row = []
        for _, key, fmt in columns:
            value = results[key][i]
            if key == "n_components":
                row.append(fmt.format(int(value)))
            else:
                row.append(fmt.format(float(value)) if np.isfinite(value) else "-")
        cells.append(row)
    widths = [max(len(r[j]) for r in cells) for j in range(len(columns))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_report(selector, criterion):
    """Format the criteria table and the chosen fit's diagnostics.

    With several candidates the table is headed by the choice; with one (a
    given K) by that K alone.

    Parameters
    ----------
    selector : BayesianGMMSelector
        The fitted selector.
    criterion : str
        The criterion that chose the number of components.

    Returns
    -------
    report : str
    """
    from skbayesmix._diagnostics import describe_fit

    k = selector.best_n_components_
    if len(selector.cv_results_["n_components"]) > 1:
        heading = f"selection ({criterion} chooses K = {k}):"
    else:
        heading = f"fit with K = {k}:"
    coreset = getattr(selector, "coreset_", None)
    if coreset is not None:
        heading += (
            f"\nevery candidate fitted a coreset: {coreset['n_rows']} weighted rows "
            f"({coreset['draws']} draws) for {coreset['n_samples']} rows"
        )
    return "\n".join(
        [
            heading,
            format_table(selector.cv_results_),
            "",
            describe_fit(selector.best_estimator_),
        ]
    )
