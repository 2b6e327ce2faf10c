"""Command line: fit a Bayesian Gaussian mixture to a CSV or NumPy file.

Run ``skbayesmix --help`` (or ``python -m skbayesmix --help``). Without a file it
fits the demo data set of the reference tutorial, 500 points from 8 Gaussian
blobs (:func:`skbayesmix._reference.reference_blobs`).

Results (the criteria table and the chosen fit's diagnostics) go to stdout;
progress, notes and warnings to stderr. Files, in ``--output-dir``:

- ``assignments.csv``: one row per observation with its index (if the CSV
  had pandas' unnamed index column, which is not clustered), its features
  under their names, its ``label`` (most probable component),
  ``uncertainty`` (1 - largest membership probability) and ``proba_0``, ...,
  ``proba_{K-1}`` (posterior mean membership probabilities);
- ``selection.csv``: one row per candidate number of components with every
  criterion (when more than one K was fitted);
- ``skbayesmix.png``: assignments with their uncertainty, density contours with
  component ellipses, and the criterion curve (or the posterior of the means).

Exit status: 0 on success, 2 on a usage error (options, input file), 1 when
the fit or writing the outputs fails, 130 when interrupted.

The modules: :mod:`~skbayesmix.cli._parser` (arguments),
:mod:`~skbayesmix.cli._io` (input file and CSV outputs),
:mod:`~skbayesmix.cli._report` (printed text), :mod:`~skbayesmix.cli._figure`
(the PNG) and :mod:`~skbayesmix.cli._main` (the command).
"""

from skbayesmix.cli._main import main

__all__ = ["main"]
