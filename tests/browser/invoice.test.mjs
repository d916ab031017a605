// The e-invoice proof (電子發票證明聯) in a real browser: an order paid with an invoice, its
// proof page printed at 5.7 cm, and both QR codes read back from the screenshot by a QR
// reader (zbarimg) and compared with what api/invoice answers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { STORE_UID, callApi, createOrder, shot, startRun } from './gateway.mjs';

/** The invoice period of today in Taipei: ROC year and the even month, `yyyMM`. */
function period() {
  const [y, m] = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Taipei', year: 'numeric', month: '2-digit' })
    .format(new Date()).split('-').map(Number);
  const even = m % 2 === 0 ? m : m + 1;
  return `${String(y - 1911).padStart(3, '0')}${String(even).padStart(2, '0')}`;
}

let run, gateway, browser;

before(async () => {
  run = await startRun([
    ['merchant', 'invoice-track', STORE_UID, '--period', period(), '--track', 'AB', '--from', '00000000', '--to', '00000099'],
  ]);
  ({ gateway, browser } = run);
});

after(() => run?.close());

/** What zbarimg reads in a PNG: one line per code. */
function readCodes(png, name) {
  const dir = join(import.meta.dirname, 'screenshots');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.png`);
  writeFileSync(file, png);
  return execFileSync('zbarimg', ['--quiet', '--raw', '-Sbinary', file]).toString('utf8');
}

test('an invoice proof prints both QR codes and the barcode as api/invoice answers them', async () => {
  const order = await createOrder(gateway.base, {
    items: [
      { id: '1', name: '倚天劍模型', cost: '1200', amount: '1', total: '1200' },
      { id: '2', name: '屠龍刀模型', cost: '400', amount: '2', total: '800' },
      { id: '3', name: '收藏證書', cost: '0', amount: '1', total: '0' },
    ],
    cost: '2000',
    issue_invoice_state: 1,
    invoice_input_type: 1,
    invoice_cloud_type: 2,
    invoice_mobile_code: '/NFVIAZP',
  });
  assert.equal(order.code, '200', JSON.stringify(order));
  const paid = await fetch(`${gateway.base}/sandbox/orders/${order.uid}/pay`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ card_number: '4058650600065507', expiry: '1022', cvc: '395' }),
  }).then((r) => r.json());
  assert.equal(paid.prc, '250', JSON.stringify(paid));
  const invoice = await callApi(gateway.base, 'api/invoice', { uid: String(order.uid), key: order.key });
  assert.equal(invoice.state, 2, JSON.stringify(invoice));
  assert.match(invoice.right_qrcode, /^\*\*.+/, 'the items that do not fit the left code go right');

  const context = await browser.newContext({ viewport: { width: 420, height: 900 } });
  const page = await context.newPage();
  await page.goto(invoice.proof_url);
  await page.getByRole('heading', { name: '電子發票證明聯' }).waitFor();
  assert.equal(await page.locator('#invoice-number').textContent(), `AB-${invoice.number}`);
  // 5.7 cm at 96 CSS pixels to the inch.
  const width = await page.locator('.proof').evaluate((el) => el.getBoundingClientRect().width);
  assert.ok(Math.abs(width - (5.7 / 2.54) * 96) < 1, `the proof is 5.7 cm wide (${width}px)`);
  assert.equal(await page.locator('#barcode').getAttribute('data-code'), invoice.middle_barcode);
  await shot(page, '10-invoice-proof', 10000);
  await context.close();

  // The codes as a phone's camera would see them on paper: read from pixels.
  const sharp = await browser.newContext({ viewport: { width: 420, height: 900 }, deviceScaleFactor: 4 });
  const big = await sharp.newPage();
  await big.goto(invoice.proof_url);
  const left = readCodes(await big.locator('#left-qr').screenshot(), '10-invoice-left-qr').trim();
  const right = readCodes(await big.locator('#right-qr').screenshot(), '10-invoice-right-qr').trim();
  assert.equal(left, invoice.left_qrcode);
  assert.equal(right, invoice.right_qrcode);
  await sharp.close();
});
