// The /ws page: counts the ticker's ticks and lists everything else it says.
function get_websocket_url() {
    var loc = window.location;
    var scheme = loc.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + loc.host + "/ws_socket";
}

function start_ticker() {
    var ticker = document.getElementById("ticker");
    var count = document.getElementById("tick-count");
    var last = document.getElementById("last-tick");
    var log = document.getElementById("ws-log");
    var form = document.getElementById("ws-form");
    var text = document.getElementById("ws-text");
    var ticks = 0;
    var socket = new WebSocket(get_websocket_url(), "ticker");

    socket.onopen = function () {
        ticker.setAttribute("data-state", "open");
    };
    socket.onclose = function () {
        ticker.setAttribute("data-state", "closed");
    };
    socket.onmessage = function (event) {
        if (event.data.indexOf("TICK ") === 0) {
            ticks += 1;
            count.textContent = String(ticks);
            last.textContent = event.data;
        } else {
            var item = document.createElement("li");
            item.textContent = event.data;
            log.appendChild(item);
        }
    };
    form.onsubmit = function (event) {
        event.preventDefault();
        socket.send(text.value);
        text.value = "";
    };
}

start_ticker();
