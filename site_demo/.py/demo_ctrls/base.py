"""What every demo page controller has: a title, shown by the shared header."""

from krait.mvc import CtrlBase


class PageCtrl(CtrlBase):
    """A page of the demo; subclasses set ``title`` and return their view."""

    title = "Krait demo"
