// The chat page's client: one WebSocket to the room. It sends {"text": ...}; it receives
// {"name": ..., "text": ...}, the name being the sender's session's, set by the server.
// What peers send is shown with textContent only, so it is never parsed as HTML.
(function () {
  "use strict";
  var box = document.getElementById("chat");
  var list = document.getElementById("chat-messages");
  var form = document.getElementById("chat-form");
  var textField = document.getElementById("chat-text");
  var sendButton = form.querySelector("button");
  var statusLine = document.getElementById("chat-status");
  var scheme = location.protocol === "https:" ? "wss:" : "ws:";
  var url = scheme + "//" + location.host + box.dataset.socket;
  var socket = null;
  var retryDelay = 1000;

  function setState(state, text) {
    box.dataset.state = state;
    statusLine.textContent = text;
    sendButton.disabled = state !== "open";
  }

  function show(message) {
    var item = document.createElement("li");
    var name = document.createElement("strong");
    name.textContent = message.name;
    item.appendChild(name);
    item.appendChild(document.createTextNode(": " + message.text));
    list.appendChild(item);
    item.scrollIntoView({ block: "nearest" });
  }

  function connect() {
    setState("connecting", "Connecting\u2026");
    socket = new WebSocket(url);
    socket.onopen = function () {
      retryDelay = 1000;
      setState("open", "Connected: every open chat page hears what you send.");
    };
    socket.onmessage = function (event) {
      var message;
      try {
        message = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      if (message && typeof message.name === "string" && typeof message.text === "string") {
        show(message);
      }
    };
    socket.onclose = function (event) {
      var why = event.reason ? " (" + event.reason + ")" : "";
      if (event.code === 1008) {
        // The server refused us (no name in the session, say): retrying would not help.
        setState("closed", "Disconnected" + why + ": reload the page to join again.");
        return;
      }
      setState("closed", "Disconnected" + why + "; trying again in " + retryDelay / 1000 + " s\u2026");
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 30000);
    };
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!textField.value.trim() || socket.readyState !== WebSocket.OPEN) {
      return;
    }
    socket.send(JSON.stringify({ text: textField.value }));
    textField.value = "";
    textField.focus();
  });

  connect();
}());
