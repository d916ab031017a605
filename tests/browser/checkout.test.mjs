// The checkout page at phone width, as a consumer meets it: one way to pay at a time,
// the card form's fields whole, the instalment count only for instalments, a declined
// card answered with "try another card", and the result told in the consumer's language.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createOrder, shot, startRun } from './gateway.mjs';

let run, merchant, gateway, browser;

before(async () => {
  run = await startRun();
  ({ merchant, gateway, browser } = run);
});

after(() => run?.close());

const PHONE = { viewport: { width: 390, height: 844 }, javaScriptEnabled: false };

/** Open groups, checked radios, and the page's height. */
async function layout(page) {
  return page.evaluate(() => ({
    open: [...document.querySelectorAll('details.choice')].filter((d) => d.open).map((d) => d.id),
    groups: [...document.querySelectorAll('details.choice')].map((d) => d.id),
    checked: [...document.querySelectorAll('input[type=radio]:checked')].map((r) => r.value),
    height: document.documentElement.scrollHeight,
  }));
}

test('every tool on a phone: one way to pay at a time, and the card form whole', async () => {
  const order = await createOrder(gateway.base, { pfn: '0', user_id: 'phone-all-tools' });
  assert.equal(order.code, '200');
  const context = await browser.newContext(PHONE);
  const page = await context.newPage();
  await page.goto(`${order.url}?locale=en`);
  await page.getByText('Credit or debit card').waitFor();

  const first = await layout(page);
  assert.deepEqual(first.groups, ['cards', 'wallets', 'pay-later']);
  assert.deepEqual(first.open, ['cards'], 'one group open: the cards');
  assert.deepEqual(first.checked, ['CREDITCARD'], 'one choice made for the consumer, in the open group');
  assert.ok(first.height < 1400, `a phone's page of one choice, not every form stacked: ${first.height} px`);
  await shot(page, '12-checkout-every-tool-en-phone');

  // The expiry field shows its whole placeholder at phone width.
  const expiry = await page.evaluate(() => {
    const input = document.getElementById('expiry');
    const style = getComputedStyle(input);
    const probe = document.createElement('span');
    probe.textContent = input.placeholder;
    probe.style.font = style.font;
    probe.style.position = 'absolute';
    probe.style.whiteSpace = 'pre';
    document.body.appendChild(probe);
    const text = probe.getBoundingClientRect().width;
    probe.remove();
    const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return { placeholder: input.placeholder, text, room };
  });
  assert.ok(expiry.text <= expiry.room, `the expiry placeholder fits: ${JSON.stringify(expiry)}`);
  assert.match(await page.locator('#expiry-example').innerText(), /1228/);

  // The instalment count shows only while instalments are the tool chosen.
  assert.equal(await page.locator('#installment').isVisible(), false, 'no instalments for a plain card');
  await page.locator('#cards .tools label', { hasText: 'Card instalments' }).click();
  assert.equal(await page.locator('#installment').isVisible(), true, 'instalments chosen: their count');
  await shot(page, '13-checkout-instalments-en-phone');

  // Opening another group closes the cards: one choice at a time.
  await page.locator('#wallets > summary').click();
  const second = await layout(page);
  assert.deepEqual(second.open, ['wallets']);
  assert.equal(await page.locator('#card_number').isVisible(), false);
  await shot(page, '14-checkout-wallets-en-phone');
  await context.close();
});

test('a declined card is answered with "try another card", and the next card pays', async () => {
  const order = await createOrder(gateway.base, { success_returl: `${merchant.base}/thanks`, user_id: 'declined-once' });
  const context = await browser.newContext(PHONE);
  const page = await context.newPage();
  await page.goto(`${order.url}?locale=en`);
  const pay = async (card) => {
    await page.fill('#card_number', card);
    await page.fill('#expiry', '1230');
    await page.fill('#cvc', '123');
    await page.getByRole('button', { name: /Pay now/ }).click();
  };
  await pay('4000 0000 0000 0002');
  await page.getByRole('alert').waitFor();
  assert.match(await page.getByRole('alert').innerText(), /declined\. Try another card; cards left: 2/);
  assert.deepEqual((await layout(page)).open, ['cards'], 'the card form, open for another card');
  await shot(page, '15-declined-try-another-card-en-phone');

  await pay('4111 1111 1111 1111');
  await page.locator('#result-title').waitFor();
  assert.equal(await page.locator('#result-title').innerText(), 'Payment successful');
  await context.close();
});

test('the third declined card fails the order, told in the consumer\'s language', async () => {
  const order = await createOrder(gateway.base, { failure_returl: `${merchant.base}/sorry`, user_id: 'declined-thrice' });
  const context = await browser.newContext(PHONE);
  const page = await context.newPage();
  await page.goto(`${order.url}?locale=en`);
  for (let i = 0; i < 3; i++) {
    await page.fill('#card_number', '4000000000000002');
    await page.fill('#expiry', '1230');
    await page.fill('#cvc', '123');
    await page.getByRole('button', { name: /Pay now/ }).click();
    await page.locator('#result-title, [role=alert]').first().waitFor();
  }
  await page.locator('#result-title').waitFor();
  assert.equal(await page.locator('#result-title').innerText(), 'Payment failed');
  assert.equal(await page.locator('#result-reason').innerText(), "Declined by the card's issuer");
  const text = await page.locator('main').innerText();
  assert.doesNotMatch(text, /300|Status|發卡行/, `no state code and no Chinese on an English page: ${text}`);
  assert.ok(await page.locator('a.button#back-to-store').isVisible(), 'back to the shop, as a button');
  await shot(page, '16-declined-three-times-en-phone');
  await context.close();

  // The merchant hears of the order's end once: the failed payment.
  for (let i = 0; i < 100 && !merchant.notices.some((n) => n.get('uid') === String(order.uid)); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const notices = merchant.notices.filter((n) => n.get('uid') === String(order.uid));
  assert.equal(notices.length, 1);
  assert.equal(notices[0].get('prc'), '300');
});

test('a paid order\'s result page in English shows no state code and no Chinese', async () => {
  const order = await createOrder(gateway.base, { user_id: 'paid-in-english' });
  const context = await browser.newContext(PHONE);
  const page = await context.newPage();
  await page.goto(`${order.url}?locale=en`);
  await page.fill('#card_number', '4111111111111111');
  await page.fill('#expiry', '1230');
  await page.fill('#cvc', '123');
  await page.getByRole('button', { name: /Pay now/ }).click();
  await page.locator('#result-title').waitFor();
  const text = await page.locator('main').innerText();
  assert.doesNotMatch(text, /250|Status|付款成功/, `no state code and no Chinese: ${text}`);
  await shot(page, '17-paid-en-phone');
  await context.close();
});
