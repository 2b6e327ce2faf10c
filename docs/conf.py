"""Sphinx configuration for skbayesmix.

Build the HTML docs, running every example of the gallery::

    python -m sphinx -b html docs docs/_build/html

Build them without running the examples (fast; the gallery pages show the code
only)::

    python -m sphinx -b html -D plot_gallery=0 docs docs/_build/html
"""

import os
import sys
import warnings

sys.path.insert(0, os.path.abspath(".."))

import skbayesmix

project = "skbayesmix"
author = "skbayesmix developers"
copyright = "2026, skbayesmix developers"
version = release = skbayesmix.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]

html_theme = "pydata_sphinx_theme"
html_title = f"skbayesmix {release}"
html_theme_options = {"show_toc_level": 2}

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "arviz": ("https://python.arviz.org/en/stable", None),
    "matplotlib": ("https://matplotlib.org/stable", None),
}
# No network on some build machines: do not fail, just skip the links.
intersphinx_timeout = 5

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("skbayesmix",),
    "reference_url": {"skbayesmix": None},
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "capture_repr": (),
    # Examples read SKBAYESMIX_EXAMPLES_FAST; the docs run them in full.
    "expected_failing_examples": [],
}

# ArviZ 0.x announces its 1.0 refactor with a FutureWarning at import.
warnings.filterwarnings("ignore", category=FutureWarning, module="arviz")
