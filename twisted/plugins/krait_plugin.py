"""Makes ``twistd krait`` available."""

from twisted.application.service import ServiceMaker

krait = ServiceMaker("krait", "krait.tap", "Serve a Krait site (scripts, Pyml, MVC).", "krait")
