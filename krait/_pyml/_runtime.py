"""Rendering compiled templates, and the HTML escaping that ``@expr`` applies."""

from __future__ import annotations

import builtins
import types
from typing import Any, Protocol

from krait._pyml._compiler import CompiledTemplate

_GLOBALS_NAME = "krait.pyml_template"
"""``__name__`` seen by template code (e.g. as ``__module__`` of classes it defines)."""


class RenderHooks(Protocol):
    """What a template needs from the server while it renders.

    Attributes:
        krait: The module exposed as ``krait`` inside templates.
    """

    krait: Any

    def current_ctrl(self) -> Any:
        """Returns the controller that the template sees as ``ctrl``."""
        ...

    def include(self, path: Any) -> str:
        """Renders the file named by ``@import PATH`` (``path`` is the evaluated PATH)."""
        ...

    def include_ctrl(self, ctrl: Any) -> str:
        """Renders the view of the controller given by ``@import-ctrl CTRL``."""
        ...


def escape_html(value: Any) -> str:
    """Converts ``value`` to text and escapes ``& < > " '`` for HTML.

    Args:
        value: Any object; ``str(value)`` is used unless it is already a ``str``.

    Returns:
        The text with ``&amp; &lt; &gt; &quot; &apos;`` in place of the special characters.
    """
    text = value if value.__class__ is str else str(value)
    # Testing before replacing keeps the common case (nothing to escape) cheap.
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if '"' in text:
        text = text.replace('"', "&quot;")
    if "'" in text:
        text = text.replace("'", "&apos;")
    return text


def render(template: CompiledTemplate, hooks: RenderHooks) -> str:
    """Renders a compiled template.

    Every name the template binds is local to this call. ``ctrl`` starts as
    ``hooks.current_ctrl()`` and ``krait`` as ``hooks.krait``.

    Args:
        template: The result of :func:`compile_template`.
        hooks: Access to the controller, the ``krait`` module and included files.

    Returns:
        The rendered text; a static template's text unchanged.

    Raises:
        Exception: Whatever the template's own code raises; the traceback shows the
            template's file name and lines.
    """
    code = template.code
    if code is None:
        return template.text
    namespace = {"__builtins__": builtins, "__name__": _GLOBALS_NAME, "__file__": template.filename}
    output: list[str] = []
    types.FunctionType(code, namespace)(hooks, output, escape_html)
    return "".join(output)
