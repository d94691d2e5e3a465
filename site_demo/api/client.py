# /api/client: what the server knows of the client that asked. Behind a proxy listed in
# --trusted-proxies, the address and scheme are the client's as the proxy saw them, not the
# proxy's (see docs/deployment.md, "Behind a proxy"); the access log shows the same address.
return {
    "address": krait.request.remote_addr,
    "port": krait.request.remote_port,
    "scheme": krait.request.scheme,
}
