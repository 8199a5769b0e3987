/* Loads the SDK line named by ?sdk= from node_modules (installed by package.json under npm
 * aliases): Strophe 1.2.8 from the package's dist/, then the SDK, as demo.html does. (Not the
 * package's websdk.shim.js: it maps the pre-1.x `Easemob.im` API onto the SDK and replaces
 * WebIM.utils.parseTextMessage with a version onEmojiMessage does not understand.)
 *
 * 1.4.6 ships a browser bundle (dist/websdk-1.4.6.js). 1.8.4 ships only its CommonJS sources
 * (src/connection.js requires ./status, ./utils, ./message, ./queue, crypto-js and underscore) and
 * no bundle, so a minimal CommonJS loader below evaluates them in the page, as the package's own
 * webpack build would. */
(function () {
    'use strict';
    var sdk = new URLSearchParams(location.search).get('sdk') || '184';
    var base = 'node_modules/websdk' + sdk + '/';
    window.SDK_LINE = sdk;

    var cache = {};
    var packages = {  // bare module names -> the file the package's "main" points to
        'crypto-js': 'node_modules/crypto-js/index.js',
        'underscore': 'node_modules/underscore/underscore.js'
    };

    function resolve(from, name) {
        if (packages[name]) {
            return packages[name];
        }
        if (name.charAt(0) !== '.') {
            throw new Error('module not available to the test page: ' + name);
        }
        var parts = from.split('/');
        parts.pop();
        name.split('/').forEach(function (p) {
            if (p === '..') {
                parts.pop();
            } else if (p !== '.') {
                parts.push(p);
            }
        });
        var path = parts.join('/');
        return /\.js$/.test(path) ? path : path + '.js';
    }

    function load(path) {
        if (cache[path]) {
            return cache[path].exports;
        }
        var xhr = new XMLHttpRequest();
        xhr.open('GET', path, false);  // synchronous: require() is synchronous
        xhr.send();
        if (xhr.status !== 200) {
            throw new Error('cannot load ' + path + ': HTTP ' + xhr.status);
        }
        var module = {exports: {}};
        cache[path] = module;
        var fn = new Function('module', 'exports', 'require', xhr.responseText + '\n//# sourceURL=' + path);
        fn.call(module.exports, module, module.exports, function (name) {
            return load(resolve(path, name));
        });
        return module.exports;
    }

    window.loadCommonJsSdk = function () {
        window.WebIM = load(base + 'src/connection.js');
    };

    document.write('<script src="' + base + 'dist/strophe-1.2.8.js"><\/script>');
    if (sdk === '146') {
        document.write('<script src="' + base + 'dist/websdk-1.4.6.js"><\/script>');
    } else {
        document.write('<script>loadCommonJsSdk();<\/script>');
    }
}());
