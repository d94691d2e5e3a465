"""krait's WebSocket server: handshake rules, upgrade, protocol, hub, controller adapters.

``handshake`` (pure rules) and ``mailbox`` (a threaded controller's queues) import no Twisted
reactor code; ``hub`` holds what one site's connections share; ``protocol`` is the Autobahn
protocol they all use; ``threaded`` and ``async_ctrl`` adapt it to the two controller
kinds, with ``wakers`` batching their hand-offs to and from the reactor; ``upgrade`` takes a
connection over from twisted.web. The public API is
:mod:`krait.websockets`.
"""
