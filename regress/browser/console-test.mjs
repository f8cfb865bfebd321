#!/usr/bin/env node
// console-test.mjs: open a console page in Debian's Chromium and check that
// noVNC connected and drew something.
//
//   node regress/browser/console-test.mjs URL SCREENSHOT.png
//        [--ignore-https-errors] [--expect connected|failed|disconnected]
//        [--timeout MS] [--page auto|console|novnc] [--csp] [--verbose]
//
// --page console  our console page: waits for body[data-state].
// --page novnc    noVNC's own vnc.html / vnc_lite.html: waits for the status
//                 text ("Connected" in #status or #noVNC_status, or the
//                 noVNC_connected class of vnc.html) and the canvas.
// --page auto     (default) console when the page has body[data-state],
//                 novnc otherwise.
// --csp           add vncrelayd's Content-Security-Policy header to every
//                 page this test loads (for servers that do not send it,
//                 e.g. websockify) and fail on any CSP violation.
//
// With --expect connected (the default) the canvas inside #screen (or
// noVNC's container) must not be blank: at least two different colours,
// or one pixel that is not black.
//
// Prints "console-test: ok state=S distinct_colours=N" and exits 0, or
// "console-test: FAIL reason" and exits 1 (2 for a usage error).  The
// screenshot is written in both cases when the page got that far.

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; " +
    "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'self'";

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
];

function usage(msg) {
    if (msg) process.stderr.write(`console-test: ${msg}\n`);
    process.stderr.write('usage: node console-test.mjs URL SCREENSHOT.png ' +
        '[--ignore-https-errors] [--expect connected|failed|disconnected] ' +
        '[--timeout MS] [--page auto|console|novnc] [--csp] [--verbose]\n');
    process.exit(2);
}

function parseArgs(argv) {
    const opt = {
        url: null, shot: null, ignoreHttps: false, expect: 'connected',
        timeout: 20000, page: 'auto', csp: false, verbose: false,
    };
    const positional = [];
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const value = () => {
            if (i + 1 >= argv.length) usage(`${a} needs a value`);
            return argv[++i];
        };
        if (a === '--ignore-https-errors') opt.ignoreHttps = true;
        else if (a === '--expect') opt.expect = value();
        else if (a === '--timeout') opt.timeout = Number(value());
        else if (a === '--page') opt.page = value();
        else if (a === '--csp') opt.csp = true;
        else if (a === '--verbose' || a === '-v') opt.verbose = true;
        else if (a === '--help' || a === '-h') usage();
        else if (a.startsWith('--')) usage(`unknown option ${a}`);
        else positional.push(a);
    }
    if (positional.length !== 2) usage('need URL and SCREENSHOT');
    [opt.url, opt.shot] = positional;
    if (!['connected', 'failed', 'disconnected'].includes(opt.expect)) {
        usage(`--expect ${opt.expect}: want connected, failed or disconnected`);
    }
    if (!['auto', 'console', 'novnc'].includes(opt.page)) {
        usage(`--page ${opt.page}: want auto, console or novnc`);
    }
    if (!Number.isFinite(opt.timeout) || opt.timeout <= 0) usage('bad --timeout');
    return opt;
}

// Runs in the page: everything the test looks at, in one snapshot.
function pageProbe() {
    const text = (sel) => {
        const el = document.querySelector(sel);
        return el ? el.textContent.trim() : null;
    };
    const body = document.body;
    const out = {
        hasState: !!(body && body.hasAttribute('data-state')),
        state: body ? (body.dataset.state || null) : null,
        error: body ? (body.dataset.error || null) : null,
        closeCode: body ? (body.dataset.closeCode || null) : null,
        status: text('#status') ?? text('#noVNC_status'),
        liteStatus: text('#status'),
        fullStatus: text('#noVNC_status'),
        fullConnected: document.documentElement.classList.contains('noVNC_connected'),
        fullDisconnected: document.documentElement.classList.contains('noVNC_disconnected'),
        errorBox: text('#error') || text('#noVNC_fallback_errormsg') || null,
        canvas: null,
        csp: (window.__cspViolations || []).slice(),
    };

    // Our page and vnc_lite.html put noVNC in #screen; vnc.html in
    // #noVNC_container.  noVNC's canvas is the one inside its screen div.
    const canvas = document.querySelector('#screen canvas') ||
        document.querySelector('#noVNC_container canvas') ||
        document.querySelector('canvas');
    if (canvas) {
        const c = { width: canvas.width, height: canvas.height, distinct: 0,
                    nonBlack: 0, readable: true };
        if (canvas.width > 0 && canvas.height > 0) {
            try {
                const ctx = canvas.getContext('2d');
                const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
                const pixels = canvas.width * canvas.height;
                // Look at every pixel up to 4 Mpx, a grid beyond that.
                const step = Math.max(1, Math.floor(pixels / 4194304));
                const colours = new Set();
                for (let p = 0; p < pixels; p += step) {
                    const i = p * 4;
                    const rgb = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
                    if (colours.size < 4096) colours.add(rgb);
                    if (rgb !== 0) c.nonBlack++;
                }
                c.distinct = colours.size;
            } catch (e) {
                c.readable = false;
                c.readError = String(e);
            }
        }
        out.canvas = c;
    }
    return out;
}

function canvasOk(c) {
    return !!c && c.width > 0 && c.height > 0 && (c.distinct >= 2 || c.nonBlack > 0);
}

// What state a page of noVNC's own shows.
function novncState(s) {
    if (s.fullConnected) return 'connected';
    const t = s.liteStatus ?? s.fullStatus ?? '';
    if (/^connected/i.test(t)) return 'connected';
    if (/something went wrong|failed|error|refused|unexpected/i.test(t)) return 'failed';
    if (/^disconnected/i.test(t)) return 'disconnected';
    if (s.fullDisconnected && t === '') return 'disconnected';
    return 'connecting';
}

function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

async function main() {
    const opt = parseArgs(process.argv.slice(2));
    const log = [];
    const note = (line) => {
        log.push(line);
        if (opt.verbose) process.stderr.write(`console-test: ${line}\n`);
    };

    let browser;
    let page;
    let result = { ok: false, reason: 'not run', state: '?', distinct: 0 };
    try {
        browser = await chromium.launch({
            executablePath: CHROMIUM,
            headless: true,
            args: CHROMIUM_ARGS,
        });
        const context = await browser.newContext({
            ignoreHTTPSErrors: opt.ignoreHttps,
            viewport: { width: 1024, height: 768 },
        });

        if (opt.csp) {
            await context.route('**/*', async (route) => {
                if (route.request().resourceType() !== 'document') return route.continue();
                const resp = await route.fetch();
                const headers = { ...resp.headers(), 'content-security-policy': CSP };
                return route.fulfill({ response: resp, headers });
            });
            // A document fulfilled by the test is no longer "from" 127.0.0.1,
            // and Chromium's Local Network Access checks would then block
            // its WebSocket to 127.0.0.1 (net::ERR_BLOCKED_BY_LOCAL_NETWORK_
            // ACCESS_CHECKS).  A real server's page is not affected.
            await context.grantPermissions(['local-network-access']);
        }
        // Init scripts come through the DevTools protocol, not the page, so
        // the policy does not stop this listener.
        await context.addInitScript(() => {
            window.__cspViolations = [];
            document.addEventListener('securitypolicyviolation', (e) => {
                window.__cspViolations.push(
                    `${e.violatedDirective} blocked ${e.blockedURI || 'inline'}` +
                    (e.sourceFile ? ` at ${e.sourceFile}:${e.lineNumber}` : ''));
            });
        });

        page = await context.newPage();
        const cspConsole = [];
        page.on('console', (m) => {
            note(`console.${m.type()}: ${m.text()}`);
            if (/Content Security Policy/i.test(m.text())) cspConsole.push(m.text());
        });
        page.on('pageerror', (e) => note(`pageerror: ${e.message}`));
        page.on('requestfailed', (r) =>
            note(`requestfailed: ${r.url()} ${r.failure() ? r.failure().errorText : ''}`));
        page.on('websocket', (ws) => {
            note(`websocket: ${ws.url()}`);
            ws.on('close', () => note(`websocket closed: ${ws.url()}`));
        });

        const deadline = Date.now() + opt.timeout;
        const resp = await page.goto(opt.url, { waitUntil: 'load', timeout: opt.timeout });
        if (!resp) throw new Error('no response for the page');
        if (!resp.ok()) throw new Error(`page answered HTTP ${resp.status()}`);

        let mode = opt.page;
        let s = await page.evaluate(pageProbe);
        if (mode === 'auto') {
            // The module may not have run yet; body[data-state] is in our
            // HTML from the start.
            mode = s.hasState ? 'console' : 'novnc';
        }
        note(`page mode ${mode}`);

        let state = '?';
        let settled = false;
        for (;;) {
            s = await page.evaluate(pageProbe);
            state = mode === 'console' ? (s.state || '?') : novncState(s);
            if (opt.csp && (s.csp.length || cspConsole.length)) {
                const what = s.csp.length ? s.csp.join('; ') : cspConsole[0];
                result = { ok: false, state, distinct: 0, reason: `CSP violation: ${what}` };
                break;
            }
            const terminal = state === 'failed' || state === 'disconnected';
            if (state === opt.expect) {
                if (opt.expect !== 'connected') {
                    settled = true;
                } else if (canvasOk(s.canvas)) {
                    settled = true;
                }
            }
            if (settled) {
                result = { ok: true, state, distinct: s.canvas ? s.canvas.distinct : 0 };
                break;
            }
            if (terminal && state !== opt.expect) {
                result = { ok: false, state, distinct: 0,
                           reason: `state=${state}, expected ${opt.expect}` +
                               (s.status ? `: status "${s.status}"` : '') +
                               (s.errorBox ? `: error "${s.errorBox}"` : '') };
                break;
            }
            if (Date.now() > deadline) {
                let why = `timeout after ${opt.timeout} ms in state=${state}`;
                if (state === 'connected' && opt.expect === 'connected') {
                    const c = s.canvas;
                    why = !c ? `${why}: no canvas` :
                        !c.readable ? `${why}: canvas unreadable (${c.readError})` :
                        `${why}: canvas ${c.width}x${c.height} blank ` +
                        `(distinct_colours=${c.distinct}, non_black=${c.nonBlack})`;
                }
                if (s.status) why += `: status "${s.status}"`;
                result = { ok: false, state, distinct: s.canvas ? s.canvas.distinct : 0,
                           reason: why };
                break;
            }
            await sleep(200);
        }

        if (s.status) process.stdout.write(`console-test: status: ${s.status}\n`);
        if (s.error) process.stdout.write(`console-test: server error code: ${s.error}\n`);
        if (s.closeCode) process.stdout.write(`console-test: close code: ${s.closeCode}\n`);
        if (s.errorBox) process.stdout.write(`console-test: error shown: ${s.errorBox}\n`);
        if (s.canvas) {
            process.stdout.write(`console-test: canvas ${s.canvas.width}x${s.canvas.height} ` +
                `non_black=${s.canvas.nonBlack}\n`);
        }
    } catch (e) {
        result = { ok: false, state: result.state, distinct: 0, reason: e.message.split('\n')[0] };
    }

    if (page) {
        try {
            mkdirSync(dirname(opt.shot), { recursive: true });
            await page.screenshot({ path: opt.shot });
        } catch (e) {
            if (result.ok) result = { ok: false, state: result.state, distinct: 0,
                                      reason: `screenshot: ${e.message}` };
        }
    }
    if (browser) await browser.close().catch(() => {});

    if (result.ok) {
        process.stdout.write(`console-test: ok state=${result.state} ` +
            `distinct_colours=${result.distinct}\n`);
        return 0;
    }
    if (!opt.verbose && log.length) {
        for (const line of log.slice(-20)) process.stderr.write(`console-test: ${line}\n`);
    }
    process.stdout.write(`console-test: FAIL ${result.reason}\n`);
    return 1;
}

main().then((code) => process.exit(code), (e) => {
    process.stdout.write(`console-test: FAIL ${e && e.message ? e.message : e}\n`);
    process.exit(1);
});
