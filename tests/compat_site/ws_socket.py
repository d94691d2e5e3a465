import krait

import ticker_ws

if krait.websockets.request is None:
    # A plain GET of the socket's URL.
    krait.response = krait.ResponseBadRequest()
else:
    protocols = krait.websockets.request.protocols
    if protocols is not None and "ticker" in protocols:
        krait.websockets.response = krait.websockets.WebsocketsResponse(
            ticker_ws.WsTickerController(), "ticker")
    else:
        krait.response = krait.ResponseBadRequest()
