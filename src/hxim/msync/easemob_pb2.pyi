from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EncryptType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENCRYPT_NONE: _ClassVar[EncryptType]
    ENCRYPT_AES_128_CBC: _ClassVar[EncryptType]
    ENCRYPT_AES_256_CBC: _ClassVar[EncryptType]
ENCRYPT_NONE: EncryptType
ENCRYPT_AES_128_CBC: EncryptType
ENCRYPT_AES_256_CBC: EncryptType

class KeyValue(_message.Message):
    __slots__ = ("key", "type", "varint_value", "float_value", "double_value", "string_value")
    class ValueType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        BOOL: _ClassVar[KeyValue.ValueType]
        INT: _ClassVar[KeyValue.ValueType]
        UINT: _ClassVar[KeyValue.ValueType]
        LLINT: _ClassVar[KeyValue.ValueType]
        FLOAT: _ClassVar[KeyValue.ValueType]
        DOUBLE: _ClassVar[KeyValue.ValueType]
        STRING: _ClassVar[KeyValue.ValueType]
        JSON_STRING: _ClassVar[KeyValue.ValueType]
    BOOL: KeyValue.ValueType
    INT: KeyValue.ValueType
    UINT: KeyValue.ValueType
    LLINT: KeyValue.ValueType
    FLOAT: KeyValue.ValueType
    DOUBLE: KeyValue.ValueType
    STRING: KeyValue.ValueType
    JSON_STRING: KeyValue.ValueType
    KEY_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VARINT_VALUE_FIELD_NUMBER: _ClassVar[int]
    FLOAT_VALUE_FIELD_NUMBER: _ClassVar[int]
    DOUBLE_VALUE_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    type: KeyValue.ValueType
    varint_value: int
    float_value: float
    double_value: float
    string_value: str
    def __init__(self, key: _Optional[str] = ..., type: _Optional[_Union[KeyValue.ValueType, str]] = ..., varint_value: _Optional[int] = ..., float_value: _Optional[float] = ..., double_value: _Optional[float] = ..., string_value: _Optional[str] = ...) -> None: ...

class JID(_message.Message):
    __slots__ = ("app_key", "name", "domain", "client_resource")
    APP_KEY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    CLIENT_RESOURCE_FIELD_NUMBER: _ClassVar[int]
    app_key: str
    name: str
    domain: str
    client_resource: str
    def __init__(self, app_key: _Optional[str] = ..., name: _Optional[str] = ..., domain: _Optional[str] = ..., client_resource: _Optional[str] = ...) -> None: ...

class MessageBody(_message.Message):
    __slots__ = ("type", "from_", "to", "contents", "ext", "ack_message_id", "msg_config", "ack_content", "meta", "edit_message_id", "edit_scope", "stream")
    class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        NORMAL: _ClassVar[MessageBody.Type]
        CHAT: _ClassVar[MessageBody.Type]
        GROUPCHAT: _ClassVar[MessageBody.Type]
        CHATROOM: _ClassVar[MessageBody.Type]
        READ_ACK: _ClassVar[MessageBody.Type]
        DELIVER_ACK: _ClassVar[MessageBody.Type]
        RECALL: _ClassVar[MessageBody.Type]
        CHANNEL_ACK: _ClassVar[MessageBody.Type]
        EDIT: _ClassVar[MessageBody.Type]
    NORMAL: MessageBody.Type
    CHAT: MessageBody.Type
    GROUPCHAT: MessageBody.Type
    CHATROOM: MessageBody.Type
    READ_ACK: MessageBody.Type
    DELIVER_ACK: MessageBody.Type
    RECALL: MessageBody.Type
    CHANNEL_ACK: MessageBody.Type
    EDIT: MessageBody.Type
    class EditScope(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        BODY: _ClassVar[MessageBody.EditScope]
        BODY_AND_EXT: _ClassVar[MessageBody.EditScope]
    BODY: MessageBody.EditScope
    BODY_AND_EXT: MessageBody.EditScope
    class Content(_message.Message):
        __slots__ = ("type", "text", "latitude", "longitude", "address", "display_name", "remote_path", "secret_key", "file_length", "action", "params", "duration", "size", "thumbnail_remote_path", "thumbnail_secret_key", "thumbnail_display_name", "thumbnail_file_length", "thumbnail_size", "custom_event", "custom_exts", "building_name", "sub_type", "title", "summary", "combine_level")
        class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
            __slots__ = ()
            TEXT: _ClassVar[MessageBody.Content.Type]
            IMAGE: _ClassVar[MessageBody.Content.Type]
            VIDEO: _ClassVar[MessageBody.Content.Type]
            LOCATION: _ClassVar[MessageBody.Content.Type]
            VOICE: _ClassVar[MessageBody.Content.Type]
            FILE: _ClassVar[MessageBody.Content.Type]
            COMMAND: _ClassVar[MessageBody.Content.Type]
            CUSTOM: _ClassVar[MessageBody.Content.Type]
            COMBINE: _ClassVar[MessageBody.Content.Type]
        TEXT: MessageBody.Content.Type
        IMAGE: MessageBody.Content.Type
        VIDEO: MessageBody.Content.Type
        LOCATION: MessageBody.Content.Type
        VOICE: MessageBody.Content.Type
        FILE: MessageBody.Content.Type
        COMMAND: MessageBody.Content.Type
        CUSTOM: MessageBody.Content.Type
        COMBINE: MessageBody.Content.Type
        class SubType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
            __slots__ = ()
            SUB_COMBINE: _ClassVar[MessageBody.Content.SubType]
            SUB_GIF: _ClassVar[MessageBody.Content.SubType]
            SUB_STREAM: _ClassVar[MessageBody.Content.SubType]
        SUB_COMBINE: MessageBody.Content.SubType
        SUB_GIF: MessageBody.Content.SubType
        SUB_STREAM: MessageBody.Content.SubType
        class Size(_message.Message):
            __slots__ = ("width", "height")
            WIDTH_FIELD_NUMBER: _ClassVar[int]
            HEIGHT_FIELD_NUMBER: _ClassVar[int]
            width: float
            height: float
            def __init__(self, width: _Optional[float] = ..., height: _Optional[float] = ...) -> None: ...
        TYPE_FIELD_NUMBER: _ClassVar[int]
        TEXT_FIELD_NUMBER: _ClassVar[int]
        LATITUDE_FIELD_NUMBER: _ClassVar[int]
        LONGITUDE_FIELD_NUMBER: _ClassVar[int]
        ADDRESS_FIELD_NUMBER: _ClassVar[int]
        DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
        REMOTE_PATH_FIELD_NUMBER: _ClassVar[int]
        SECRET_KEY_FIELD_NUMBER: _ClassVar[int]
        FILE_LENGTH_FIELD_NUMBER: _ClassVar[int]
        ACTION_FIELD_NUMBER: _ClassVar[int]
        PARAMS_FIELD_NUMBER: _ClassVar[int]
        DURATION_FIELD_NUMBER: _ClassVar[int]
        SIZE_FIELD_NUMBER: _ClassVar[int]
        THUMBNAIL_REMOTE_PATH_FIELD_NUMBER: _ClassVar[int]
        THUMBNAIL_SECRET_KEY_FIELD_NUMBER: _ClassVar[int]
        THUMBNAIL_DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
        THUMBNAIL_FILE_LENGTH_FIELD_NUMBER: _ClassVar[int]
        THUMBNAIL_SIZE_FIELD_NUMBER: _ClassVar[int]
        CUSTOM_EVENT_FIELD_NUMBER: _ClassVar[int]
        CUSTOM_EXTS_FIELD_NUMBER: _ClassVar[int]
        BUILDING_NAME_FIELD_NUMBER: _ClassVar[int]
        SUB_TYPE_FIELD_NUMBER: _ClassVar[int]
        TITLE_FIELD_NUMBER: _ClassVar[int]
        SUMMARY_FIELD_NUMBER: _ClassVar[int]
        COMBINE_LEVEL_FIELD_NUMBER: _ClassVar[int]
        type: MessageBody.Content.Type
        text: str
        latitude: float
        longitude: float
        address: str
        display_name: str
        remote_path: str
        secret_key: str
        file_length: int
        action: str
        params: _containers.RepeatedCompositeFieldContainer[KeyValue]
        duration: int
        size: MessageBody.Content.Size
        thumbnail_remote_path: str
        thumbnail_secret_key: str
        thumbnail_display_name: str
        thumbnail_file_length: int
        thumbnail_size: MessageBody.Content.Size
        custom_event: str
        custom_exts: _containers.RepeatedCompositeFieldContainer[KeyValue]
        building_name: str
        sub_type: MessageBody.Content.SubType
        title: str
        summary: str
        combine_level: int
        def __init__(self, type: _Optional[_Union[MessageBody.Content.Type, str]] = ..., text: _Optional[str] = ..., latitude: _Optional[float] = ..., longitude: _Optional[float] = ..., address: _Optional[str] = ..., display_name: _Optional[str] = ..., remote_path: _Optional[str] = ..., secret_key: _Optional[str] = ..., file_length: _Optional[int] = ..., action: _Optional[str] = ..., params: _Optional[_Iterable[_Union[KeyValue, _Mapping]]] = ..., duration: _Optional[int] = ..., size: _Optional[_Union[MessageBody.Content.Size, _Mapping]] = ..., thumbnail_remote_path: _Optional[str] = ..., thumbnail_secret_key: _Optional[str] = ..., thumbnail_display_name: _Optional[str] = ..., thumbnail_file_length: _Optional[int] = ..., thumbnail_size: _Optional[_Union[MessageBody.Content.Size, _Mapping]] = ..., custom_event: _Optional[str] = ..., custom_exts: _Optional[_Iterable[_Union[KeyValue, _Mapping]]] = ..., building_name: _Optional[str] = ..., sub_type: _Optional[_Union[MessageBody.Content.SubType, str]] = ..., title: _Optional[str] = ..., summary: _Optional[str] = ..., combine_level: _Optional[int] = ...) -> None: ...
    class MessageConfig(_message.Message):
        __slots__ = ("allow_group_ack",)
        ALLOW_GROUP_ACK_FIELD_NUMBER: _ClassVar[int]
        allow_group_ack: bool
        def __init__(self, allow_group_ack: _Optional[bool] = ...) -> None: ...
    class Stream(_message.Message):
        __slots__ = ("stream_type", "stream_seq", "stream_status", "stream_error", "stream_finish_reason")
        class StreamStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
            __slots__ = ()
            STREAM_START: _ClassVar[MessageBody.Stream.StreamStatus]
            STREAM_IN_PROGRESS: _ClassVar[MessageBody.Stream.StreamStatus]
            STREAM_COMPLETED: _ClassVar[MessageBody.Stream.StreamStatus]
            STREAM_FULL: _ClassVar[MessageBody.Stream.StreamStatus]
        STREAM_START: MessageBody.Stream.StreamStatus
        STREAM_IN_PROGRESS: MessageBody.Stream.StreamStatus
        STREAM_COMPLETED: MessageBody.Stream.StreamStatus
        STREAM_FULL: MessageBody.Stream.StreamStatus
        STREAM_TYPE_FIELD_NUMBER: _ClassVar[int]
        STREAM_SEQ_FIELD_NUMBER: _ClassVar[int]
        STREAM_STATUS_FIELD_NUMBER: _ClassVar[int]
        STREAM_ERROR_FIELD_NUMBER: _ClassVar[int]
        STREAM_FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
        stream_type: str
        stream_seq: int
        stream_status: MessageBody.Stream.StreamStatus
        stream_error: int
        stream_finish_reason: int
        def __init__(self, stream_type: _Optional[str] = ..., stream_seq: _Optional[int] = ..., stream_status: _Optional[_Union[MessageBody.Stream.StreamStatus, str]] = ..., stream_error: _Optional[int] = ..., stream_finish_reason: _Optional[int] = ...) -> None: ...
    TYPE_FIELD_NUMBER: _ClassVar[int]
    FROM__FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    CONTENTS_FIELD_NUMBER: _ClassVar[int]
    EXT_FIELD_NUMBER: _ClassVar[int]
    ACK_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    MSG_CONFIG_FIELD_NUMBER: _ClassVar[int]
    ACK_CONTENT_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    EDIT_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    EDIT_SCOPE_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    type: MessageBody.Type
    from_: JID
    to: JID
    contents: _containers.RepeatedCompositeFieldContainer[MessageBody.Content]
    ext: _containers.RepeatedCompositeFieldContainer[KeyValue]
    ack_message_id: int
    msg_config: MessageBody.MessageConfig
    ack_content: str
    meta: str
    edit_message_id: int
    edit_scope: MessageBody.EditScope
    stream: MessageBody.Stream
    def __init__(self, type: _Optional[_Union[MessageBody.Type, str]] = ..., from_: _Optional[_Union[JID, _Mapping]] = ..., to: _Optional[_Union[JID, _Mapping]] = ..., contents: _Optional[_Iterable[_Union[MessageBody.Content, _Mapping]]] = ..., ext: _Optional[_Iterable[_Union[KeyValue, _Mapping]]] = ..., ack_message_id: _Optional[int] = ..., msg_config: _Optional[_Union[MessageBody.MessageConfig, _Mapping]] = ..., ack_content: _Optional[str] = ..., meta: _Optional[str] = ..., edit_message_id: _Optional[int] = ..., edit_scope: _Optional[_Union[MessageBody.EditScope, str]] = ..., stream: _Optional[_Union[MessageBody.Stream, _Mapping]] = ...) -> None: ...

class MSync(_message.Message):
    __slots__ = ("version", "guid", "auth", "compress_algorimth", "crypto", "user_agent", "pov", "command", "device_id", "encrypt_type", "encrypt_key", "payload", "trace_id")
    class Version(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        MSYNC_V1: _ClassVar[MSync.Version]
        MSYNC_V2: _ClassVar[MSync.Version]
    MSYNC_V1: MSync.Version
    MSYNC_V2: MSync.Version
    class Command(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        SYNC: _ClassVar[MSync.Command]
        UNREAD: _ClassVar[MSync.Command]
        NOTICE: _ClassVar[MSync.Command]
        PROVISION: _ClassVar[MSync.Command]
        LOGOUT: _ClassVar[MSync.Command]
    SYNC: MSync.Command
    UNREAD: MSync.Command
    NOTICE: MSync.Command
    PROVISION: MSync.Command
    LOGOUT: MSync.Command
    VERSION_FIELD_NUMBER: _ClassVar[int]
    GUID_FIELD_NUMBER: _ClassVar[int]
    AUTH_FIELD_NUMBER: _ClassVar[int]
    COMPRESS_ALGORIMTH_FIELD_NUMBER: _ClassVar[int]
    CRYPTO_FIELD_NUMBER: _ClassVar[int]
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    POV_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    ENCRYPT_TYPE_FIELD_NUMBER: _ClassVar[int]
    ENCRYPT_KEY_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    version: MSync.Version
    guid: JID
    auth: str
    compress_algorimth: int
    crypto: int
    user_agent: str
    pov: int
    command: MSync.Command
    device_id: int
    encrypt_type: _containers.RepeatedScalarFieldContainer[EncryptType]
    encrypt_key: str
    payload: bytes
    trace_id: int
    def __init__(self, version: _Optional[_Union[MSync.Version, str]] = ..., guid: _Optional[_Union[JID, _Mapping]] = ..., auth: _Optional[str] = ..., compress_algorimth: _Optional[int] = ..., crypto: _Optional[int] = ..., user_agent: _Optional[str] = ..., pov: _Optional[int] = ..., command: _Optional[_Union[MSync.Command, str]] = ..., device_id: _Optional[int] = ..., encrypt_type: _Optional[_Iterable[_Union[EncryptType, str]]] = ..., encrypt_key: _Optional[str] = ..., payload: _Optional[bytes] = ..., trace_id: _Optional[int] = ...) -> None: ...

class CommSyncUL(_message.Message):
    __slots__ = ("meta", "key", "queue", "is_roam", "last_full_roam_key")
    META_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    IS_ROAM_FIELD_NUMBER: _ClassVar[int]
    LAST_FULL_ROAM_KEY_FIELD_NUMBER: _ClassVar[int]
    meta: Meta
    key: int
    queue: JID
    is_roam: bool
    last_full_roam_key: int
    def __init__(self, meta: _Optional[_Union[Meta, _Mapping]] = ..., key: _Optional[int] = ..., queue: _Optional[_Union[JID, _Mapping]] = ..., is_roam: _Optional[bool] = ..., last_full_roam_key: _Optional[int] = ...) -> None: ...

class CommSyncDL(_message.Message):
    __slots__ = ("status", "meta_id", "server_id", "metas", "next_key", "queue", "is_last", "timestamp", "is_roam")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    META_ID_FIELD_NUMBER: _ClassVar[int]
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    METAS_FIELD_NUMBER: _ClassVar[int]
    NEXT_KEY_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    IS_LAST_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    IS_ROAM_FIELD_NUMBER: _ClassVar[int]
    status: Status
    meta_id: int
    server_id: int
    metas: _containers.RepeatedCompositeFieldContainer[Meta]
    next_key: int
    queue: JID
    is_last: bool
    timestamp: int
    is_roam: bool
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., meta_id: _Optional[int] = ..., server_id: _Optional[int] = ..., metas: _Optional[_Iterable[_Union[Meta, _Mapping]]] = ..., next_key: _Optional[int] = ..., queue: _Optional[_Union[JID, _Mapping]] = ..., is_last: _Optional[bool] = ..., timestamp: _Optional[int] = ..., is_roam: _Optional[bool] = ...) -> None: ...

class CommNotice(_message.Message):
    __slots__ = ("queue",)
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    queue: JID
    def __init__(self, queue: _Optional[_Union[JID, _Mapping]] = ...) -> None: ...

class CommUnreadUL(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CommUnreadDL(_message.Message):
    __slots__ = ("status", "unread", "timestamp")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    UNREAD_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    status: Status
    unread: _containers.RepeatedCompositeFieldContainer[MetaQueue]
    timestamp: int
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., unread: _Optional[_Iterable[_Union[MetaQueue, _Mapping]]] = ..., timestamp: _Optional[int] = ...) -> None: ...

class MetaQueue(_message.Message):
    __slots__ = ("queue", "n")
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    queue: JID
    n: int
    def __init__(self, queue: _Optional[_Union[JID, _Mapping]] = ..., n: _Optional[int] = ...) -> None: ...

class Meta(_message.Message):
    __slots__ = ("id", "from_", "to", "timestamp", "ns", "payload", "routetype", "ext", "meta", "directed_users")
    class NameSpace(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATISTIC: _ClassVar[Meta.NameSpace]
        CHAT: _ClassVar[Meta.NameSpace]
        MUC: _ClassVar[Meta.NameSpace]
        ROSTER: _ClassVar[Meta.NameSpace]
        CONFERENCE: _ClassVar[Meta.NameSpace]
        NOTIFY: _ClassVar[Meta.NameSpace]
        QUERY: _ClassVar[Meta.NameSpace]
    STATISTIC: Meta.NameSpace
    CHAT: Meta.NameSpace
    MUC: Meta.NameSpace
    ROSTER: Meta.NameSpace
    CONFERENCE: Meta.NameSpace
    NOTIFY: Meta.NameSpace
    QUERY: Meta.NameSpace
    class RouteType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        ROUTE_ALL: _ClassVar[Meta.RouteType]
        ROUTE_ONLINE: _ClassVar[Meta.RouteType]
        ROUTE_DIRECT: _ClassVar[Meta.RouteType]
    ROUTE_ALL: Meta.RouteType
    ROUTE_ONLINE: Meta.RouteType
    ROUTE_DIRECT: Meta.RouteType
    ID_FIELD_NUMBER: _ClassVar[int]
    FROM__FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    NS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    ROUTETYPE_FIELD_NUMBER: _ClassVar[int]
    EXT_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    DIRECTED_USERS_FIELD_NUMBER: _ClassVar[int]
    id: int
    from_: JID
    to: JID
    timestamp: int
    ns: Meta.NameSpace
    payload: bytes
    routetype: Meta.RouteType
    ext: _containers.RepeatedCompositeFieldContainer[KeyValue]
    meta: bytes
    directed_users: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[int] = ..., from_: _Optional[_Union[JID, _Mapping]] = ..., to: _Optional[_Union[JID, _Mapping]] = ..., timestamp: _Optional[int] = ..., ns: _Optional[_Union[Meta.NameSpace, str]] = ..., payload: _Optional[bytes] = ..., routetype: _Optional[_Union[Meta.RouteType, str]] = ..., ext: _Optional[_Iterable[_Union[KeyValue, _Mapping]]] = ..., meta: _Optional[bytes] = ..., directed_users: _Optional[_Iterable[str]] = ...) -> None: ...

class Status(_message.Message):
    __slots__ = ("error_code", "reason", "redirect_info")
    class ErrorCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        OK: _ClassVar[Status.ErrorCode]
        FAIL: _ClassVar[Status.ErrorCode]
        UNAUTHORIZED: _ClassVar[Status.ErrorCode]
        MISSING_PARAMETER: _ClassVar[Status.ErrorCode]
        WRONG_PARAMETER: _ClassVar[Status.ErrorCode]
        REDIRECT: _ClassVar[Status.ErrorCode]
        TOKEN_EXPIRED: _ClassVar[Status.ErrorCode]
        PERMISSION_DENIED: _ClassVar[Status.ErrorCode]
        NO_ROUTE: _ClassVar[Status.ErrorCode]
        UNKNOWN_COMMAND: _ClassVar[Status.ErrorCode]
        PB_PARSER_ERROR: _ClassVar[Status.ErrorCode]
        BIND_ANOTHER_DEVICE: _ClassVar[Status.ErrorCode]
        IM_FORBIDDEN: _ClassVar[Status.ErrorCode]
        TOO_MANY_DEVICES: _ClassVar[Status.ErrorCode]
        PLATFORM_LIMIT: _ClassVar[Status.ErrorCode]
        USER_MUTED: _ClassVar[Status.ErrorCode]
        ENCRYPT_DISABLE: _ClassVar[Status.ErrorCode]
        ENCRYPT_ENABLE: _ClassVar[Status.ErrorCode]
        DECRYPT_FAILURE: _ClassVar[Status.ErrorCode]
        PERMISSION_DENIED_EXTERNAL: _ClassVar[Status.ErrorCode]
    OK: Status.ErrorCode
    FAIL: Status.ErrorCode
    UNAUTHORIZED: Status.ErrorCode
    MISSING_PARAMETER: Status.ErrorCode
    WRONG_PARAMETER: Status.ErrorCode
    REDIRECT: Status.ErrorCode
    TOKEN_EXPIRED: Status.ErrorCode
    PERMISSION_DENIED: Status.ErrorCode
    NO_ROUTE: Status.ErrorCode
    UNKNOWN_COMMAND: Status.ErrorCode
    PB_PARSER_ERROR: Status.ErrorCode
    BIND_ANOTHER_DEVICE: Status.ErrorCode
    IM_FORBIDDEN: Status.ErrorCode
    TOO_MANY_DEVICES: Status.ErrorCode
    PLATFORM_LIMIT: Status.ErrorCode
    USER_MUTED: Status.ErrorCode
    ENCRYPT_DISABLE: Status.ErrorCode
    ENCRYPT_ENABLE: Status.ErrorCode
    DECRYPT_FAILURE: Status.ErrorCode
    PERMISSION_DENIED_EXTERNAL: Status.ErrorCode
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REDIRECT_INFO_FIELD_NUMBER: _ClassVar[int]
    error_code: Status.ErrorCode
    reason: str
    redirect_info: _containers.RepeatedCompositeFieldContainer[RedirectInfo]
    def __init__(self, error_code: _Optional[_Union[Status.ErrorCode, str]] = ..., reason: _Optional[str] = ..., redirect_info: _Optional[_Iterable[_Union[RedirectInfo, _Mapping]]] = ...) -> None: ...

class RedirectInfo(_message.Message):
    __slots__ = ("host", "port")
    HOST_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    host: str
    port: int
    def __init__(self, host: _Optional[str] = ..., port: _Optional[int] = ...) -> None: ...

class Provision(_message.Message):
    __slots__ = ("os_type", "version", "network_type", "app_sign", "compress_type", "encrypt_type", "encrypt_key", "status", "device_uuid", "is_manual_login", "password", "device_name", "resource", "auth", "service_id", "action_version", "auth_token", "os_custom_value", "session_id", "reason", "protocol_compress_type", "protocol_compress_direction")
    class OsType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        OS_IOS: _ClassVar[Provision.OsType]
        OS_ANDROID: _ClassVar[Provision.OsType]
        OS_LINUX: _ClassVar[Provision.OsType]
        OS_OSX: _ClassVar[Provision.OsType]
        OS_WIN: _ClassVar[Provision.OsType]
        OS_CUSTOM: _ClassVar[Provision.OsType]
        OS_OTHER: _ClassVar[Provision.OsType]
    OS_IOS: Provision.OsType
    OS_ANDROID: Provision.OsType
    OS_LINUX: Provision.OsType
    OS_OSX: Provision.OsType
    OS_WIN: Provision.OsType
    OS_CUSTOM: Provision.OsType
    OS_OTHER: Provision.OsType
    class NetworkType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        NETWORK_NONE: _ClassVar[Provision.NetworkType]
        NETWORK_WIFI: _ClassVar[Provision.NetworkType]
        NETWORK_4G: _ClassVar[Provision.NetworkType]
        NETWORK_3G: _ClassVar[Provision.NetworkType]
        NETWORK_2G: _ClassVar[Provision.NetworkType]
        NETWORK_WIRE: _ClassVar[Provision.NetworkType]
    NETWORK_NONE: Provision.NetworkType
    NETWORK_WIFI: Provision.NetworkType
    NETWORK_4G: Provision.NetworkType
    NETWORK_3G: Provision.NetworkType
    NETWORK_2G: Provision.NetworkType
    NETWORK_WIRE: Provision.NetworkType
    class CompressType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        COMPRESS_NONE: _ClassVar[Provision.CompressType]
        COMPRESS_ZLIB: _ClassVar[Provision.CompressType]
        COMPRESS_LZ4: _ClassVar[Provision.CompressType]
    COMPRESS_NONE: Provision.CompressType
    COMPRESS_ZLIB: Provision.CompressType
    COMPRESS_LZ4: Provision.CompressType
    class CompressDirection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        ONLY_UP: _ClassVar[Provision.CompressDirection]
        ONLY_DOWN: _ClassVar[Provision.CompressDirection]
        BI: _ClassVar[Provision.CompressDirection]
    ONLY_UP: Provision.CompressDirection
    ONLY_DOWN: Provision.CompressDirection
    BI: Provision.CompressDirection
    OS_TYPE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NETWORK_TYPE_FIELD_NUMBER: _ClassVar[int]
    APP_SIGN_FIELD_NUMBER: _ClassVar[int]
    COMPRESS_TYPE_FIELD_NUMBER: _ClassVar[int]
    ENCRYPT_TYPE_FIELD_NUMBER: _ClassVar[int]
    ENCRYPT_KEY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_UUID_FIELD_NUMBER: _ClassVar[int]
    IS_MANUAL_LOGIN_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    DEVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    AUTH_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_VERSION_FIELD_NUMBER: _ClassVar[int]
    AUTH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    OS_CUSTOM_VALUE_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_COMPRESS_TYPE_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_COMPRESS_DIRECTION_FIELD_NUMBER: _ClassVar[int]
    os_type: Provision.OsType
    version: str
    network_type: Provision.NetworkType
    app_sign: str
    compress_type: _containers.RepeatedScalarFieldContainer[Provision.CompressType]
    encrypt_type: _containers.RepeatedScalarFieldContainer[EncryptType]
    encrypt_key: str
    status: Status
    device_uuid: str
    is_manual_login: bool
    password: str
    device_name: str
    resource: str
    auth: str
    service_id: str
    action_version: str
    auth_token: str
    os_custom_value: int
    session_id: str
    reason: str
    protocol_compress_type: _containers.RepeatedScalarFieldContainer[Provision.CompressType]
    protocol_compress_direction: Provision.CompressDirection
    def __init__(self, os_type: _Optional[_Union[Provision.OsType, str]] = ..., version: _Optional[str] = ..., network_type: _Optional[_Union[Provision.NetworkType, str]] = ..., app_sign: _Optional[str] = ..., compress_type: _Optional[_Iterable[_Union[Provision.CompressType, str]]] = ..., encrypt_type: _Optional[_Iterable[_Union[EncryptType, str]]] = ..., encrypt_key: _Optional[str] = ..., status: _Optional[_Union[Status, _Mapping]] = ..., device_uuid: _Optional[str] = ..., is_manual_login: _Optional[bool] = ..., password: _Optional[str] = ..., device_name: _Optional[str] = ..., resource: _Optional[str] = ..., auth: _Optional[str] = ..., service_id: _Optional[str] = ..., action_version: _Optional[str] = ..., auth_token: _Optional[str] = ..., os_custom_value: _Optional[int] = ..., session_id: _Optional[str] = ..., reason: _Optional[str] = ..., protocol_compress_type: _Optional[_Iterable[_Union[Provision.CompressType, str]]] = ..., protocol_compress_direction: _Optional[_Union[Provision.CompressDirection, str]] = ...) -> None: ...

class Logout(_message.Message):
    __slots__ = ("session_id", "reason", "status")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    reason: str
    status: Status
    def __init__(self, session_id: _Optional[str] = ..., reason: _Optional[str] = ..., status: _Optional[_Union[Status, _Mapping]] = ...) -> None: ...

class MUCBody(_message.Message):
    __slots__ = ("muc_id", "operation", "from_", "to", "setting", "reason", "is_chatroom", "status", "is_thread", "muc_parent_id", "muc_name", "event_info", "muc_member_count", "ext", "leave_other_rooms", "members")
    class Operation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        CREATE: _ClassVar[MUCBody.Operation]
        DESTROY: _ClassVar[MUCBody.Operation]
        JOIN: _ClassVar[MUCBody.Operation]
        LEAVE: _ClassVar[MUCBody.Operation]
        APPLY: _ClassVar[MUCBody.Operation]
        APPLY_ACCEPT: _ClassVar[MUCBody.Operation]
        APPLY_DECLINE: _ClassVar[MUCBody.Operation]
        INVITE: _ClassVar[MUCBody.Operation]
        INVITE_ACCEPT: _ClassVar[MUCBody.Operation]
        INVITE_DECLINE: _ClassVar[MUCBody.Operation]
        KICK: _ClassVar[MUCBody.Operation]
        GET_BLACKLIST: _ClassVar[MUCBody.Operation]
        BAN: _ClassVar[MUCBody.Operation]
        ALLOW: _ClassVar[MUCBody.Operation]
        UPDATE: _ClassVar[MUCBody.Operation]
        BLOCK: _ClassVar[MUCBody.Operation]
        UNBLOCK: _ClassVar[MUCBody.Operation]
        PRESENCE: _ClassVar[MUCBody.Operation]
        ABSENCE: _ClassVar[MUCBody.Operation]
        DIRECT_JOINED: _ClassVar[MUCBody.Operation]
        ASSIGN_OWNER: _ClassVar[MUCBody.Operation]
        ADD_ADMIN: _ClassVar[MUCBody.Operation]
        REMOVE_ADMIN: _ClassVar[MUCBody.Operation]
        ADD_MUTE: _ClassVar[MUCBody.Operation]
        REMOVE_MUTE: _ClassVar[MUCBody.Operation]
        UPDATE_ANNOUNCEMENT: _ClassVar[MUCBody.Operation]
        DELETE_ANNOUNCEMENT: _ClassVar[MUCBody.Operation]
        UPLOAD_FILE: _ClassVar[MUCBody.Operation]
        DELETE_FILE: _ClassVar[MUCBody.Operation]
        ADD_USER_WHITE_LIST: _ClassVar[MUCBody.Operation]
        REMOVE_USER_WHITE_LIST: _ClassVar[MUCBody.Operation]
        BAN_GROUP: _ClassVar[MUCBody.Operation]
        REMOVE_BAN_GROUP: _ClassVar[MUCBody.Operation]
        THREAD_CREATE: _ClassVar[MUCBody.Operation]
        THREAD_DESTROY: _ClassVar[MUCBody.Operation]
        THREAD_JOIN: _ClassVar[MUCBody.Operation]
        THREAD_LEAVE: _ClassVar[MUCBody.Operation]
        THREAD_KICK: _ClassVar[MUCBody.Operation]
        THREAD_UPDATE: _ClassVar[MUCBody.Operation]
        THREAD_PRESENCE: _ClassVar[MUCBody.Operation]
        THREAD_ABSENCE: _ClassVar[MUCBody.Operation]
        DISABLE_GROUP: _ClassVar[MUCBody.Operation]
        ABLE_GROUP: _ClassVar[MUCBody.Operation]
        SET_METADATA: _ClassVar[MUCBody.Operation]
        DELETE_METADATA: _ClassVar[MUCBody.Operation]
        GROUP_MEMBER_METADATA_UPDATE: _ClassVar[MUCBody.Operation]
    CREATE: MUCBody.Operation
    DESTROY: MUCBody.Operation
    JOIN: MUCBody.Operation
    LEAVE: MUCBody.Operation
    APPLY: MUCBody.Operation
    APPLY_ACCEPT: MUCBody.Operation
    APPLY_DECLINE: MUCBody.Operation
    INVITE: MUCBody.Operation
    INVITE_ACCEPT: MUCBody.Operation
    INVITE_DECLINE: MUCBody.Operation
    KICK: MUCBody.Operation
    GET_BLACKLIST: MUCBody.Operation
    BAN: MUCBody.Operation
    ALLOW: MUCBody.Operation
    UPDATE: MUCBody.Operation
    BLOCK: MUCBody.Operation
    UNBLOCK: MUCBody.Operation
    PRESENCE: MUCBody.Operation
    ABSENCE: MUCBody.Operation
    DIRECT_JOINED: MUCBody.Operation
    ASSIGN_OWNER: MUCBody.Operation
    ADD_ADMIN: MUCBody.Operation
    REMOVE_ADMIN: MUCBody.Operation
    ADD_MUTE: MUCBody.Operation
    REMOVE_MUTE: MUCBody.Operation
    UPDATE_ANNOUNCEMENT: MUCBody.Operation
    DELETE_ANNOUNCEMENT: MUCBody.Operation
    UPLOAD_FILE: MUCBody.Operation
    DELETE_FILE: MUCBody.Operation
    ADD_USER_WHITE_LIST: MUCBody.Operation
    REMOVE_USER_WHITE_LIST: MUCBody.Operation
    BAN_GROUP: MUCBody.Operation
    REMOVE_BAN_GROUP: MUCBody.Operation
    THREAD_CREATE: MUCBody.Operation
    THREAD_DESTROY: MUCBody.Operation
    THREAD_JOIN: MUCBody.Operation
    THREAD_LEAVE: MUCBody.Operation
    THREAD_KICK: MUCBody.Operation
    THREAD_UPDATE: MUCBody.Operation
    THREAD_PRESENCE: MUCBody.Operation
    THREAD_ABSENCE: MUCBody.Operation
    DISABLE_GROUP: MUCBody.Operation
    ABLE_GROUP: MUCBody.Operation
    SET_METADATA: MUCBody.Operation
    DELETE_METADATA: MUCBody.Operation
    GROUP_MEMBER_METADATA_UPDATE: MUCBody.Operation
    class Setting(_message.Message):
        __slots__ = ("name", "desc", "type", "max_users", "owner")
        class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
            __slots__ = ()
            PRIVATE_OWNER_INVITE: _ClassVar[MUCBody.Setting.Type]
            PRIVATE_MEMBER_INVITE: _ClassVar[MUCBody.Setting.Type]
            PUBLIC_JOIN_APPROVAL: _ClassVar[MUCBody.Setting.Type]
            PUBLIC_JOIN_OPEN: _ClassVar[MUCBody.Setting.Type]
            PUBLIC_ANONYMOUS: _ClassVar[MUCBody.Setting.Type]
        PRIVATE_OWNER_INVITE: MUCBody.Setting.Type
        PRIVATE_MEMBER_INVITE: MUCBody.Setting.Type
        PUBLIC_JOIN_APPROVAL: MUCBody.Setting.Type
        PUBLIC_JOIN_OPEN: MUCBody.Setting.Type
        PUBLIC_ANONYMOUS: MUCBody.Setting.Type
        NAME_FIELD_NUMBER: _ClassVar[int]
        DESC_FIELD_NUMBER: _ClassVar[int]
        TYPE_FIELD_NUMBER: _ClassVar[int]
        MAX_USERS_FIELD_NUMBER: _ClassVar[int]
        OWNER_FIELD_NUMBER: _ClassVar[int]
        name: str
        desc: str
        type: MUCBody.Setting.Type
        max_users: int
        owner: str
        def __init__(self, name: _Optional[str] = ..., desc: _Optional[str] = ..., type: _Optional[_Union[MUCBody.Setting.Type, str]] = ..., max_users: _Optional[int] = ..., owner: _Optional[str] = ...) -> None: ...
    class Status(_message.Message):
        __slots__ = ("error_code", "description", "chatroom_info")
        class ErrorCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
            __slots__ = ()
            OK: _ClassVar[MUCBody.Status.ErrorCode]
            PERMISSION_DENIED: _ClassVar[MUCBody.Status.ErrorCode]
            WRONG_PARAMETER: _ClassVar[MUCBody.Status.ErrorCode]
            MUC_NOT_EXIST: _ClassVar[MUCBody.Status.ErrorCode]
            USER_NOT_EXIST: _ClassVar[MUCBody.Status.ErrorCode]
            UNKNOWN: _ClassVar[MUCBody.Status.ErrorCode]
        OK: MUCBody.Status.ErrorCode
        PERMISSION_DENIED: MUCBody.Status.ErrorCode
        WRONG_PARAMETER: MUCBody.Status.ErrorCode
        MUC_NOT_EXIST: MUCBody.Status.ErrorCode
        USER_NOT_EXIST: MUCBody.Status.ErrorCode
        UNKNOWN: MUCBody.Status.ErrorCode
        ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
        DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
        CHATROOM_INFO_FIELD_NUMBER: _ClassVar[int]
        error_code: MUCBody.Status.ErrorCode
        description: str
        chatroom_info: str
        def __init__(self, error_code: _Optional[_Union[MUCBody.Status.ErrorCode, str]] = ..., description: _Optional[str] = ..., chatroom_info: _Optional[str] = ...) -> None: ...
    class EventInfo(_message.Message):
        __slots__ = ("event_type", "ext")
        class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
            __slots__ = ()
            EVENT_NONE: _ClassVar[MUCBody.EventInfo.EventType]
            CIRCLE_CHANNEL: _ClassVar[MUCBody.EventInfo.EventType]
        EVENT_NONE: MUCBody.EventInfo.EventType
        CIRCLE_CHANNEL: MUCBody.EventInfo.EventType
        EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
        EXT_FIELD_NUMBER: _ClassVar[int]
        event_type: MUCBody.EventInfo.EventType
        ext: str
        def __init__(self, event_type: _Optional[_Union[MUCBody.EventInfo.EventType, str]] = ..., ext: _Optional[str] = ...) -> None: ...
    MUC_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    FROM__FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    SETTING_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    IS_CHATROOM_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    IS_THREAD_FIELD_NUMBER: _ClassVar[int]
    MUC_PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    MUC_NAME_FIELD_NUMBER: _ClassVar[int]
    EVENT_INFO_FIELD_NUMBER: _ClassVar[int]
    MUC_MEMBER_COUNT_FIELD_NUMBER: _ClassVar[int]
    EXT_FIELD_NUMBER: _ClassVar[int]
    LEAVE_OTHER_ROOMS_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    muc_id: JID
    operation: MUCBody.Operation
    from_: JID
    to: _containers.RepeatedCompositeFieldContainer[JID]
    setting: MUCBody.Setting
    reason: str
    is_chatroom: bool
    status: MUCBody.Status
    is_thread: bool
    muc_parent_id: JID
    muc_name: str
    event_info: MUCBody.EventInfo
    muc_member_count: int
    ext: str
    leave_other_rooms: bool
    members: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, muc_id: _Optional[_Union[JID, _Mapping]] = ..., operation: _Optional[_Union[MUCBody.Operation, str]] = ..., from_: _Optional[_Union[JID, _Mapping]] = ..., to: _Optional[_Iterable[_Union[JID, _Mapping]]] = ..., setting: _Optional[_Union[MUCBody.Setting, _Mapping]] = ..., reason: _Optional[str] = ..., is_chatroom: _Optional[bool] = ..., status: _Optional[_Union[MUCBody.Status, _Mapping]] = ..., is_thread: _Optional[bool] = ..., muc_parent_id: _Optional[_Union[JID, _Mapping]] = ..., muc_name: _Optional[str] = ..., event_info: _Optional[_Union[MUCBody.EventInfo, _Mapping]] = ..., muc_member_count: _Optional[int] = ..., ext: _Optional[str] = ..., leave_other_rooms: _Optional[bool] = ..., members: _Optional[_Iterable[str]] = ...) -> None: ...

class RosterBody(_message.Message):
    __slots__ = ("operation", "status", "from_", "to", "reason", "roster_ver", "bi_direction")
    class Operation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        GET_ROSTER: _ClassVar[RosterBody.Operation]
        GET_BLACKLIST: _ClassVar[RosterBody.Operation]
        ADD: _ClassVar[RosterBody.Operation]
        REMOVE: _ClassVar[RosterBody.Operation]
        ACCEPT: _ClassVar[RosterBody.Operation]
        DECLINE: _ClassVar[RosterBody.Operation]
        BAN: _ClassVar[RosterBody.Operation]
        ALLOW: _ClassVar[RosterBody.Operation]
        REMOTE_ACCEPT: _ClassVar[RosterBody.Operation]
        REMOTE_DECLINE: _ClassVar[RosterBody.Operation]
    GET_ROSTER: RosterBody.Operation
    GET_BLACKLIST: RosterBody.Operation
    ADD: RosterBody.Operation
    REMOVE: RosterBody.Operation
    ACCEPT: RosterBody.Operation
    DECLINE: RosterBody.Operation
    BAN: RosterBody.Operation
    ALLOW: RosterBody.Operation
    REMOTE_ACCEPT: RosterBody.Operation
    REMOTE_DECLINE: RosterBody.Operation
    class Status(_message.Message):
        __slots__ = ("error_code", "description")
        class ErrorCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
            __slots__ = ()
            OK: _ClassVar[RosterBody.Status.ErrorCode]
            USER_NOT_EXIST: _ClassVar[RosterBody.Status.ErrorCode]
            USER_ALREADY_FRIEND: _ClassVar[RosterBody.Status.ErrorCode]
            USER_ALREADY_BLACKLIST: _ClassVar[RosterBody.Status.ErrorCode]
        OK: RosterBody.Status.ErrorCode
        USER_NOT_EXIST: RosterBody.Status.ErrorCode
        USER_ALREADY_FRIEND: RosterBody.Status.ErrorCode
        USER_ALREADY_BLACKLIST: RosterBody.Status.ErrorCode
        ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
        DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
        error_code: RosterBody.Status.ErrorCode
        description: str
        def __init__(self, error_code: _Optional[_Union[RosterBody.Status.ErrorCode, str]] = ..., description: _Optional[str] = ...) -> None: ...
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FROM__FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ROSTER_VER_FIELD_NUMBER: _ClassVar[int]
    BI_DIRECTION_FIELD_NUMBER: _ClassVar[int]
    operation: RosterBody.Operation
    status: RosterBody.Status
    from_: JID
    to: _containers.RepeatedCompositeFieldContainer[JID]
    reason: str
    roster_ver: str
    bi_direction: bool
    def __init__(self, operation: _Optional[_Union[RosterBody.Operation, str]] = ..., status: _Optional[_Union[RosterBody.Status, _Mapping]] = ..., from_: _Optional[_Union[JID, _Mapping]] = ..., to: _Optional[_Iterable[_Union[JID, _Mapping]]] = ..., reason: _Optional[str] = ..., roster_ver: _Optional[str] = ..., bi_direction: _Optional[bool] = ...) -> None: ...

class StatisticsBody(_message.Message):
    __slots__ = ("operation", "os", "version", "network", "im_time", "chat_time", "location", "reason")
    class Operation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        INFORMATION: _ClassVar[StatisticsBody.Operation]
        USER_REMOVED: _ClassVar[StatisticsBody.Operation]
        USER_LOGIN_ANOTHER_DEVICE: _ClassVar[StatisticsBody.Operation]
        USER_KICKED_BY_CHANGE_PASSWORD: _ClassVar[StatisticsBody.Operation]
        USER_KICKED_BY_OTHER_DEVICE: _ClassVar[StatisticsBody.Operation]
    INFORMATION: StatisticsBody.Operation
    USER_REMOVED: StatisticsBody.Operation
    USER_LOGIN_ANOTHER_DEVICE: StatisticsBody.Operation
    USER_KICKED_BY_CHANGE_PASSWORD: StatisticsBody.Operation
    USER_KICKED_BY_OTHER_DEVICE: StatisticsBody.Operation
    class OsType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        OS_IOS: _ClassVar[StatisticsBody.OsType]
        OS_ANDROID: _ClassVar[StatisticsBody.OsType]
        OS_LINUX: _ClassVar[StatisticsBody.OsType]
        OS_OSX: _ClassVar[StatisticsBody.OsType]
        OS_WIN: _ClassVar[StatisticsBody.OsType]
        OS_CUSTOM: _ClassVar[StatisticsBody.OsType]
        OS_OTHER: _ClassVar[StatisticsBody.OsType]
    OS_IOS: StatisticsBody.OsType
    OS_ANDROID: StatisticsBody.OsType
    OS_LINUX: StatisticsBody.OsType
    OS_OSX: StatisticsBody.OsType
    OS_WIN: StatisticsBody.OsType
    OS_CUSTOM: StatisticsBody.OsType
    OS_OTHER: StatisticsBody.OsType
    class NetworkType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        NETWORK_NONE: _ClassVar[StatisticsBody.NetworkType]
        NETWORK_WIFI: _ClassVar[StatisticsBody.NetworkType]
        NETWORK_4G: _ClassVar[StatisticsBody.NetworkType]
        NETWORK_3G: _ClassVar[StatisticsBody.NetworkType]
        NETWORK_2G: _ClassVar[StatisticsBody.NetworkType]
        NETWORK_WIRE: _ClassVar[StatisticsBody.NetworkType]
    NETWORK_NONE: StatisticsBody.NetworkType
    NETWORK_WIFI: StatisticsBody.NetworkType
    NETWORK_4G: StatisticsBody.NetworkType
    NETWORK_3G: StatisticsBody.NetworkType
    NETWORK_2G: StatisticsBody.NetworkType
    NETWORK_WIRE: StatisticsBody.NetworkType
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    OS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    IM_TIME_FIELD_NUMBER: _ClassVar[int]
    CHAT_TIME_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    operation: StatisticsBody.Operation
    os: StatisticsBody.OsType
    version: str
    network: StatisticsBody.NetworkType
    im_time: int
    chat_time: int
    location: str
    reason: str
    def __init__(self, operation: _Optional[_Union[StatisticsBody.Operation, str]] = ..., os: _Optional[_Union[StatisticsBody.OsType, str]] = ..., version: _Optional[str] = ..., network: _Optional[_Union[StatisticsBody.NetworkType, str]] = ..., im_time: _Optional[int] = ..., chat_time: _Optional[int] = ..., location: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...
