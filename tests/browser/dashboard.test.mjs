// The back office's dashboard as an operator uses it, without JavaScript: sign in, find an
// order by its card's last four digits, open its timeline, resend its notice, rotate a
// key, sign out; at desktop and at phone width, in English and in Traditional Chinese.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createOrder, shot, startRun, STORE_UID } from './gateway.mjs';

const PASSWORD = 'a long operator password';
let run, merchant, gateway, browser, uid;

before(async () => {
  run = await startRun(
    [[{ input: `${PASSWORD}\n` }, 'admin', 'add-user', 'olivia', '--role', 'operator', '--password-stdin']],
    { admin: true },
  );
  ({ merchant, gateway, browser } = run);
  const order = await createOrder(gateway.base, { user_id: 'dashboard-shopper', cost: '1200' });
  assert.equal(order.code, '200', JSON.stringify(order));
  uid = order.uid;
  const paid = await fetch(`${gateway.base}/sandbox/orders/${uid}/pay`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ card_number: '4058650600065507', expiry: '1022', cvc: '395' }),
  }).then((r) => r.json());
  assert.equal(paid.prc, '250', JSON.stringify(paid));
  for (let i = 0; i < 100 && merchant.notices.length === 0; i++) await new Promise((ok) => setTimeout(ok, 50));
  assert.equal(merchant.notices.length, 1, 'the paid order notified its merchant');
});

after(() => run?.close());

async function signIn(page, lang) {
  await page.goto(`${gateway.admin}/sign-in?lang=${lang}`);
  await page.fill('#name', 'olivia');
  await page.fill('#password', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(/\/orders$/);
}

/** How far the page is wider than its viewport (0: it fits). */
async function overflow(page) {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

test('an operator at a desk: search by last four, the timeline, a resend, a new key, sign out', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${gateway.admin}/orders`);
  assert.match(page.url(), /\/sign-in$/, 'no session: the sign-in page');
  await page.fill('#name', 'olivia');
  await page.fill('#password', 'not the password');
  await page.click('button[type=submit]');
  assert.ok(await page.getByRole('alert').isVisible(), 'a wrong password is said');
  await signIn(page, 'en');
  await shot(page, '30-dashboard-orders-en-desktop');

  await page.fill('input[name=card_last4]', '5507');
  await page.click('form.filters button[type=submit]');
  const link = page.locator(`a[href="/orders/${uid}"]`);
  await link.waitFor();
  assert.equal(await page.locator('tbody tr').count(), 1, 'one order paid with that card');
  await link.click();
  await page.getByRole('heading', { name: `uid ${uid}` }).waitFor();
  const kinds = await page.locator('ol.timeline .kind').allInnerTexts();
  for (const kind of ['request', 'state', 'notice_attempt']) {
    assert.ok(kinds.map((k) => k.toLowerCase()).includes(kind), `${kind} in ${kinds}`);
  }
  assert.ok(!(await page.content()).includes('4058650600065507'), 'never the card number');
  await shot(page, '31-dashboard-order-timeline-en-desktop');

  await page.getByRole('button', { name: 'Resend' }).first().click();
  await page.getByText('Sent again.').waitFor();
  assert.equal(merchant.notices.length, 2, 'the acknowledged notice went again');
  const after = await page.locator('ol.timeline .kind').allInnerTexts();
  assert.ok(after.map((k) => k.toLowerCase()).includes('admin'), 'the resend is in the timeline');

  await page.click('nav.main a[href="/merchants"]');
  await page.click(`a[href="/merchants/${STORE_UID}"]`);
  await page.getByRole('button', { name: 'New key' }).click();
  const key = (await page.locator('dd.secret').innerText()).trim();
  assert.match(key, /^[A-Za-z0-9]{32}$/, 'the new key, shown once');
  await page.getByText('Shown this once').waitFor();
  await shot(page, '32-dashboard-new-key-en-desktop');

  await page.goto(`${gateway.admin}/merchants/${STORE_UID}`);
  assert.equal(await page.locator('tbody tr').filter({ hasText: 'valid' }).count() >= 2, true, 'old and new keys overlap');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/sign-in$/);
  await page.goto(`${gateway.admin}/orders/${uid}`);
  assert.match(page.url(), /\/sign-in$/, 'signed out: the pages are closed');
  await context.close();
});

test('the same at phone width, in Traditional Chinese', async () => {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    javaScriptEnabled: false,
    locale: 'zh-TW',
  });
  const page = await context.newPage();
  await signIn(page, 'zh-Hant');
  assert.ok(await page.getByRole('link', { name: '交易' }).isVisible());
  assert.ok((await overflow(page)) <= 0, 'the page fits a phone; wide tables scroll inside it');
  await shot(page, '33-dashboard-orders-zh-phone');
  await page.goto(`${gateway.admin}/orders/${uid}`);
  await page.getByRole('heading', { name: '歷程' }).waitFor();
  assert.ok((await overflow(page)) <= 0, 'the timeline fits a phone');
  await shot(page, '34-dashboard-order-timeline-zh-phone');
  await page.goto(`${gateway.admin}/audit`);
  await page.getByText('稽核鏈完整。').waitFor();
  await shot(page, '35-dashboard-audit-zh-phone');
  await context.close();
});
