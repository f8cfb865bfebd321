// vncrelayd console page: connects noVNC to a WebSocket on this origin.
//
// Loaded as an ES module by console.html (no inline script: the server
// sends a strict Content-Security-Policy).  noVNC comes from the npm
// package @novnc/novnc, installed by the build under novnc/.
//
// State for people: the header bar.  State for tests: document.body
// dataset.state is "loading" until this module runs, then one of
// "connecting", "connected", "disconnected", "failed"; dataset.error holds
// the server's error code when it sent one, dataset.closeCode the
// WebSocket close code.

import RFB from './novnc/core/rfb.js';
import { initLogging } from './novnc/core/util/logging.js';

const $ = (id) => document.getElementById(id);

const ui = {
    body: document.body,
    name: $('name'),
    status: $('status'),
    error: $('error'),
    screen: $('screen'),
    cad: $('cad'),
    connect: $('connect'),
    disconnect: $('disconnect'),
    credentials: $('credentials'),
    usernameRow: $('username_row'),
    username: $('username'),
    passwordRow: $('password_row'),
    password: $('password'),
};

// --- parameters -----------------------------------------------------------

const query = new URLSearchParams(window.location.search);
const fragment = new URLSearchParams(window.location.hash.replace(/^#/, ''));

// The query wins over the fragment; noVNC's own pages accept both.
function param(key, fallback = null) {
    if (query.has(key)) return query.get(key);
    if (fragment.has(key)) return fragment.get(key);
    return fallback;
}

function flag(key, fallback) {
    const v = param(key);
    if (v === null) return fallback;
    if (/^(1|true|yes|on)$/i.test(v)) return true;
    if (/^(0|false|no|off)$/i.test(v)) return false;
    return fallback;
}

const settings = {
    path: param('path', ''),
    token: param('token', ''),
    name: param('name', ''),
    password: param('password'),
    username: param('username'),
    autoconnect: flag('autoconnect', true),
    // vnc_lite.html spelled it scale=1
    resize: param('resize', flag('scale', true) ? 'scale' : 'off'),
    viewOnly: flag('view_only', false),
    shared: flag('shared', true),
    quality: param('quality'),
    compression: param('compression'),
    showDot: flag('show_dot', false),
    probe: flag('probe', true),
    logging: param('logging', 'warn'),
};

// --- the WebSocket URL ----------------------------------------------------

// Always this origin: ws: for an http: page, wss: for https:.  A path that
// tries to name another host ("//evil/x", "ws://evil/x") is refused.
function websocketUrl(path, token) {
    if (!path) {
        throw new Error('no console path given (add ?path=... to the address)');
    }
    // Leading slashes are optional ("/vnc/x" and "vnc/x" are the same);
    // stripping them also stops "//host/x" from naming another host.
    const rel = path.replace(/^[/\\]+/, '');
    if (/^[a-z][a-z0-9+.-]*:/i.test(rel)) {
        throw new Error('path must be a path on this server, not a URL');
    }
    const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    const base = scheme + '//' + window.location.host + '/';
    const url = new URL(rel, base);
    if (url.host !== window.location.host || url.protocol !== scheme) {
        throw new Error('path must stay on this server');
    }
    url.hash = '';
    if (token) {
        const existing = new URLSearchParams(url.search);
        if (!existing.has('token')) {
            url.search = (url.search ? url.search + '&' : '?') +
                'token=' + encodeURIComponent(token);
        }
    }
    return url.href;
}

// The same request as a plain https: GET, for the failure probe.
function probeUrl(wsUrl) {
    const url = new URL(wsUrl);
    url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
    return url.href;
}

// --- presentation ---------------------------------------------------------

const STATUS_TEXT = {
    loading: 'Loading',
    connecting: 'Connecting…',
    connected: 'Connected',
    disconnected: 'Disconnected',
    failed: 'Failed',
};

function setState(state, detail) {
    ui.body.dataset.state = state;
    let text = STATUS_TEXT[state];
    if (detail) text = text.replace(/…$/, '') + ': ' + detail;
    if (state === 'connected' && settings.viewOnly) text += ' (view only)';
    ui.status.textContent = text;
    ui.cad.disabled = state !== 'connected' || settings.viewOnly;
    ui.disconnect.hidden = !(state === 'connecting' || state === 'connected');
    ui.connect.hidden = !(state === 'disconnected' || state === 'failed');
    ui.connect.textContent = (session.everStarted ? 'Reconnect' : 'Connect');
    if (state !== 'connecting') ui.credentials.hidden = true;
}

function showError(text) {
    if (!text) {
        ui.error.hidden = true;
        ui.error.textContent = '';
        return;
    }
    ui.error.textContent = text;
    ui.error.hidden = false;
}

function showName(name) {
    const shown = name || 'Console';
    ui.name.textContent = shown;
    document.title = name ? name + ' – Console' : 'Console';
}

// --- one connection attempt -----------------------------------------------

const session = {
    rfb: null,
    ws: null,
    opened: false,       // the WebSocket handshake completed
    connected: false,    // RFB reached "connected"
    userClosed: false,   // the Disconnect button was used
    serverError: null,   // {code, error} from a JSON text message
    close: null,         // {code, reason, wasClean}
    security: null,      // reason from a securityfailure event
    everStarted: false,
    desktopName: '',
};

// Our server sends {"type":"error","code":"...","error":"..."} as a text
// message before it closes; noVNC drops text messages, so we listen on the
// socket ourselves.
function onText(data) {
    let msg;
    try {
        msg = JSON.parse(data);
    } catch {
        return;
    }
    if (!msg || typeof msg !== 'object') return;
    if (msg.type === 'error' || msg.code || msg.error) {
        session.serverError = {
            code: typeof msg.code === 'string' ? msg.code : '',
            error: typeof msg.error === 'string' ? msg.error :
                (typeof msg.message === 'string' ? msg.message : ''),
        };
        if (session.serverError.code) {
            ui.body.dataset.error = session.serverError.code;
        }
        showError(describeServerError(session.serverError));
    }
}

function describeServerError(e) {
    if (e.code && e.error) return e.code + ': ' + e.error;
    return e.code || e.error || 'server error';
}

function describeClose(c) {
    if (!c) return '';
    let s = 'close code ' + c.code;
    if (c.reason) s += ', reason: ' + c.reason;
    return s;
}

// Why the attempt ended, in one line for the status bar.
function failureReason() {
    if (session.serverError) return describeServerError(session.serverError);
    if (session.security) return 'authentication failed: ' + session.security;
    const c = session.close;
    if (c && c.reason) return c.reason + ' (' + describeClose(c) + ')';
    if (!session.opened) {
        return 'could not open the WebSocket' + (c ? ' (' + describeClose(c) + ')' : '');
    }
    if (!session.connected) {
        return 'connection closed during the VNC handshake' + (c ? ' (' + describeClose(c) + ')' : '');
    }
    return 'connection lost' + (c ? ' (' + describeClose(c) + ')' : '');
}

// A browser hides the HTTP status and body of a refused upgrade (the close
// code is always 1006).  Ask the same URL once with a plain GET, marked as a
// probe, and show the JSON error the server answers, if any.
async function probe(wsUrl) {
    if (!settings.probe) return null;
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), 3000);
    try {
        const resp = await fetch(probeUrl(wsUrl), {
            method: 'GET',
            headers: { 'Accept': 'application/json', 'X-Vncrelayd-Probe': '1' },
            cache: 'no-store',
            credentials: 'same-origin',
            redirect: 'error',
            signal: ctrl.signal,
        });
        const type = resp.headers.get('Content-Type') || '';
        if (!/json/i.test(type)) return null;
        const body = await resp.json();
        if (body && typeof body === 'object' && (body.code || body.error)) {
            return {
                code: typeof body.code === 'string' ? body.code : '',
                error: typeof body.error === 'string' ? body.error : '',
                status: resp.status,
            };
        }
    } catch {
        // no answer, not JSON, aborted: nothing to add
    } finally {
        clearTimeout(timer);
    }
    return null;
}

async function finish(clean) {
    const wsUrl = session.ws ? session.ws.url : '';
    session.rfb = null;
    session.ws = null;
    if (session.close) ui.body.dataset.closeCode = String(session.close.code);

    if (session.userClosed || (clean && session.connected && !session.serverError)) {
        setState('disconnected', session.userClosed ? '' : describeClose(session.close));
        return;
    }

    if (!session.opened && !session.serverError && wsUrl) {
        setState('connecting', 'checking why the connection was refused');
        const answer = await probe(wsUrl);
        if (answer) {
            session.serverError = answer;
            if (answer.code) ui.body.dataset.error = answer.code;
        }
    }
    const reason = failureReason();
    let details = reason;
    if (session.serverError && session.close) details += ' (' + describeClose(session.close) + ')';
    showError(details);
    setState('failed', reason);
}

function connect() {
    if (session.rfb) return;

    Object.assign(session, {
        opened: false, connected: false, userClosed: false,
        serverError: null, close: null, security: null, everStarted: true,
    });
    delete ui.body.dataset.error;
    delete ui.body.dataset.closeCode;
    showError('');

    let url;
    try {
        url = websocketUrl(settings.path, settings.token);
    } catch (e) {
        showError(e.message);
        setState('failed', e.message);
        return;
    }

    setState('connecting');

    let ws;
    try {
        // noVNC 1.7 offers no subprotocol by default; "binary" is what
        // Prism, QEMU and websockify expect, and our server echoes it.
        ws = new WebSocket(url, ['binary']);
    } catch (e) {
        showError(e.message);
        setState('failed', e.message);
        return;
    }
    ws.binaryType = 'arraybuffer';
    // Registered before noVNC sets its on* handlers, so these run first.
    ws.addEventListener('open', () => { session.opened = true; });
    ws.addEventListener('message', (e) => {
        if (typeof e.data === 'string') onText(e.data);
    });
    ws.addEventListener('close', (e) => {
        session.close = { code: e.code, reason: e.reason, wasClean: e.wasClean };
    });
    session.ws = ws;

    const credentials = {};
    if (settings.password !== null) credentials.password = settings.password;
    if (settings.username !== null) credentials.username = settings.username;

    let rfb;
    try {
        rfb = new RFB(ui.screen, ws, { credentials, shared: settings.shared });
    } catch (e) {
        session.ws = null;
        try { ws.close(); } catch { /* already closed */ }
        showError(e.message);
        setState('failed', e.message);
        return;
    }
    session.rfb = rfb;

    rfb.viewOnly = settings.viewOnly;
    rfb.scaleViewport = settings.resize === 'scale';
    rfb.resizeSession = settings.resize === 'remote';
    rfb.clipViewport = false;
    rfb.showDotCursor = settings.showDot;
    if (settings.quality !== null && /^[0-9]$/.test(settings.quality)) {
        rfb.qualityLevel = Number(settings.quality);
    }
    if (settings.compression !== null && /^[0-9]$/.test(settings.compression)) {
        rfb.compressionLevel = Number(settings.compression);
    }

    rfb.addEventListener('connect', () => {
        session.connected = true;
        showError('');
        setState('connected');
        rfb.focus({ preventScroll: true });
    });

    rfb.addEventListener('disconnect', (e) => {
        finish(Boolean(e.detail && e.detail.clean));
    });

    rfb.addEventListener('securityfailure', (e) => {
        const d = e.detail || {};
        session.security = d.reason || ('security result ' + d.status);
    });

    rfb.addEventListener('credentialsrequired', (e) => {
        const types = (e.detail && e.detail.types) || ['password'];
        ui.usernameRow.hidden = !types.includes('username');
        ui.passwordRow.hidden = !types.includes('password');
        ui.credentials.hidden = false;
        setState('connecting', 'credentials required');
        (types.includes('username') ? ui.username : ui.password).focus();
    });

    rfb.addEventListener('serververification', (e) => {
        // RSA-AES (RA2) servers present a key; ask the person.
        const d = e.detail || {};
        let fp = '';
        if (d.publickey && d.publickey.length) {
            fp = Array.from(d.publickey.slice(0, 16),
                            (b) => b.toString(16).padStart(2, '0')).join(':');
        }
        // eslint-disable-next-line no-alert
        if (window.confirm('Approve the VNC server key ' + fp + '…?')) {
            rfb.approveServer();
        } else {
            rfb.disconnect();
        }
    });

    rfb.addEventListener('desktopname', (e) => {
        session.desktopName = (e.detail && e.detail.name) || '';
        if (!settings.name) showName(session.desktopName);
        ui.name.title = session.desktopName;
    });
}

function disconnect() {
    if (!session.rfb) return;
    session.userClosed = true;
    session.rfb.disconnect();
}

// --- wiring ---------------------------------------------------------------

initLogging(['error', 'warn', 'info', 'debug', 'none'].includes(settings.logging) ?
    settings.logging : 'warn');

showName(settings.name);

ui.cad.addEventListener('click', () => {
    if (session.rfb) {
        session.rfb.sendCtrlAltDel();
        session.rfb.focus({ preventScroll: true });
    }
});
ui.connect.addEventListener('click', () => connect());
ui.disconnect.addEventListener('click', () => disconnect());
ui.credentials.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!session.rfb) return;
    const creds = {};
    if (!ui.usernameRow.hidden) creds.username = ui.username.value;
    if (!ui.passwordRow.hidden) creds.password = ui.password.value;
    ui.password.value = '';
    ui.credentials.hidden = true;
    setState('connecting');
    session.rfb.sendCredentials(creds);
});

// Keep the password out of the address bar and history once read.
if (settings.password !== null && (query.has('password') || fragment.has('password'))) {
    query.delete('password');
    fragment.delete('password');
    const q = query.toString();
    const f = fragment.toString();
    window.history.replaceState(null, '',
        window.location.pathname + (q ? '?' + q : '') + (f ? '#' + f : ''));
}

if (settings.autoconnect) {
    connect();
} else {
    setState('disconnected');
}
