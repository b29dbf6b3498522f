"""Sphinx configuration of the deep-impression documentation
(``make docs``; ``make test`` builds it with warnings as errors)."""

import os
import sys

DOCS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(DOCS))       # the package, this checkout
sys.path.insert(0, os.path.join(DOCS, '_ext'))  # results, commands

import deep_impression  # noqa: E402  (before chainer: its _compat shims)

project = 'deep-impression'
author = 'deep-impression developers'
copyright = '2026, ' + author
release = version = deep_impression.__version__

extensions = ['sphinx.ext.autodoc', 'sphinx.ext.napoleon', 'sphinx.ext.viewcode', 'results',
              'commands']
exclude_patterns = ['_build']
html_theme = 'alabaster'
html_theme_options = {'description': 'Apparent personality from video, '
                                     'in Chainer', 'fixed_sidebar': True}
autodoc_member_order = 'bysource'
autodoc_default_options = {'members': True}
nitpicky = False
