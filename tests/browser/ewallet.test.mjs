// The e-wallet in a real browser: a consumer binds a 3-D Secure card on the bind page and
// goes back to the shop, the merchant hears the virtual card number, and a later order
// is paid with the saved card in one click.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { callApi, createOrder, shot, startRun } from './gateway.mjs';

let run, merchant, gateway, browser;

before(async () => {
  run = await startRun();
  ({ merchant, gateway, browser } = run);
});

after(() => run?.close());

test('a consumer binds a 3D card on the bind page, then pays an order with it in one click', async () => {
  const bind = await callApi(gateway.base, 'api/ewalletbind', {
    user_id: 'browser-test',
    user_cellphone_code: '886',
    user_cellphone: '918123123',
    pfn: 'CREDITCARD',
    ip: '127.0.0.1',
    success_returl: `${merchant.base}/bound`,
    failure_returl: `${merchant.base}/not-bound`,
  });
  assert.equal(bind.code, 'B200', JSON.stringify(bind));
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(bind.url);
  await page.getByRole('heading', { name: '綁定信用卡' }).waitFor();
  await page.getByRole('link', { name: 'English' }).click();
  await page.getByRole('heading', { name: 'Save a card' }).waitFor();
  await page.fill('#card_number', '4938 1701 3000 0003');
  await page.fill('#expiry', '1228');
  await page.fill('#cvc', '985');
  await shot(page, '8-ewallet-bind-en-mobile');
  await page.getByRole('button', { name: 'Save this card' }).click();
  await page.getByRole('heading', { name: '3-D Secure' }).waitFor();
  assert.doesNotMatch(await page.content(), /4938170130000003/);
  await page.fill('#otp', 'nccc1234');
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByRole('heading', { name: 'Your card is saved' }).waitFor();
  assert.match(await page.content(), /493817\*{6}0003/);
  // Back to the shop: the PayPage's button, not a bare link.
  assert.ok(await page.locator('a.button#back-to-store').isVisible(), 'back to the shop, as a button');
  await shot(page, '9-ewallet-bound');
  await page.waitForURL(`${merchant.base}/bound`, { timeout: 10000 });

  // The merchant's server got the virtual card number, with no uid or key.
  let notice;
  for (let i = 0; i < 100 && !notice; i++) {
    notice = merchant.notices.find((n) => n.has('virtual_pan'));
    if (!notice) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(notice, 'the e-wallet notice arrived');
  assert.equal(notice.get('user_id'), 'browser-test');
  assert.equal(notice.get('cardno'), '493817******0003');
  assert.equal(notice.get('enable'), '1');
  assert.equal(notice.has('uid'), false);
  const virtualPan = notice.get('virtual_pan');
  assert.match(virtualPan, /^9\d{15}$/);

  // A later order with the saved card: one click, no card form to fill.
  const order = await createOrder(gateway.base, {
    enable_ewallet: 1,
    virtual_pan: virtualPan,
    ewallet_type: 1,
    success_returl: `${merchant.base}/thanks`,
  });
  assert.equal(order.code, '200', JSON.stringify(order));
  await page.goto(`${order.url}?locale=en`);
  // Named as the e-wallet's card, open as the first way to pay.
  await page.locator('#saved > summary', { hasText: 'Your e-wallet card' }).waitFor();
  assert.equal(await page.locator('#saved .saved-card').innerText(), '493817******0003');
  await shot(page, '10-paypage-saved-card');
  await page.getByRole('button', { name: /Pay with this card/ }).click();
  await page.locator('#result-title').waitFor();
  assert.equal(await page.locator('#result-title').innerText(), 'Payment successful');
  await shot(page, '11-paid-with-saved-card');
  await context.close();
  for (let i = 0; i < 100 && !merchant.notices.some((n) => n.get('uid') === String(order.uid)); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const paid = merchant.notices.find((n) => n.get('uid') === String(order.uid));
  assert.ok(paid, 'the payment notice arrived');
  assert.equal(paid.get('prc'), '250');
});
