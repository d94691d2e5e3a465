"""``python -m krait DIR [options]``: serve a site without twistd's daemon options."""

from __future__ import annotations

import sys
from typing import Any

from twisted.python import usage


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, start the site and run the reactor until stopped."""
    from twisted.internet import reactor as default_reactor
    from twisted.logger import globalLogBeginner, textFileLogObserver

    from krait._errors import SiteConfigError
    from krait.tap import Options, build_service

    args = list(sys.argv[1:] if argv is None else argv)
    if args and not args[0].startswith("-"):
        # getopt stops at the first positional argument: `python -m krait DIR --listen ...`
        args = ["--site", *args]
    reactor: Any = default_reactor
    options: Any = Options()
    try:
        options.parseOptions(args)
    except usage.UsageError as error:
        sys.stderr.write(f"{options}\nkrait: {error}\n")
        return 2
    observer: Any = textFileLogObserver(sys.stderr)
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)
    try:
        service: Any = build_service(options, reactor)
    except SiteConfigError as error:
        sys.stderr.write(f"krait: the site cannot start:\n{error}\n")
        return 1
    service.privilegedStartService()
    service.startService()
    reactor.addSystemEventTrigger("before", "shutdown", service.stopService)
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
