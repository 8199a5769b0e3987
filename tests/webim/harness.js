/* The helpers test_webim_sdk.py drives through page.evaluate: window.H.
 *
 * One page = one SDK connection (both SDK lines keep module-level state, so two users need two
 * pages). Every callback the SDK fires is recorded in H.events as {seq, cb, data} with `data`
 * made JSON-safe (DOM nodes become their XML, XHRs their status and text), and shown on the page
 * so that a screenshot tells what the SDK saw. Tests take events with H.wait(), which consumes
 * the first unconsumed event of the given callbacks whose data contains `match`. */
(function () {
    'use strict';

    var CALLBACKS = [
        'onOpened', 'onClosed', 'onTextMessage', 'onEmojiMessage', 'onPictureMessage', 'onAudioMessage',
        'onVideoMessage', 'onFileMessage', 'onLocationMessage', 'onCmdMessage', 'onPresence', 'onRoster',
        'onError', 'onReceivedMessage', 'onInviteMessage', 'onDeliveredMessage', 'onReadMessage',
        'onMutedMessage', 'onRecallMessage', 'onBlacklistUpdate', 'onCreateGroup', 'onOnline', 'onOffline'
    ];

    function clean(v, depth) {
        depth = depth || 0;
        if (v === null || v === undefined || typeof v === 'string' || typeof v === 'number' ||
            typeof v === 'boolean') {
            return v;
        }
        if (typeof v === 'function') {
            return undefined;
        }
        if (depth > 6) {
            return '...';
        }
        if (typeof Node !== 'undefined' && v instanceof Node) {
            return {xml: new XMLSerializer().serializeToString(v)};
        }
        if (v instanceof XMLHttpRequest) {
            var text = null;
            try {
                text = v.responseText;
            } catch (e) {  // responseType blob
            }
            return {xhrStatus: v.status, responseText: text};
        }
        if (v instanceof Error) {
            return {exception: String(v), stack: String(v.stack || '')};
        }
        if (typeof Blob !== 'undefined' && v instanceof Blob) {
            return {blobSize: v.size, blobType: v.type};
        }
        if (Array.isArray(v) && Object.keys(v).every(function (k) { return /^[0-9]+$/.test(k); })) {
            return v.map(function (x) { return clean(x, depth + 1); });
        }  // 1.4.6 keys its blacklist array by name: that one becomes an object
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

    var H = {
        events: [],
        seq: 0,
        cfg: {},
        conn: null,

        record: function (cb, data) {
            var event = {seq: ++H.seq, cb: cb, data: clean(data), used: false};
            H.events.push(event);
            show(cb === 'onError' ? 'err' : 'cb', cb, event.data);
            return event;
        },

        /* cfg: {xmppUrl, apiUrl, appKey, domain, label} */
        configure: function (cfg) {
            H.cfg = cfg;
            WebIM.config.xmppURL = cfg.xmppUrl;
            WebIM.config.apiURL = cfg.apiUrl;
            WebIM.config.appkey = cfg.appKey;
            document.getElementById('title').textContent =
                (cfg.label || '') + ' — easemob-websdk ' + ({'146': '1.4.6', '184': '1.8.4'}[window.SDK_LINE] ||
                                                           window.SDK_LINE);
            document.title = (cfg.label || '') + ' ' + window.SDK_LINE;
        },

        /* A new WebIM.connection as demo.html builds it, with every callback recorded. */
        newConnection: function (extra) {
            var opts = {
                isMultiLoginSessions: false,
                https: false,
                url: H.cfg.xmppUrl,
                apiUrl: H.cfg.apiUrl,
                isAutoLogin: true,
                heartBeatWait: 4500,
                autoReconnectNumMax: 2,  // the demo config's values
                autoReconnectInterval: 2,
                isHttpDNS: false
            };
            if (H.cfg.domain) {
                opts.domain = H.cfg.domain;
            }
            Object.keys(extra || {}).forEach(function (k) { opts[k] = extra[k]; });
            var conn = new WebIM.connection(opts);
            var listeners = {};
            CALLBACKS.forEach(function (name) {
                listeners[name] = function (a, b) {
                    H.record(name, name === 'onPresence' ? {info: a, stanza: b} : a);
                };
            });
            conn.listen(listeners);
            H.conn = conn;
            return conn;
        },

        /* Log in (user + pwd, or user + accessToken); resolves {opened} or {error} (the first
         * onError before onOpened). */
        login: function (user, secret, byToken, extra) {
            var conn = H.newConnection(extra);
            var start = H.seq;
            var args = {apiUrl: H.cfg.apiUrl, user: user, appKey: H.cfg.appKey};
            if (byToken) {
                args.accessToken = secret;
            } else {
                args.pwd = secret;
            }
            conn.open(args);
            return H.waitAny(['onOpened', 'onError'], start, 20000).then(function (e) {
                e.used = true;
                return e.cb === 'onOpened' ? {opened: e.data} : {error: e.data};
            }, function (err) {
                return {timeout: String(err)};
            });
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
            return new Promise(function (resolve, reject) {
                var deadline = Date.now() + (timeout || 10000);
                (function poll() {
                    for (var i = 0; i < H.events.length; i++) {
                        var e = H.events[i];
                        if (!e.used && cbs.indexOf(e.cb) >= 0 && contains(e.data, match || {})) {
                            e.used = true;
                            resolve({cb: e.cb, data: e.data});
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
                            out.push({cb: e.cb, data: e.data});
                        }
                    });
                    resolve(out);
                }, ms || 0);
            });
        },

        /* Send a message of `type` (txt, cmd, location, img, file, ...) as demo.html does;
         * resolves with the SDK's success(id, serverMsgId), fail, or upload error. For
         * opt.noWait, resolve once sent. For img/file/audio, opt.fileBase64 + opt.filename + opt.fileType become a File that the
         * SDK uploads to chatfiles first. */
        send: function (type, opt) {
            return new Promise(function (resolve) {
                var msg = new WebIM.message(type, H.conn.getUniqueId());
                var o = {};
                Object.keys(opt).forEach(function (k) { o[k] = opt[k]; });
                var group = o.group;
                var noWait = o.noWait;
                delete o.group;
                delete o.noWait;
                o.success = function (id, serverMsgId) {
                    resolve({ok: true, id: id, serverMsgId: serverMsgId});
                };
                o.fail = function (x) {
                    resolve({ok: false, fail: clean(x)});
                };
                if (o.fileBase64 !== undefined) {
                    var raw = atob(o.fileBase64);
                    var bytes = new Uint8Array(raw.length);
                    for (var i = 0; i < raw.length; i++) {
                        bytes[i] = raw.charCodeAt(i);
                    }
                    var file = new File([bytes], o.filename, {type: o.fileType});
                    o.file = {data: file, filename: o.filename, url: URL.createObjectURL(file),
                              filetype: o.filename.split('.').pop()};
                    o.apiUrl = H.cfg.apiUrl;
                    o.onFileUploadError = function (e) {
                        resolve({ok: false, uploadError: clean(e)});
                    };
                    o.onFileUploadComplete = function (data) {
                        H.record('upload', data);
                    };
                    delete o.fileBase64;
                    delete o.fileType;
                }
                msg.set(o);
                if (group) {
                    msg.setGroup(group);
                }
                H.conn.send(msg.body);
                if (type === 'location' || noWait) {
                    // Message.location.set keeps neither success nor fail: nothing to wait for.
                    resolve({sent: true, id: msg.body.id || msg.id});
                }
            });
        },

        /* Call a connection method that takes an options object with success/error callbacks
         * (getRoster, addToBlackList, joinChatRoom, ...); resolves with what either received.
         * `waitCallback` false: resolve at once (the method has no callbacks). */
        call: function (method, options, waitCallback) {
            return new Promise(function (resolve) {
                var o = {};
                Object.keys(options || {}).forEach(function (k) { o[k] = options[k]; });
                if (waitCallback === false) {
                    H.conn[method](o);
                    resolve({called: true});
                    return;
                }
                o.success = function (a) {
                    resolve({success: clean(a === undefined ? null : a)});
                };
                o.error = function (a) {
                    resolve({error: clean(a === undefined ? null : a)});
                };
                setTimeout(function () {  // some SDK calls never report a failure
                    resolve({timeout: method + ': neither success nor error in 20 s'});
                }, 20000);
                H.conn[method](o);
            });
        },

        /* REST registration as demo.html's Register button: conn.signup (1.8) / registerUser. */
        signup: function (username, password, nickname) {
            var conn = H.conn || H.newConnection();
            return new Promise(function (resolve) {
                conn.signup({
                    username: username, password: password, nickname: nickname || '',
                    appKey: H.cfg.appKey, apiUrl: H.cfg.apiUrl,
                    success: function (json) {
                        resolve({success: clean(json)});
                    },
                    error: function (err) {
                        resolve({error: clean(err)});
                    }
                });
            });
        },

        /* WebIM.utils.download as the demo calls it for received media; resolves with the
         * HTTP status, the blob's type and its bytes in base64. */
        download: function (url, secret, headers) {
            return new Promise(function (resolve) {
                var h = {};
                Object.keys(headers || {}).forEach(function (k) { h[k] = headers[k]; });
                if (secret) {
                    h['share-secret'] = secret;
                }
                WebIM.utils.download.call(H.conn, {
                    url: url,
                    headers: h,
                    onFileDownloadComplete: function (blob, xhr) {
                        var reader = new FileReader();
                        reader.onload = function () {
                            var data = String(reader.result);
                            resolve({status: xhr.status, type: blob.type, size: blob.size,
                                     base64: data.slice(data.indexOf(',') + 1)});
                        };
                        reader.readAsDataURL(blob);
                    },
                    onFileDownloadError: function (e) {
                        resolve({error: clean(e)});
                    }
                });
            });
        },

        /* Show an image the way apps do (<img src=url>); resolves with its natural size or an error. */
        showImage: function (url) {
            return new Promise(function (resolve) {
                var img = new Image();
                img.onload = function () { resolve({width: img.naturalWidth, height: img.naturalHeight}); };
                img.onerror = function () { resolve({error: 'image did not load'}); };
                img.src = url;
                document.getElementById('log').appendChild(img);
            });
        },

        status: function () {
            return {opened: H.conn ? H.conn.isOpened() : false, closed: H.conn ? H.conn.isClosed() : true};
        }
    };

    window.H = H;
}());
