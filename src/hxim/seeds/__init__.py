"""The seed APIs: the `/hx` gateway (`gateway.py`) and the `/api/v2` app API (`app_api/`), two
wrappers around Easemob's server REST API that hxim serves as they were served before it.

Both reach Easemob through `EasemobApi` (`easemob_api.py`): this node's operations without an
HTTP hop (`local.py`), or a remote Easemob in upstream mode (`upstream.py`). Their requests run
through the HTTP pipeline of every REST face (`http/pipeline.py`).
"""
