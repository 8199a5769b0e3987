"""msync: the binary protocol of Easemob's Web SDK 4.x and Agora Chat (protobuf over WebSocket),
as one more kind of session over the hub (docs/msync.md).

`easemob.proto` (generated into `easemob_pb2`) declares the messages; `wire` reads and builds
frames; `bodies` turns a client's message into the stored model and back; `session` is one
connection (login, queues, sync); `context` holds a node's sessions, handles what clients send
and renders hub events; `connection` serves a client at `/websocket` (attached by the HTTP server's WebSocket
protocol, without ASGI).
"""
