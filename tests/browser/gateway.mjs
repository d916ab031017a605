// Helpers for the browser tests: start the real gateway binary on a random port with a
// fresh database, a local merchant server (notify receiver and return pages), and a
// sealed api/orders request made the way a merchant's server makes it.
import { spawn, execFileSync } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

export const STORE_UID = '289151880002';
export const STORE_KEY = 'KYTjd9ACcjGaTK6V3zWmMkyrQS08Ndcx';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = process.env.MYPAY_GATEWAY_BIN ?? join(ROOT, 'target/debug/mypay-gateway');

/** A merchant's server: records notices (answering 8888) and serves the return pages. */
export async function startMerchant() {
  const notices = [];
  const visits = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      if (req.url === '/notify' && req.method === 'POST') {
        notices.push(new URLSearchParams(body));
        res.end('8888');
        return;
      }
      visits.push(req.url);
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(`<!doctype html><title>Shop</title><h1 id="shop">Back at the shop: ${req.url}</h1>`);
    });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const base = `http://127.0.0.1:${server.address().port}`;
  return { base, notices, visits, close: () => server.close() };
}

/**
 * Configure the sample merchant with the CLI (its notify URL, then each of `setup`, the
 * arguments of one more command), then run the gateway; resolves with its base URL.
 */
export async function startGateway(notifyUrl, setup = [], { admin = false } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'mypay-browser-'));
  const db = join(dir, 'mypay.sqlite');
  execFileSync(BIN, ['merchant', 'set', STORE_UID, '--notify-url', notifyUrl, '--database', db], { stdio: 'ignore' });
  for (const args of setup) {
    const [input, argv] = typeof args[0] === 'object' ? [args[0].input, args.slice(1)] : [undefined, args];
    execFileSync(BIN, [...argv, '--database', db], { stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'ignore'], input });
  }
  const listen = ['--listen', '127.0.0.1:0', ...(admin ? ['--admin-listen', '127.0.0.1:0'] : [])];
  const child = spawn(BIN, [...listen, '--database', db], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, RUST_LOG: 'warn' },
  });
  const lines = createInterface({ input: child.stdout });
  const found = {};
  const urls = await new Promise((ok, fail) => {
    child.on('exit', (code) => fail(new Error(`gateway exited with ${code}`)));
    lines.on('line', (line) => {
      const api = line.match(/POST (http:\/\/[^ ]+)\/api\/init/);
      if (api) found.base = api[1];
      const office = line.match(/back office +(http:\/\/[^ /]+)/);
      if (office) found.admin = office[1];
      if (found.base && (!admin || found.admin)) ok(found);
    });
  });
  return { base: urls.base, admin: urls.admin, stop: () => child.kill('SIGTERM') };
}

function seal(object) {
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', Buffer.from(STORE_KEY, 'utf8'), iv);
  const body = Buffer.concat([cipher.update(Buffer.from(JSON.stringify(object))), cipher.final()]);
  return Buffer.concat([iv, body]).toString('base64');
}

/** api/orders, as a merchant's server calls it; resolves with {code, uid, key, url}. */
export async function createOrder(base, fields) {
  const order = {
    store_uid: STORE_UID,
    items: [{ id: '1', name: '倚天劍模型', cost: '1200', amount: '1', total: '1200' }],
    cost: '1200',
    user_id: 'browser-test',
    order_id: `WEB-${Date.now()}`,
    ip: '127.0.0.1',
    pfn: 'CREDITCARD',
    ...fields,
  };
  const form = new URLSearchParams({
    store_uid: STORE_UID,
    service: seal({ service_name: 'api', cmd: 'api/orders' }),
    encry_data: seal(order),
  });
  const res = await fetch(`${base}/api/init`, { method: 'POST', body: form });
  return res.json();
}

/** Any sealed command as the sample merchant sends it; resolves with the answer. */
export async function callApi(base, cmd, fields) {
  const form = new URLSearchParams({
    store_uid: STORE_UID,
    service: seal({ service_name: 'api', cmd }),
    encry_data: seal({ store_uid: STORE_UID, ...fields }),
  });
  const res = await fetch(`${base}/api/init`, { method: 'POST', body: form });
  return res.json();
}

/** Width and height of a PNG, from its IHDR chunk. */
export function pngSize(buffer) {
  const signature = '89504e470d0a1a0a';
  if (buffer.subarray(0, 8).toString('hex') !== signature) throw new Error('not a PNG');
  return { width: buffer.readUInt32BE(16), height: buffer.readUInt32BE(20) };
}

const SHOTS = join(import.meta.dirname, 'screenshots');

/** Debian's chromium, headless, as every browser test runs it. */
export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
}

/** A full-page screenshot into screenshots/, checked to be as wide as the page and not blank. */
export async function shot(page, name, minBytes = 8000) {
  mkdirSync(SHOTS, { recursive: true });
  const buffer = await page.screenshot({ fullPage: true });
  writeFileSync(join(SHOTS, `${name}.png`), buffer);
  const { width } = pngSize(buffer);
  assert.equal(width, page.viewportSize().width, `${name}: screenshot as wide as the viewport`);
  assert.ok(buffer.length > minBytes, `${name}: the screenshot has content (${buffer.length} bytes)`);
  return buffer;
}

/** A merchant's server, a gateway configured for it, and a browser; `close` ends all three. */
export async function startRun(setup = [], options = {}) {
  const merchant = await startMerchant();
  const gateway = await startGateway(`${merchant.base}/notify`, setup, options);
  const browser = await launchBrowser();
  return {
    merchant,
    gateway,
    browser,
    async close() {
      await browser.close();
      gateway.stop();
      merchant.close();
    },
  };
}
