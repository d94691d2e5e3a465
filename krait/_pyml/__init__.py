"""Pyml, the template language of Krait: ``@expr``, ``@{ code }``, ``@if``, ``@for``, ``@import``.

:func:`compile_template` turns template text into a :class:`CompiledTemplate` (or raises
:class:`PymlSyntaxError` naming the file, line and column); :func:`render` runs it with a
:class:`RenderHooks` object that supplies ``ctrl``, ``krait`` and included files. Nothing here
touches files, caches or Twisted: the caller reads, caches and serves.
"""

from __future__ import annotations

from krait._pyml._compiler import CompiledTemplate, compile_template
from krait._pyml._dedent import dedent_code
from krait._pyml._errors import PymlSyntaxError
from krait._pyml._runtime import RenderHooks, escape_html, render

__all__ = [
    "CompiledTemplate",
    "PymlSyntaxError",
    "RenderHooks",
    "compile_template",
    "dedent_code",
    "escape_html",
    "render",
]
