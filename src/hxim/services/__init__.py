"""Services: the domain rules, one module per concept.

Surfaces (HTTP, XMPP) call these and nothing below them. Services never see an HTTP
request or an XML element; they take and return values from `hxim.model` and raise
`hxim.errors.HximError`.
"""
