/* The app configuration demo.html loads before the SDK (../demo/javascript/dist/webim.config.js,
 * not shipped in the npm package): the SDK reads window.WebIM.config (1.4.6 reads
 * WebIM.config.isDebug on every frame). harness.js's H.configure fills in the server's URLs. */
window.WebIM = window.WebIM || {};
window.WebIM.config = {
    xmppURL: '',
    apiURL: '',
    appkey: '',
    https: false,
    isMultiLoginSessions: false,
    isAutoLogin: true,
    isWindowSDK: false,
    isSandBox: false,
    isDebug: false,
    autoReconnectNumMax: 2,
    autoReconnectInterval: 2,
    isWebRTC: false,
    heartBeatWait: 4500,
    isHttpDNS: false,
    msgStatus: true,
    delivery: false,
    read: false,
    saveLocal: false,
    encrypt: {type: 'none'}
};
/* The emoji table apps define (the demo's Emoji config): handleMessage turns text holding these
 * tokens into onEmojiMessage. */
window.WebIM.Emoji = {
    path: 'static/img/faces/',
    map: {
        '[):]': 'ee_1.png',
        '[:D]': 'ee_2.png',
        '[;)]': 'ee_3.png',
        '[:-o]': 'ee_4.png',
        '[:p]': 'ee_5.png'
    }
};
