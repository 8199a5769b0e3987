/* The helpers test_msync_sdk.py drives through page.evaluate: window.H.
 *
 * One page = one SDK connection. Every event the SDK fires (addEventHandler) is recorded in
 * H.events as {seq, cb, data} with `data` made JSON-safe, and shown on the page so that a
 * screenshot tells what the SDK saw. Tests take events with H.wait(), which consumes the first
 * unconsumed event of the given names whose data contains `match`. Calls that return promises
 * (open, send, recallMessage, getContacts, ...) resolve here with {ok: true, value} or
 * {ok: false, error}. */
(function () {
    'use strict';

    var SDK = window.websdk && (window.websdk.default || window.websdk);

    var EVENTS = [
        'onConnected', 'onDisconnected', 'onReconnecting', 'onError', 'onOnline', 'onOffline',
        'onTokenWillExpire', 'onTokenExpired', 'onOfflineMessageSyncStart', 'onOfflineMessageSyncFinish',
        'onTextMessage', 'onImageMessage', 'onAudioMessage', 'onVideoMessage', 'onFileMessage',
        'onLocationMessage', 'onCmdMessage', 'onCustomMessage', 'onCombineMessage', 'onMessage',
        'onReceivedMessage', 'onDeliveredMessage', 'onReadMessage', 'onChannelMessage', 'onRecallMessage',
        'onModifiedMessage', 'onContactInvited', 'onContactAgreed', 'onContactRefuse', 'onContactDeleted',
        'onContactAdded', 'onGroupEvent', 'onChatroomEvent', 'onGroupChange', 'onChatroomChange',
        'onStatisticMessage', 'onPresenceStatusChange', 'onMultiDeviceEvent'
    ];

    function clean(v, depth) {
        depth = depth || 0;
        if (v === null || v === undefined || typeof v === 'string' || typeof v === 'number' ||
            typeof v === 'boolean') {
            return v;
        }
        if (typeof v === 'bigint') {
            return String(v);
        }
        if (typeof v === 'function') {
            return undefined;
        }
        if (depth > 6) {
            return '...';
        }
        if (v instanceof Error) {
            return {exception: String(v), stack: String(v.stack || '')};
        }
        if (typeof XMLHttpRequest !== 'undefined' && v instanceof XMLHttpRequest) {
            var text = null;
            try {
                text = v.responseText;
            } catch (e) {  // responseType blob
            }
            return {xhrStatus: v.status, responseText: text};
        }
        if (typeof Blob !== 'undefined' && v instanceof Blob) {
            return {blobSize: v.size, blobType: v.type};
        }
        if (Array.isArray(v)) {
            return v.map(function (x) { return clean(x, depth + 1); });
        }
        var out = {};
        Object.keys(v).forEach(function (k) {
            var c = clean(v[k], depth + 1);
            if (c !== undefined) {
                out[k] = c;
            }
        });
        return out;
    }

    function contains(data, match) {
        if (match !== null && typeof match === 'object' && Object.keys(match).length === 0) {
            return true;
        }
        if (match === null || typeof match !== 'object') {
            return data === match;
        }
        if (data === null || typeof data !== 'object') {
            return false;
        }
        return Object.keys(match).every(function (k) { return contains(data[k], match[k]); });
    }

    function show(cls, label, data) {
        var log = document.getElementById('log');
        if (!log) {
            return;
        }
        var row = document.createElement('div');
        var tag = document.createElement('span');
        tag.className = cls;
        tag.textContent = label + ' ';
        row.appendChild(tag);
        var text = JSON.stringify(data);
        row.appendChild(document.createTextNode(text && text.length > 600 ? text.slice(0, 600) + '...' : text));
        log.appendChild(row);
    }

    function settle(promise) {
        return Promise.resolve(promise).then(function (value) {
            return {ok: true, value: clean(value === undefined ? null : value)};
        }, function (error) {
            return {ok: false, error: clean(error === undefined ? null : error)};
        });
    }

    var H = {
        events: [],
        seq: 0,
        cfg: {},
        conn: null,
        sdk: SDK,

        record: function (cb, data) {
            var event = {seq: ++H.seq, cb: cb, data: clean(data), used: false};
            H.events.push(event);
            show(cb === 'onError' || cb === 'onDisconnected' ? 'err' : 'cb', cb, event.data);
            return event;
        },

        /* cfg: {url, apiUrl, appKey, label} */
        configure: function (cfg) {
            H.cfg = cfg;
            var versions = {easemob: 'easemob-websdk 4.21.1', agora: 'agora-chat 1.4.0'};
            document.getElementById('title').textContent =
                (cfg.label || '') + ' — ' + (versions[window.SDK_NAME] || window.SDK_NAME);
            document.title = (cfg.label || '') + ' ' + window.SDK_NAME;
        },

        /* A new connection pointed at hxim (no HTTP DNS), every event recorded. */
        newConnection: function (extra) {
            var opts = {
                appKey: H.cfg.appKey,
                url: H.cfg.url,
                apiUrl: H.cfg.apiUrl,
                isHttpDNS: false,
                https: false
            };
            Object.keys(extra || {}).forEach(function (k) { opts[k] = extra[k]; });
            var conn = new SDK.connection(opts);
            var handlers = {};
            EVENTS.forEach(function (name) {
                handlers[name] = function (a) {
                    if (name === 'onMessage') {  // the array of the other events' messages: ids only
                        H.record(name, (a || []).map(function (m) { return {id: m.id, type: m.type}; }));
                        return;
                    }
                    H.record(name, a);
                };
            });
            conn.addEventHandler('hxim-test', handlers);
            H.conn = conn;
            return conn;
        },

        /* conn.open() with a password or a token: {ok, value} / {ok: false, error}. */
        login: function (user, secret, byToken, extra) {
            var conn = H.newConnection(extra);
            var args = {user: user};
            if (byToken) {
                args.accessToken = secret;
            } else {
                args.pwd = secret;
            }
            return settle(conn.open(args));
        },

        /* message.create(opt) + conn.send(): {ok, value: {localMsgId, serverMsgId, message}} or
         * {ok: false, error}. opt.fileBase64 + filename + fileType become a File to upload. */
        send: function (opt) {
            var o = {};
            Object.keys(opt).forEach(function (k) { o[k] = opt[k]; });
            if (o.fileBase64 !== undefined) {
                var raw = atob(o.fileBase64);
                var bytes = new Uint8Array(raw.length);
                for (var i = 0; i < raw.length; i++) {
                    bytes[i] = raw.charCodeAt(i);
                }
                var file = new File([bytes], o.filename, {type: o.fileType});
                o.file = {data: file, filename: o.filename, url: URL.createObjectURL(file),
                          filetype: o.filename.split('.').pop()};
                o.onFileUploadComplete = function (data) { H.record('upload', data); };
                o.onFileUploadError = function (e) { H.record('uploadError', e); };
                delete o.fileBase64;
                delete o.fileType;
            }
            var msg = SDK.message.create(o);
            return settle(H.conn.send(msg));
        },

        /* conn[method](...args): its promise settled as {ok, value} / {ok: false, error}. */
        call: function (method, args) {
            var result;
            try {
                result = H.conn[method].apply(H.conn, args || []);
            } catch (e) {
                return Promise.resolve({ok: false, thrown: clean(e)});
            }
            return settle(result);
        },

        waitAny: function (cbs, afterSeq, timeout) {
            return new Promise(function (resolve, reject) {
                var deadline = Date.now() + timeout;
                (function poll() {
                    for (var i = 0; i < H.events.length; i++) {
                        var e = H.events[i];
                        if (!e.used && e.seq > afterSeq && cbs.indexOf(e.cb) >= 0) {
                            resolve(e);
                            return;
                        }
                    }
                    if (Date.now() > deadline) {
                        reject(new Error('none of ' + cbs.join(',') + ' fired in ' + timeout + ' ms'));
                        return;
                    }
                    setTimeout(poll, 20);
                }());
            });
        },

        /* The first unconsumed event of `cbs` whose data contains `match`; consumes it.
         * Resolves {timeout: what was seen instead} when none comes in time. */
        wait: function (cbs, match, timeout) {
            cbs = typeof cbs === 'string' ? [cbs] : cbs;
            return new Promise(function (resolve) {
                var deadline = Date.now() + (timeout || 10000);
                (function poll() {
                    for (var i = 0; i < H.events.length; i++) {
                        var e = H.events[i];
                        if (!e.used && cbs.indexOf(e.cb) >= 0 && contains(e.data, match || {})) {
                            e.used = true;
                            resolve({cb: e.cb, data: e.data, seq: e.seq});
                            return;
                        }
                    }
                    if (Date.now() > deadline) {
                        var seen = H.events.filter(function (x) { return !x.used; })
                            .map(function (x) { return {cb: x.cb, data: x.data}; });
                        resolve({timeout: 'no ' + cbs.join('|') + ' matching ' + JSON.stringify(match || {}) +
                            ' in ' + (timeout || 10000) + ' ms; unconsumed: ' + JSON.stringify(seen).slice(0, 3000)});
                        return;
                    }
                    setTimeout(poll, 20);
                }());
            });
        },

        /* The unconsumed events of `cbs` (after waiting `ms`), consumed. */
        pending: function (cbs, ms) {
            return new Promise(function (resolve) {
                setTimeout(function () {
                    var out = [];
                    H.events.forEach(function (e) {
                        if (!e.used && cbs.indexOf(e.cb) >= 0) {
                            e.used = true;
                            out.push({cb: e.cb, data: e.data, seq: e.seq});
                        }
                    });
                    resolve(out);
                }, ms || 0);
            });
        },

        /* The names of the events seen so far, in order (for ordering checks). */
        seen: function () {
            return H.events.map(function (e) { return e.cb; });
        },

        status: function () {
            return {opened: H.conn ? H.conn.isOpened() : false};
        }
    };

    window.H = H;
}());
