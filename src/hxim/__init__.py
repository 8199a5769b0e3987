"""hxim: a self-hosted instant-messaging server speaking Easemob's REST API and XMPP."""

__version__ = "0.1.0"
