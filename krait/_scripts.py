"""Compiles ``.py`` route targets into functions, cached by modification time.

A script is the body of a function (spec §3.2): its top-level names are locals, a bare
``return`` is legal and a non-None return value becomes the response. ``krait`` is available
without an import, and ``ctrl`` starts as the current controller.
"""

from __future__ import annotations

import ast
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import CodeType
from typing import Any

from krait._pyml import dedent_code

SCRIPT_FUNCTION_NAME = "__krait_script__"
CTRL_GLOBAL = "__krait_ctrl__"
"""The global a script's ``ctrl`` starts from: the runner sets it to the current controller."""


class ScriptSyntaxError(Exception):
    """A ``.py`` route target does not compile.

    Attributes:
        filename: the script's path.
        line: the 1-based line of the error, if known.
    """

    def __init__(self, filename: str, line: int | None, reason: str) -> None:
        self.filename = filename
        self.line = line
        self.reason = reason
        where = f"{filename}:{line}" if line else filename
        super().__init__(f"{where}: {reason} (fix the script; it reloads on the next request)")


@dataclass(frozen=True)
class CompiledScript:
    """A script compiled to a code object of a function taking no arguments."""

    filename: str
    code: CodeType


def compile_script(source: bytes | str, filename: str) -> CompiledScript:
    """Compile the text of a script into the code of a function body.

    Args:
        source: the file's content (a UTF-8 BOM is not code and is dropped).
        filename: the path used in tracebacks.

    Returns:
        The compiled script.

    Raises:
        ScriptSyntaxError: the script is not valid Python.
    """
    text = source.decode("utf-8-sig") if isinstance(source, bytes) else source.lstrip("\ufeff")
    try:
        body = ast.parse(dedent_code(text), filename, "exec")
    except SyntaxError as error:
        raise ScriptSyntaxError(filename, error.lineno, error.msg) from None
    # The runner puts the current controller in the namespace: reading it there is a dict
    # lookup, where ``krait.mvc.curr_ctrl`` is a descriptor and a context-variable read.
    prologue = ast.parse(f"ctrl = {CTRL_GLOBAL}").body
    function = ast.FunctionDef(
        name=SCRIPT_FUNCTION_NAME,
        args=ast.arguments(
            posonlyargs=[],
            args=[],
            vararg=None,
            kwonlyargs=[],
            kw_defaults=[],
            kwarg=None,
            defaults=[],
        ),
        body=prologue + body.body,
        decorator_list=[],
        returns=None,
    )
    module = ast.Module(body=[function], type_ignores=[])
    ast.fix_missing_locations(module)
    try:
        code = compile(module, filename, "exec", dont_inherit=True)
    except SyntaxError as error:
        raise ScriptSyntaxError(filename, error.lineno, error.msg) from None
    function_code = next(c for c in code.co_consts if isinstance(c, CodeType))
    return CompiledScript(filename=filename, code=function_code)


class MtimeCache:
    """Caches what a compiler made of a file, until the file's mtime or size change.

    Args:
        compiler: turns ``(content, path)`` into the cached value.
    """

    def __init__(self, compiler: Callable[[bytes, str], Any]) -> None:
        self._compiler = compiler
        self._entries: dict[str, tuple[int, int, Any]] = {}
        self._lock = threading.Lock()

    def cached(self, path: str) -> Any:
        """The compiled value for ``path`` if the file is unchanged, else None (no compiling).

        Cheap enough for the reactor: one ``stat``, no read.
        """
        try:
            stat = os.stat(path)
        except OSError:
            return None
        entry = self._fresh_entry(path, stat)
        return entry[2] if entry is not None else None

    def get(self, path: str) -> Any:
        """The compiled value for ``path``, compiling it again if the file changed.

        Raises:
            OSError: the file cannot be read.
        """
        stat = os.stat(path)
        entry = self._entries.get(path)  # _fresh_entry, inlined: this runs for every page
        if entry is not None and entry[0] == stat.st_mtime_ns and entry[1] == stat.st_size:
            return entry[2]
        with open(path, "rb") as file:
            content = file.read()
        value = self._compiler(content, path)
        with self._lock:
            self._entries[path] = (stat.st_mtime_ns, stat.st_size, value)
        return value

    def _fresh_entry(self, path: str, stat: os.stat_result) -> tuple[int, int, Any] | None:
        """The entry of ``path`` if it was made from the file ``stat`` describes."""
        entry = self._entries.get(path)
        if entry is not None and entry[0] == stat.st_mtime_ns and entry[1] == stat.st_size:
            return entry
        return None
