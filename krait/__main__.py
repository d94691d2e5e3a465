"""The ``krait`` command (and ``python -m krait``): serve a site without twistd's daemon options.

It takes krait's own options and the original server's command line,
``krait -p HTTP/HTTPS [--stdout FILE --stderr FILE] [-s] DIR``, with the original's exit
status 10 for a port spec it cannot read.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from twisted.python import usage

from krait.tap import ORIGINAL, Options, PortSpecError

EXIT_USAGE = 2
EXIT_INVALID_PORT_SPEC = 10  # the original's status, which scripts around it may test


class CommandOptions(Options):
    """:class:`krait.tap.Options` and the original's ``--stdout``/``--stderr``.

    Those two belong to the command only: under twistd, ``--logfile`` and daemonizing decide
    where output goes.
    """

    optParameters = [
        ["stdout", None, None, f"{ORIGINAL} Append standard output (the access log) to FILE."],
        ["stderr", None, None, f"{ORIGINAL} Append standard error (the server log) to FILE."],
    ]

    def postOptions(self) -> None:
        super().postOptions()
        if (self["stdout"] is None) != (self["stderr"] is None):
            raise usage.UsageError("--stdout and --stderr go together, as in the original")


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, start the site and run the reactor until stopped."""
    from twisted.internet import reactor as default_reactor
    from twisted.logger import globalLogBeginner

    from krait._errors import SiteConfigError
    from krait._gc_policy import prepare_collector_for_serving
    from krait._log_output import krait_observer
    from krait.tap import build_service

    args = list(sys.argv[1:] if argv is None else argv)
    if args and not args[0].startswith("-"):
        # getopt stops at the first positional argument: `python -m krait DIR --listen ...`
        args = ["--site", *args]
    reactor: Any = default_reactor
    options: Any = CommandOptions()
    try:
        options.parseOptions(args)
    except usage.UsageError as error:
        sys.stderr.write(
            f"krait: {error}\nusage: krait {options.synopsis}\n(krait --help lists every option)\n"
        )
        return EXIT_INVALID_PORT_SPEC if isinstance(error, PortSpecError) else EXIT_USAGE
    if options["stdout"] is not None:
        try:
            redirect_output(options["stdout"], options["stderr"])
        except OSError as error:
            sys.stderr.write(f"krait: cannot open {error.filename}: {error.strerror}\n")
            return 1
    observer = krait_observer(
        sys.stderr, options["log-level"], options["log-format"], quiet_lifecycle=options["reload"]
    )
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)
    try:
        service: Any = build_service(options, reactor)
    except SiteConfigError as error:
        sys.stderr.write(f"krait: the site cannot start:\n{error}\n")
        return 1
    service.privilegedStartService()
    service.startService()
    reactor.addSystemEventTrigger("before", "shutdown", service.stopService)
    # The site is loaded: keep collections from walking it, and make them rarer (_gc_policy).
    prepare_collector_for_serving()
    reactor.run()
    return 0


def redirect_output(stdout_path: str, stderr_path: str) -> None:
    """Point file descriptors 1 and 2 at files, appending, as the original's options did.

    The descriptors themselves move, not just ``sys.stdout``: the access log writes to a
    duplicate of descriptor 1, and so does anything the site's code starts.

    Args:
        stdout_path: the file for standard output; created if missing.
        stderr_path: the file for standard error; may be the same file.

    Raises:
        OSError: a file cannot be opened; nothing has been redirected then.
    """
    targets = [_open_for_append(stdout_path), _open_for_append(stderr_path)]
    for fd, stream in zip(targets, (sys.stdout, sys.stderr), strict=True):
        stream.flush()
        os.dup2(fd, stream.fileno())
        os.close(fd)


def _open_for_append(path: str) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)


if __name__ == "__main__":
    sys.exit(main())
