import threading
import time

import krait


# Module globals are shared by every connection: the /info script reports this count.
running = 0
running_lock = threading.Lock()


class WsTickerController(krait.websockets.WebsocketsCtrlBase):
    """Pushes "TICK n" every 100 ms and answers every message with "PONG: message"."""

    def __init__(self):
        super(WsTickerController, self).__init__(True)
        self.ticks = 0

    def on_thread_start(self):
        global running
        with running_lock:
            running += 1
        try:
            while not self.should_stop():
                in_msg = self.pop_in_message()
                while in_msg is not None:
                    if in_msg == "reset":
                        self.ticks = 0
                    self.push_out_message("PONG: " + in_msg)
                    in_msg = self.pop_in_message()

                self.ticks += 1
                self.push_out_message("TICK %d" % self.ticks)
                time.sleep(0.1)
        finally:
            with running_lock:
                running -= 1
        print("ticker: closing after %d ticks" % self.ticks)
