"""Sphinx configuration of the krait manual."""

import os
import sys

# Document the checkout being built, installed or not.
sys.path.insert(0, os.path.abspath(".."))

project = "krait"
author = "the krait developers"
copyright = "2026, the krait developers"
extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build"]
html_theme = "alabaster"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
autodoc_member_order = "bysource"
autodoc_typehints = "description"
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]
