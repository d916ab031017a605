// The PayPage in a real browser: a consumer pays with a 3-D Secure test card, from the
// merchant's link to the redirect back to the shop, and the merchant receives the notice.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createOrder, shot, startRun } from './gateway.mjs';

let run, merchant, gateway, browser;

before(async () => {
  run = await startRun();
  ({ merchant, gateway, browser } = run);
});

after(() => run?.close());

test('a consumer pays with a 3D card on a phone and lands back at the shop', async () => {
  const order = await createOrder(gateway.base, {
    success_returl: `${merchant.base}/thanks`,
    failure_returl: `${merchant.base}/sorry`,
  });
  assert.equal(order.code, '200');
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, javaScriptEnabled: false });
  const page = await context.newPage();

  await page.goto(order.url);
  assert.equal(await page.locator('html').getAttribute('lang'), 'zh-Hant-TW');
  await page.getByRole('link', { name: 'English' }).click();
  await page.getByText('Pay now').waitFor();
  await page.fill('#card_number', '4938 1701 3000 0003');
  await page.fill('#expiry', '1228');
  await page.fill('#cvc', '985');
  await shot(page, '1-checkout-en-mobile');
  await page.getByRole('button', { name: /Pay now/ }).click();

  await page.getByRole('heading', { name: '3-D Secure' }).waitFor();
  assert.match(await page.content(), /493817\*{6}0003/);
  assert.doesNotMatch(await page.content(), /4938170130000003/);
  await page.fill('#otp', 'wrong');
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByRole('alert').waitFor();
  assert.match(await page.getByRole('alert').innerText(), /Wrong 3-D Secure password; tries left: 2/);
  await page.fill('#otp', 'nccc1234');
  await shot(page, '2-otp');
  await page.getByRole('button', { name: 'Confirm' }).click();

  await page.locator('#result-title').waitFor();
  assert.equal(await page.locator('#result-title').innerText(), 'Payment successful');
  await shot(page, '3-result');

  // The meta refresh takes the consumer back, with no result parameters.
  await page.waitForURL(`${merchant.base}/thanks`, { timeout: 10000 });
  assert.equal(new URL(page.url()).search, '');
  await shot(page, '4-back-at-shop', 1000);
  await context.close();

  // The merchant's server got the result notice.
  for (let i = 0; i < 100 && merchant.notices.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  const notice = merchant.notices.find((n) => n.get('uid') === String(order.uid));
  assert.ok(notice, 'the notice arrived');
  assert.equal(notice.get('key'), order.key);
  assert.equal(notice.get('prc'), '250');
  assert.equal(notice.get('cardno'), '493817******0003');
  assert.equal(notice.get('cost'), '1200');
});

test('the checkout page on a desktop, in Traditional Chinese', async () => {
  const order = await createOrder(gateway.base, { pfn: '0', user_id: 'desktop-zh' });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await page.goto(order.url);
  await page.getByText('確認付款').first().waitFor();
  const tools = await page.locator('input[name=pfn]').evaluateAll((els) => els.map((e) => e.value));
  assert.ok(tools.includes('CREDITCARD') && tools.includes('AMEX'), `card tools offered: ${tools}`);
  await shot(page, '5-checkout-zh-TW-desktop');
  await context.close();
});

test('a consumer takes a convenience-store code with its barcodes and the merchant hears of it', async () => {
  const order = await createOrder(gateway.base, { pfn: 'CSTORECODE' });
  assert.equal(order.code, '200');
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(order.url);
  // Only the pay-later form: the order preselects CSTORECODE.
  assert.equal(await page.locator('#card_number').count(), 0);
  await page.getByRole('button', { name: '取得繳費資訊' }).click();

  await page.locator('#payment-details').waitFor();
  // The page's images included: a loaded machine takes longer to serve them.
  await page.waitForLoadState('load');
  assert.equal(await page.locator('#result-title').innerText(), '請於期限內完成繳費');
  const pin = await page.locator('#pin-code').innerText();
  assert.match(pin, /^MYP\d{11}$/);
  const barcodes = page.locator('.barcode img');
  assert.equal(await barcodes.count(), 3);
  // Every barcode image loaded and has a barcode's proportions.
  const sizes = await barcodes.evaluateAll((imgs) => imgs.map((i) => [i.complete, i.naturalWidth, i.naturalHeight]));
  for (const [complete, w, h] of sizes) {
    assert.ok(complete && w > 200 && h === 60, `barcode image loaded: ${[complete, w, h]}`);
  }
  await shot(page, '6-cvs-code-with-barcodes');
  await context.close();

  for (let i = 0; i < 100 && !merchant.notices.some((n) => n.get('uid') === String(order.uid)); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const notice = merchant.notices.find((n) => n.get('uid') === String(order.uid));
  assert.ok(notice, 'the 非即時 notice arrived');
  assert.equal(notice.get('prc'), '260');
  assert.equal(notice.get('result_content_type'), 'IBON');
  assert.equal(JSON.parse(notice.get('result_content')).PinCode, pin);
});

test('a consumer pays with an online wallet: QR page, confirmation in the wallet, back at the shop', async () => {
  const order = await createOrder(gateway.base, { pfn: '0', user_id: 'wallet-payer', success_returl: `${merchant.base}/thanks` });
  assert.equal(order.code, '200');
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${order.url}?locale=en`);
  const wallets = page.locator('#wallets');
  await wallets.locator('summary').click();
  await wallets.locator('input[value=LINEPAYON]').check();
  await wallets.getByRole('button', { name: 'Continue' }).click();

  await page.locator('#wallet-title').waitFor();
  assert.match(await page.locator('#wallet-title').innerText(), /LINE Pay/);
  const qr = await page.locator('.qr svg').boundingBox();
  assert.ok(qr && qr.width >= 190 && Math.abs(qr.width - qr.height) < 2, `a square QR code: ${JSON.stringify(qr)}`);
  await shot(page, '7-wallet-qr');
  await page.getByRole('button', { name: 'Confirm in the wallet (sandbox)' }).click();

  await page.locator('#result-title').waitFor();
  assert.equal(await page.locator('#result-title').innerText(), 'Payment successful');
  await page.waitForURL(`${merchant.base}/thanks`, { timeout: 10000 });
  await context.close();

  for (let i = 0; i < 100 && !merchant.notices.some((n) => n.get('uid') === String(order.uid)); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const notice = merchant.notices.find((n) => n.get('uid') === String(order.uid));
  assert.ok(notice, 'the notice arrived');
  assert.equal(notice.get('prc'), '250');
  assert.equal(notice.get('pfn'), 'LINEPAYON');
});

test('the pages keep to their Content-Security-Policy and are styled by the served stylesheet', async () => {
  const order = await createOrder(gateway.base, { user_id: 'csp-check' });
  assert.equal(order.code, '200');
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  const violations = [];
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()); });
  const response = await page.goto(`${order.url}?locale=en`);
  const csp = response.headers()['content-security-policy'];
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  await page.getByText('Pay now').waitFor();
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(background, 'rgb(245, 247, 250)', 'the stylesheet applied');
  assert.deepEqual(violations, [], 'no Content-Security-Policy violations');
  // Without the ticket's token the page does not exist.
  const bare = await page.goto(`${gateway.base}/payment/${order.uid}.html`);
  assert.equal(bare.status(), 404);
  await context.close();
});
